#!/bin/sh
# The README's start command: install, then `bonemets run` on the embedded default (a SQLite file and
# an embedded broker under ./var; neither Redis nor PostgreSQL needed). Ctrl-C stops API and worker.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/bonemets run "$@"
