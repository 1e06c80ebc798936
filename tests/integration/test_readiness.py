"""Readiness tells the truth, and a request that cannot be queued is a 503 of its own that leaves nothing behind
(issue 10): the database, the audit writer and the broker are each checked and named when they fail, within a
bounded time whatever hangs; the workers alive are listed by their heartbeats, and none alive is reported as
degraded, never as not ready (issue 15)."""

import shutil
import socket
import subprocess
import time
from dataclasses import replace

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from api.app import create_app
from infra.db import make_engine
from infra.tables import BulkJob, BulkLine, Report, WorkerHeartbeat
from tests.conftest import Keys
from tests.integration.workers import wait_for
from tests.proxy import CuttableProxy

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def count(url, table):
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return n


def test_ready_names_every_part_when_all_serve(client):
    r = client.get("/health/ready")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "broker": "ok", "audit_writer": "ok"}
    # no worker runs here: the API serves every synchronous answer, and says that queued work waits
    assert r.json()["status"] == "degraded" and r.json()["workers"] == []
    assert r.json()["notices"]["workers"].startswith("no worker seen in the last 30 s")


def test_ready_is_503_naming_the_broker_when_it_cannot_be_reached(settings, keys):
    with TestClient(create_app(replace(settings, broker_url=DEAD_BROKER), configure_logs=False)) as client:
        r = client.get("/health/ready")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == "/problems/not-ready" and "broker" in body["detail"]
    assert body["checks"]["broker"].startswith("unavailable") and body["checks"]["database"] == "ok"


@pytest.mark.postgres
def test_ready_is_503_naming_the_database_and_the_writer_when_postgres_is_cut(postgres_server, tmp_path):
    from infra.keys import create_key
    from infra.migrate import migrate
    from infra.settings import load_settings
    from tests.conftest import PSEUDONYM_KEY, SIGNING_KEY, _reset_postgres

    _reset_postgres(postgres_server)
    engine = make_engine(postgres_server)
    migrate(engine)
    key = create_key(engine, "hospital-a", ("scoring",))
    engine.dispose()
    proxy = CuttableProxy("127.0.0.1", 5432)
    url = postgres_server.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    settings = load_settings({"BONEMETS_DATABASE_URL": url, "BONEMETS_VAR_DIR": str(tmp_path / "var"),
                              "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY, "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY,
                              "BONEMETS_LOG_FORMAT": "json"})
    tomita = {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}
    with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
        assert client.post("/v1/scores/tomita", json=tomita, headers=Keys.header(key)).status_code == 200
        assert client.get("/health/ready").status_code == 200
        proxy.cut()
        assert client.post("/v1/scores/tomita", json=tomita, headers=Keys.header(key)).status_code == 503
        r = wait_for(lambda: _not_ready(client, "database"), timeout=10, what="readiness naming the database")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"].startswith("unavailable") and checks["audit_writer"].startswith("unavailable")
    assert "database" in r.json()["detail"] and "audit_writer" in r.json()["detail"]


def test_a_bulk_job_that_cannot_be_queued_is_503_and_leaves_no_job(settings, keys):
    with TestClient(create_app(replace(settings, broker_url=DEAD_BROKER), configure_logs=False),
                    raise_server_exceptions=False) as client:
        r = client.post("/v1/bulk-jobs", content=b'{"kind":"tomita","growth":"rapid","visceral_metastases":"none",'
                        b'"bone_metastases":"multiple"}\n', headers={**Keys.header(keys.registry),
                                                                     "Content-Type": "application/x-ndjson"})
    assert r.status_code == 503 and r.json()["type"] == "/problems/broker-unavailable"
    assert r.headers["retry-after"] == "5"
    assert count(settings.database_url, BulkJob) == 0 and count(settings.database_url, BulkLine) == 0


def test_a_report_that_cannot_be_queued_is_503_and_leaves_no_report(settings, keys):
    with TestClient(create_app(replace(settings, broker_url=DEAD_BROKER), configure_logs=False),
                    raise_server_exceptions=False) as client:
        scored = client.post("/v1/scores/tomita", json={"growth": "rapid", "visceral_metastases": "none",
                                                        "bone_metastases": "multiple"},
                             headers=Keys.header(keys.scoring))
        r = client.post("/v1/reports", json={"audit_id": scored.json()["audit_id"]},
                        headers=Keys.header(keys.scoring))
    assert scored.status_code == 200
    assert r.status_code == 503 and r.json()["type"] == "/problems/broker-unavailable"
    assert count(settings.database_url, Report) == 0


def _not_ready(client, part):
    """The readiness answer once it names `part` as failing (its checks are reused for a couple of seconds)."""
    r = client.get("/health/ready")
    return r if r.status_code == 503 and part in r.json()["detail"] else None


@pytest.fixture
def fast_heartbeats(bulk_env):
    """Heartbeats every 0.5 s (readiness lists the workers seen in the last 1.5 s), for the worker and the API
    started after this fixture."""
    bulk_env["BONEMETS_WORKER_HEARTBEAT_S"] = "0.5"
    return bulk_env


def _workers(client):
    r = client.get("/health/ready")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.postgres
def test_a_running_worker_is_listed_by_its_heartbeat_and_a_stopped_one_no_longer(fast_heartbeats, worker,
                                                                                 bulk_client):
    seen = wait_for(lambda: _workers(bulk_client)["workers"], timeout=60, what="the worker's first heartbeat")
    assert len(seen) == 1 and seen[0]["name"].startswith("celery@") and seen[0]["pid"] > 1
    assert 0 <= seen[0]["last_seen_s"] <= 1.5
    body = _workers(bulk_client)
    assert body["status"] == "ok" and "workers" not in body["notices"]
    worker.stop()  # a clean stop removes its heartbeat: gone at the next check, not three periods later
    assert heartbeat_rows(bulk_client) == 0
    gone = wait_for(lambda: _without_workers(bulk_client), timeout=10, what="the stopped worker to disappear")
    assert gone["status"] == "degraded" and gone["notices"]["workers"].startswith("no worker seen in the last 1.5 s")


@pytest.mark.postgres
def test_a_killed_worker_disappears_once_its_heartbeats_are_older_than_the_window(fast_heartbeats, worker,
                                                                                  bulk_client):
    wait_for(lambda: _workers(bulk_client)["workers"], timeout=60, what="the worker's first heartbeat")
    worker.kill()  # no shutdown: its row stays behind, only its age tells
    killed_at = time.monotonic()
    wait_for(lambda: not _workers(bulk_client)["workers"], timeout=15, what="the killed worker to disappear")
    assert time.monotonic() - killed_at >= 1.0  # listed while its last heartbeat was within the window
    assert heartbeat_rows(bulk_client) == 1  # its row is still there: gone from readiness by its age alone


def heartbeat_rows(client) -> int:
    return count(client.engine_url, WorkerHeartbeat)


def _without_workers(client):
    body = _workers(client)
    return None if body["workers"] else body


def _redis_server(port):
    return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_broker_that_goes_away_is_named_and_one_that_hangs_answers_within_the_bound(settings, keys):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = _redis_server(port)
    try:
        wait_for(lambda: _pings(port), timeout=10, what="the test's own Redis")
        with TestClient(create_app(replace(settings, broker_url=f"redis://127.0.0.1:{port}/0"),
                                   configure_logs=False)) as client:
            assert client.get("/health/ready").json()["checks"]["broker"] == "ok"
            server.terminate()
            server.wait(timeout=10)
            r = wait_for(lambda: _not_ready(client, "broker"), timeout=10, what="readiness naming the broker")
    finally:
        if server.poll() is None:
            server.kill()
    assert r.json()["checks"]["broker"].startswith("unavailable") and r.json()["checks"]["database"] == "ok"
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never says a word
        hung = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        with TestClient(create_app(replace(settings, broker_url=hung), configure_logs=False)) as client:
            started = time.monotonic()
            r = client.get("/health/ready")
            took = time.monotonic() - started
    assert r.status_code == 503 and r.json()["checks"]["broker"] == "unavailable (no answer within 2 s)"
    assert took < 3.0, took


@pytest.mark.postgres
def test_a_database_that_hangs_is_named_within_the_bound(proxied_postgres, tmp_path):
    settings = proxied_postgres.settings(tmp_path / "var")
    with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
        assert client.get("/health/ready").json()["checks"]["database"] == "ok"
        time.sleep(2.1)  # past the reuse of those checks
        proxied_postgres.proxy.fault("drop", 30)  # every byte lost, connections left open: a query waits for ever
        started = time.monotonic()
        r = client.get("/health/ready")
        took = time.monotonic() - started
    assert r.status_code == 503 and r.json()["checks"]["database"] == "unavailable (no answer within 2 s)"
    assert r.json()["notices"]["workers"] == "workers unknown: the database does not answer"
    assert took < 3.0, took


def _pings(port):
    import redis

    try:
        return redis.Redis(port=port, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
