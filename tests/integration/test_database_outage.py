"""The database lost under a bulk submission: connections the server ended are replaced, and a connection that
breaks mid-request is a 503 with Retry-After that keeps nothing — never a 500 (a database outage is the service's,
not the client's)."""

import json

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.app import create_app
from domain.kinds import KINDS
from infra.db import make_engine
from infra.keys import create_key
from infra.settings import load_settings
from tests.conftest import APP_ROLE, Keys
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.postgres
NDJSON = {"content-type": "application/x-ndjson"}
BODY = "\n".join(json.dumps({"kind": "sins", "line_id": f"r{i}", **KINDS["sins"].example})
                 for i in range(300)).encode()


def counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        jobs = conn.execute(text("SELECT count(*) FROM bulk_job")).scalar_one()
        submitted = conn.execute(text("SELECT count(*) FROM audit_record WHERE action = 'job.submitted'")).scalar_one()
    engine.dispose()
    return jobs, submitted


def test_connections_the_server_ended_are_replaced_and_the_next_submission_is_accepted(bulk_env, postgres_server):
    settings = load_settings(bulk_env)
    engine = make_engine(postgres_server)
    key = create_key(engine, "registry-b", ("registry",))
    with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
        assert client.post("/v1/bulk-jobs", content=BODY, headers={**Keys.header(key), **NDJSON}).status_code == 202
        with engine.connect() as conn:  # what a schema reset, a failover or an idle timeout does to them
            killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                       "WHERE usename = :role"), {"role": APP_ROLE}).scalar_one()
        assert killed >= 2  # the pool's and the audit writer's
        r = client.post("/v1/bulk-jobs", content=BODY, headers={**Keys.header(key), **NDJSON})
        assert r.status_code == 202, r.text
    assert counts(postgres_server) == (2, 2)
    engine.dispose()


@pytest.mark.parametrize("trigger", [b"INSERT INTO bulk_job", b"COPY bulk_line", b"audit_head"])
def test_a_connection_broken_mid_submission_is_a_503_that_keeps_nothing(bulk_env, postgres_server, trigger):
    proxy = FaultProxy(("127.0.0.1", 5432))
    url = make_url(bulk_env["BONEMETS_DATABASE_URL"]).set(host="127.0.0.1", port=proxy.port)
    settings = load_settings({**bulk_env, "BONEMETS_DATABASE_URL": url.render_as_string(hide_password=False)})
    engine = make_engine(postgres_server)
    key = create_key(engine, "registry-b", ("registry",))
    try:
        with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
            assert client.get("/v1/bulk-jobs", headers=Keys.header(key)).status_code == 200  # the key is known
            proxy.arm("reset", 3, trigger=trigger)
            r = client.post("/v1/bulk-jobs", content=BODY, headers={**Keys.header(key), **NDJSON,
                                                                    "accept-language": "fr"})
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "5" and r.json()["status"] == 503
            proxy.wait_healed()
            assert counts(postgres_server) == (0, 0)  # nothing half-made
            r = client.post("/v1/bulk-jobs", content=BODY, headers={**Keys.header(key), **NDJSON})
            assert r.status_code == 202, r.text
        assert counts(postgres_server) == (1, 1)
    finally:
        proxy.close()
        engine.dispose()


def test_a_job_left_by_a_long_outage_is_never_run_and_a_retry_with_its_key_audits_it(bulk_env, postgres_server):
    """The outage outlasts the withdrawal's retries: the refused job stays, without its submission record. The
    client's retry with the same Idempotency-Key finds it and audits it before it is queued; one never retried is
    removed by the reconciler (tests/integration/test_reconciler.py)."""
    proxy = FaultProxy(("127.0.0.1", 5432))
    url = make_url(bulk_env["BONEMETS_DATABASE_URL"]).set(host="127.0.0.1", port=proxy.port)
    settings = load_settings({**bulk_env, "BONEMETS_DATABASE_URL": url.render_as_string(hide_password=False)})
    engine = make_engine(postgres_server)
    key = create_key(engine, "registry-b", ("registry",))
    headers = {**Keys.header(key), **NDJSON, "idempotency-key": "upload-7"}
    try:
        with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
            assert client.get("/v1/bulk-jobs", headers=Keys.header(key)).status_code == 200
            proxy.arm("reset", 6, trigger=b"audit_head")
            assert client.post("/v1/bulk-jobs", content=BODY, headers=headers).status_code == 503
            proxy.wait_healed()
            assert counts(postgres_server) == (1, 0)  # left behind, unaudited: the reconciler's to remove
            r = client.post("/v1/bulk-jobs", content=BODY, headers=headers)
            assert r.status_code == 202, r.text
        assert counts(postgres_server) == (1, 1)
        with engine.connect() as conn:
            audited_job = conn.execute(text("SELECT job_id FROM audit_record WHERE action = 'job.submitted'"))
            assert audited_job.scalar_one() == r.json()["id"]
    finally:
        proxy.close()
        engine.dispose()


@pytest.mark.parametrize("trigger", [b"COPY bulk_result", b"audit_head"])
def test_a_workers_connection_broken_mid_chunk_is_retried_at_once_and_every_line_ends_once(
        bulk_env, postgres_server, tmp_path, trigger):
    """A chunk's commit speaks to the driver itself (infra.jobs.commit_chunk): a connection the network breaks
    under it is the driver's own error, and the task retries it with backoff like SQLAlchemy's — not after the
    reconciler's two idle minutes. Every line still ends with one result and one audit record."""
    from tests.integration.workers import WorkerProcess, wait_for

    proxy = FaultProxy(("127.0.0.1", 5432))
    url = make_url(bulk_env["BONEMETS_DATABASE_URL"]).set(host="127.0.0.1", port=proxy.port)
    worker_env = {**bulk_env, "BONEMETS_DATABASE_URL": url.render_as_string(hide_password=False)}
    settings = load_settings(bulk_env)  # the API straight to the database: only the worker's connection breaks
    engine = make_engine(postgres_server)
    key = create_key(engine, "registry-b", ("registry",))
    worker = WorkerProcess(worker_env, tmp_path / "worker.log").start()
    try:
        with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
            proxy.arm("reset", 0.5, trigger=trigger)
            r = client.post("/v1/bulk-jobs", content=BODY, headers={**Keys.header(key), **NDJSON})
            assert r.status_code == 202, r.text
            location = r.headers["location"]

            def finished():
                status = client.get(location, headers=Keys.header(key)).json()
                return status if status["status"] != "running" and status["status"] != "queued" else None

            status = wait_for(finished, 45, interval=0.25, what="the job to finish despite the broken connection")
            assert not proxy.faulty() and proxy._trigger is None, "the fault must have fired"
            assert (status["status"], status["done"], status["failed"]) == ("succeeded", 300, 0)
            logged = (tmp_path / "worker.log").read_text().splitlines()
            retries = [line for line in logged if '"task.retry"' in line]
            assert retries and all('"error":"OperationalError"' in line for line in retries), retries
            # a retried chunk is a warning, not an error an operator's alert fires on (the dead connection is
            # discarded, not reset by the pool)
            assert not [line for line in logged if '"level":"error"' in line]
        with engine.connect() as conn:
            records = conn.execute(text("SELECT count(*), count(DISTINCT id) FROM audit_record "
                                        "WHERE action = 'score.computed'")).one()
            stored = conn.execute(text("SELECT count(*) FROM bulk_result")).scalar_one()
        assert tuple(records) == (300, 300) and stored == 300
        from infra import audit

        assert audit.verify(engine).intact
    finally:
        worker.stop()
        proxy.close()
        engine.dispose()
