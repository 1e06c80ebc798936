"""The embedded default's worker really consumes tasks from its SQLite broker (no Redis, no PostgreSQL)."""

import subprocess
import sys
import time

from sqlalchemy import create_engine, text

from infra.settings import load_settings
from worker.celery_app import create_celery


def test_embedded_worker_consumes_a_task_from_the_sqlite_broker(tmp_path):
    env = {"BONEMETS_VAR_DIR": str(tmp_path), "BONEMETS_LOG_FORMAT": "json", "PATH": ""}
    settings = load_settings(env, install=True)  # the installation `bonemets migrate` would make
    assert settings.broker_url.startswith("sqla+sqlite:///")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--concurrency", "1"], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        app = create_celery(settings)
        app.send_task("bonemets.ping")
        broker = create_engine(settings.broker_url.removeprefix("sqla+"))
        deadline = time.monotonic() + 60
        pending = None
        while time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
            with broker.connect() as conn:
                pending = conn.execute(text("SELECT count(*) FROM kombu_message WHERE visible = 1")).scalar_one()
            if pending == 0:
                break
        broker.dispose()
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
        assert pending == 0
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        log.close()
