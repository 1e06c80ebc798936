"""structlog configuration: JSON lines in production, console on a TTY; patient identifiers redacted."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import msgspec
import structlog

# Keys that may carry a patient identifier; they are dropped from every event, whatever logs them.
REDACTED_KEYS = frozenset({"patient_ref", "patient", "patient_id", "ipp", "nip"})


def redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in REDACTED_KEYS & event.keys():
        event[key] = "[redacted]"
    return event


_encoder = msgspec.json.Encoder(enc_hook=str)


def _json(event: dict[str, Any], **_kw: Any) -> str:
    return _encoder.encode(event).decode()


def configure_logging(fmt: str, stream: TextIO | None = None) -> None:
    renderer = (structlog.dev.ConsoleRenderer() if fmt == "console"
                else structlog.processors.JSONRenderer(serializer=_json))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Libraries that log through the standard library (uvicorn, celery, alembic) stay at warnings.
    logging.basicConfig(level=logging.WARNING, stream=stream or sys.stderr, force=True)
