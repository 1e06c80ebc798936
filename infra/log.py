"""structlog configuration: JSON lines in production, console on a TTY; patient identifiers redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
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


_configured: dict[str, Any] = {"fmt": "json", "stream": None}


def access_logger() -> Callable[..., None]:
    """`emit(event, **fields)` at info level, for the one line every HTTP exchange logs (issue 14: structlog's
    processor chain cost 19-30 us of a ~200 us audited request). In JSON mode the line is the one that chain makes
    (the bound context vars, the fields, event, level, an ISO UTC timestamp, patient keys redacted; a test holds
    the two equal) written by structlog's own printer for the same stream; otherwise structlog itself."""
    stream = _configured["stream"]
    if _configured["fmt"] != "json" or stream is None:
        bound = structlog.get_logger("bonemets.http").bind()
        return bound.info
    printer = structlog.PrintLogger(file=stream)
    now, utc, context = datetime.now, UTC, structlog.contextvars.get_contextvars

    def emit(event: str, **fields: Any) -> None:  # the chain's steps, in its order
        fields["event"] = event
        for key, value in context().items():  # merge_contextvars
            fields.setdefault(key, value)
        fields["level"] = "info"  # add_log_level
        fields["timestamp"] = now(tz=utc).isoformat().replace("+00:00", "Z")  # TimeStamper(fmt="iso", utc=True)
        printer.msg(_json(redact(None, "info", fields)))  # redact, JSONRenderer(serializer=_json), PrintLogger

    return emit


def configure_logging(fmt: str, stream: TextIO | None = None) -> None:
    _configured.update(fmt=fmt, stream=stream or sys.stdout)
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
    # Libraries that log through the standard library (uvicorn, celery, alembic) stay at warnings; in JSON mode
    # their lines, and Python's warnings, are JSON lines of the same stream as ours (issue 15: one parseable stream)
    if fmt == "console":
        logging.basicConfig(level=logging.WARNING, stream=stream or sys.stderr, force=True)
        return
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.captureWarnings(True)


class JsonFormatter(logging.Formatter):
    """A standard-library log record as one JSON line shaped like structlog's (event, level, logger, timestamp),
    patient identifiers redacted like ours."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event: dict[str, Any] = {"event": record.getMessage().strip(), "level": record.levelname.lower(),
                                 "logger": record.name, "timestamp": when}
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return _json(redact(None, "", event))
