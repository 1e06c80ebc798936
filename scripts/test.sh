#!/bin/sh
# The README's test command: a virtual environment with the project and its dev tools, then lint,
# the architecture contract (import-linter) and the whole test suite. Extra arguments go to pytest.
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
.venv/bin/ruff check .
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
