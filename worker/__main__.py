"""`python -m worker [--concurrency N]`: a Celery worker, settings from the environment. The CLI's `bonemets worker`
and `bonemets run` start this module as a process, so the API package never imports the workers."""

from __future__ import annotations

import argparse
import sys

from infra.log import configure_logging
from infra.settings import SettingsError, load_settings
from worker.celery_app import create_celery


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bonemets worker")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"bonemets: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    quiet = []
    if settings.log_format == "json":  # stdout carries JSON lines only: no banner, Celery's notices logged as JSON
        quiet = ["--quiet"]
        import celery.apps.worker

        celery.apps.worker.safe_say = _say_as_log
    create_celery(settings).worker_main([*quiet, "worker", f"--concurrency={args.concurrency}", "--loglevel=WARNING",
                                         "--without-gossip", "--without-mingle"])
    return 0


def _say_as_log(msg: str, f: object = None) -> None:
    """Celery's own notices (a warm shutdown, a second Ctrl-C), which it writes raw to a terminal: a log line."""
    import logging

    logging.getLogger("celery.worker").warning(msg.strip())


if __name__ == "__main__":
    sys.exit(main())
