"""The access log line's fast path (issue 14) writes the line structlog's configured chain writes: same keys in
the same order, same values, patient keys redacted, context vars merged."""

import io
import json

import structlog

from infra.log import access_logger, configure_logging


def test_the_fast_access_line_is_the_structlog_line():
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    fields = {"method": "POST", "path": "/v1/scores/sins", "status": 200, "duration_ms": 1.25, "request_id": "r1",
              "client": "hospital-a", "score": "sins", "total": 8, "patient_ref": "IPP-0042", "note": "é\"\n"}
    structlog.contextvars.bind_contextvars(tenant="north")
    try:
        structlog.get_logger("bonemets.http").bind().info("http.request", **fields)
        access_logger()("http.request", **dict(fields))
    finally:
        structlog.contextvars.clear_contextvars()
    slow, fast = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(fast) == list(slow) and fast["timestamp"].endswith("Z")
    assert {**fast, "timestamp": None} == {**slow, "timestamp": None}
    assert fast["patient_ref"] == "[redacted]" and fast["tenant"] == "north" and fast["level"] == "info"


def test_outside_json_mode_the_access_line_is_structlog_s():
    configure_logging("console", stream=io.StringIO())
    try:
        emit = access_logger()
        assert getattr(emit, "__self__", None) is not None  # a bound structlog method, not the JSON fast path
    finally:
        configure_logging("json")
