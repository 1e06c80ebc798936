"""In JSON mode every line a worker writes to stdout is a JSON object: no Celery banner, Celery's own notices and
Python's warnings as log lines, nothing on stderr (issue 15: an operator's log pipeline parses one stream)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_in_json_mode_writes_json_lines_only(tmp_path):
    env = {**os.environ, "BONEMETS_VAR_DIR": str(tmp_path), "BONEMETS_LOG_FORMAT": "json"}
    env.pop("BONEMETS_DATABASE_URL", None)
    env.pop("BONEMETS_BROKER_URL", None)
    subprocess.run([sys.executable, "-m", "api.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    worker = subprocess.Popen([sys.executable, "-W", "always::UserWarning", "-m", "worker", "--concurrency", "1"],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(6)  # started: the banner, if any, is out
    worker.send_signal(signal.SIGINT)  # a warm shutdown: Celery's own notices
    out, err = worker.communicate(timeout=60)
    lines = [line for line in out.decode().splitlines() if line.strip()]
    assert lines, "the worker logged nothing: its warm shutdown at least is a line"
    for line in lines:
        event = json.loads(line)  # every line parses
        assert isinstance(event, dict) and "event" in event and "level" in event and "timestamp" in event
    assert any("Warm shutdown" in json.loads(line)["event"] for line in lines)
    assert err.decode().strip() == ""


def test_the_api_keeps_every_librarys_log_lines_json_once_it_has_started(settings, keys):
    """Litestar must not replace the service's logging when the app starts: a library's warning (psycopg's, say)
    is a JSON line of the service's stream, not plain text on stderr (found by an independent review)."""
    import io
    import logging

    from litestar.testing import TestClient

    from api.app import create_app
    from infra.log import configure_logging

    stream = io.StringIO()
    configure_logging("json", stream=stream)
    with TestClient(create_app(settings, configure_logs=False)) as client:
        assert client.get("/health/live").status_code == 200
        logging.getLogger("psycopg").warning("error ignored terminating a pipeline")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    assert {"event": "error ignored terminating a pipeline", "level": "warning", "logger": "psycopg"}.items() <= \
        next(e for e in lines if e.get("logger") == "psycopg").items()
