"""Lost chunks never hang a job (issue 10): a broker restarted without persistence mid-job loses the queued
chunks; the reconciler finds the job idle, enqueues its missing chunks again, and the job completes with exactly
one result and one audit record per line. A job that cannot finish ends failed, with the reason."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time

import pytest
import redis
from sqlalchemy import func, select

from infra import audit, jobs
from infra.audit import new_id
from infra.broker import create_client
from infra.db import make_engine
from infra.reconcile import reconcile
from infra.settings import load_settings
from infra.tables import AuditRecord, BulkResult
from tests.integration.test_audit_chain import free_port
from tests.integration.workers import WorkerProcess, wait_for

LINE = {"kind": "tomita", "growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}


class OwnRedis:
    """A Redis server of the test's own, without persistence, that the test can restart."""

    def __init__(self, tmp) -> None:
        self.port, self._dir = free_port(), tmp

    def start(self) -> OwnRedis:
        subprocess.run([shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes", "--dir",
                        str(self._dir)], check=True)
        wait_for(self.ping, 10, what="redis")
        return self

    def ping(self) -> bool:
        try:
            return redis.Redis(port=self.port, socket_connect_timeout=1).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        with contextlib.suppress(redis.RedisError):
            redis.Redis(port=self.port).shutdown(nosave=True)
        wait_for(lambda: not self.ping(), 10, what="redis to stop")


def submit(settings, engine, body: bytes) -> str:
    """Through the API, in process, as a registry would."""
    from litestar.testing import TestClient

    from api.app import create_app
    from infra.keys import create_key

    key = create_key(engine, "registry-b", ("registry",))
    with TestClient(create_app(settings, configure_logs=False)) as client:
        r = client.post("/v1/bulk-jobs", content=body, headers={"Authorization": f"Bearer {key}",
                                                                 "Content-Type": "application/x-ndjson"})
    assert r.status_code == 202, r.text
    return r.json()["id"]


@pytest.mark.postgres
@pytest.mark.redis
def test_a_broker_restarted_without_persistence_mid_job_does_not_hang_the_job(bulk_env, tmp_path):
    broker = OwnRedis(tmp_path).start()
    env = {**bulk_env, "BONEMETS_BROKER_URL": f"redis://127.0.0.1:{broker.port}/0", "BONEMETS_BULK_CHUNK_SIZE": "100",
           "BONEMETS_RECONCILE_AFTER_S": "3", "BONEMETS_RECONCILE_INTERVAL_S": "1"}
    settings = load_settings(env)
    engine = make_engine(settings.database_url)
    worker = WorkerProcess(env, tmp_path / "worker.log", concurrency=1).start()
    try:
        job_id = submit(settings, engine, "\n".join(json.dumps(LINE) for _ in range(6000)).encode())
        wait_for(lambda: (jobs.get_job(engine, job_id).done or 0) >= 300, 60, what="the first lines")
        broker.stop()  # every queued chunk is lost with it
        broker.start()
        job = wait_for(lambda: (j := jobs.get_job(engine, job_id)).status == "succeeded" and j, 120,
                       what="the job to finish after the restart")
        assert job.done == 6000 and job.requeued >= 1
        with engine.connect() as conn:
            results = conn.execute(select(func.count()).select_from(BulkResult).where(
                BulkResult.job_id == job_id)).scalar_one()
            records = conn.execute(select(func.count()).select_from(AuditRecord).where(
                AuditRecord.job_id == job_id, AuditRecord.action == "score.computed")).scalar_one()
        assert (results, records) == (6000, 6000)
        assert audit.verify(engine).intact
    finally:
        worker.stop()
        broker.stop()
        engine.dispose()


def audited(engine, job_id: str) -> None:
    """The submission's audit record, as the API writes it before it answers 202."""
    writer = audit.AuditWriter(engine)
    writer.start()
    try:
        writer.append(audit.entry(client="registry-b", roles="registry", endpoint="POST /v1/bulk-jobs",
                                  action="job.submitted", request_id="r", inputs={}, output={}, job_id=job_id))
    finally:
        writer.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_job_whose_submission_was_never_audited_is_removed_not_run(settings, engine):
    """A job stored, then refused (503) because its submission's audit record could not be written, and left behind
    because the outage also kept it from being removed: the reconciler removes it, never enqueues it."""
    spool = jobs.Spool(1 << 20)
    spool.add(json.dumps(LINE).encode())
    job, _ = jobs.store_job(engine, job_id=new_id(), client="registry-b", spool=spool, chunk_size=100,
                            language="en", request_id="r", idempotency_key=None, pseudonym_key=b"k" * 32)
    spool.close()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    time.sleep(0.01)
    assert reconcile(engine, create_client(settings), idle_s=0, max_requeues=1) == {"requeued": 0, "failed": 0,
                                                                                    "removed": 1}
    assert jobs.get_job(engine, job.id) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_job_that_cannot_finish_ends_failed_with_the_reason(settings, engine):
    spool = jobs.Spool(1 << 20)
    for _ in range(250):
        spool.add(json.dumps(LINE).encode())
    job, _ = jobs.store_job(engine, job_id=new_id(), client="registry-b", spool=spool, chunk_size=100,
                            language="en", request_id="r", idempotency_key=None, pseudonym_key=b"k" * 32)
    spool.close()
    audited(engine, job.id)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    client = create_client(settings)  # the embedded broker: a SQLite file
    time.sleep(0.01)
    assert reconcile(engine, client, idle_s=0, max_requeues=1) == {"requeued": 1, "failed": 0, "removed": 0}
    assert jobs.missing_chunks(engine, job) == [(1, 100), (101, 200), (201, 250)]
    time.sleep(0.01)
    assert reconcile(engine, client, idle_s=0, max_requeues=1) == {"requeued": 0, "failed": 1, "removed": 0}
    failed = jobs.get_job(engine, job.id)
    assert failed.status == "failed" and failed.error == "250 lines still without a result after 1 re-enqueues of " \
                                                         "their chunks"
