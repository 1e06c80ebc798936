"""The audit trail: a correct chain under concurrency, tampering detected, and no answer without a record."""

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.app import create_app
from infra import audit
from infra.audit_loop import LoopWriter, store_for
from infra.db import make_engine
from infra.keys import create_key
from tests.cases import VALID
from tests.conftest import Keys
from tests.proxy import CuttableProxy


async def fire(client, key, count):
    bodies = [("sins", VALID["sins"]), ("mirels", VALID["mirels"]), ("tomita", VALID["tomita"])]
    requests = [client.post(f"/v1/scores/{bodies[i % 3][0]}", json={**bodies[i % 3][1], "patient_ref": f"p{i}"},
                            headers=Keys.header(key)) for i in range(count)]
    return await asyncio.gather(*requests)


def test_chain_is_intact_after_500_concurrent_requests(settings, keys, engine):
    async def run():
        async with AsyncTestClient(create_app(settings, configure_logs=False)) as client:
            return await fire(client, keys.scoring, 500)

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 500
    result = audit.verify(engine)
    assert (result.intact, result.records) == (True, 500)
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(text("SELECT id FROM audit_record"))}
    assert ids == {r.json()["audit_id"] for r in responses}


def populate(engine, n=10):
    writer = audit.AuditWriter(engine)
    receipts = [writer.append(audit.AuditEntry(
        id=audit.new_id(), client="c", roles="scoring", endpoint="POST /v1/scores/sins", action="score.computed",
        request_id=f"r{i}", patient_hash=None, input_json="{}", output_json=f'{{"total": {i}}}', rule_ids=("SP-3",),
        guideline_version="g", engine_version="e", rules_version="r")) for i in range(n)]
    writer.stop()
    return receipts


DROP_TRIGGERS = {  # what someone with the owner's or a superuser's rights can do: DDL
    "postgresql": [f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table in (
        ("audit_record_append_only", "audit_record"), ("audit_head_forward", "audit_head"),
        ("audit_checkpoint_append_only", "audit_checkpoint"))],
    "sqlite": [f"DROP TRIGGER IF EXISTS {name}" for name in (
        "audit_record_no_update", "audit_record_no_delete", "audit_checkpoint_no_update", "audit_checkpoint_no_delete",
        "audit_checkpoint_signs_a_record", "audit_head_forward", "audit_head_no_delete", "audit_head_no_insert")],
}


def execute(engine, *statements):
    """Tamper as someone with direct database access would: drop the append-only triggers, then write."""
    with engine.begin() as conn:
        for statement in [*DROP_TRIGGERS[engine.dialect.name], *statements]:
            conn.execute(text(statement))


def test_verify_detects_a_modified_record(engine):
    receipts = populate(engine)
    execute(engine, "UPDATE audit_record SET output_json = '{\"total\": 99}' WHERE seq = 4")
    result = audit.verify(engine)
    assert not result.intact and result.records == 3
    assert (result.first_broken.id, result.first_broken.seq) == (receipts[3].id, 4)
    assert "modified" in result.first_broken.reason


def test_verify_detects_a_deleted_record(engine):
    receipts = populate(engine)
    execute(engine, "DELETE FROM audit_record WHERE seq = 6")
    result = audit.verify(engine)
    assert not result.intact and result.first_broken.id == receipts[6].id
    assert "deleted" in result.first_broken.reason


def test_verify_detects_reordered_records(engine):
    receipts = populate(engine)
    execute(engine, "UPDATE audit_record SET seq = -1 WHERE seq = 3",
            "UPDATE audit_record SET seq = 3 WHERE seq = 7",
            "UPDATE audit_record SET seq = 7 WHERE seq = -1")
    result = audit.verify(engine)
    assert not result.intact and result.first_broken.seq == 3 and result.first_broken.id == receipts[6].id


def test_verify_detects_a_truncated_tail(engine):
    populate(engine)
    execute(engine, "DELETE FROM audit_record WHERE seq >= 9")
    result = audit.verify(engine)
    assert not result.intact and "removed from the end" in result.first_broken.reason


def test_verify_endpoint_and_cli_name_the_first_broken_record(client, keys, engine, database_url, tmp_path):
    receipts = populate(engine, 5)
    ok = client.get("/v1/audit/verify", headers=Keys.header(keys.auditor)).json()
    # (the API's writer may have signed the head at its start: a checkpoint or none)
    assert {k: v for k, v in ok.items() if k != "checkpoints"} == {
        "intact": True, "records": 5, "first_broken": None, "external_checkpoints": 0, "head": 5}
    execute(engine, "UPDATE audit_record SET client = 'someone-else' WHERE seq = 2")
    bad = client.get("/v1/audit/verify", headers=Keys.header(keys.auditor)).json()
    assert bad["intact"] is False and bad["first_broken"]["id"] == receipts[1].id
    cli = subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify"], capture_output=True, text=True,
                         env={"BONEMETS_DATABASE_URL": database_url, "BONEMETS_PSEUDONYM_KEY": "k" * 32,
                              "BONEMETS_AUDIT_SIGNING_KEY": "5e" * 32,
                              "BONEMETS_VAR_DIR": str(tmp_path), "PATH": ""}, timeout=60)
    assert cli.returncode == 1 and receipts[1].id in cli.stdout


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_unreachable_means_503_and_no_recommendation(settings, keys, engine):
    url = make_url(settings.database_url)
    proxy = CuttableProxy(url.host, url.port or 5432)
    proxied = replace(settings, database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))

    async def run():
        async with AsyncTestClient(create_app(proxied, configure_logs=False)) as client:
            before = await client.post("/v1/scores/sins", json=VALID["sins"], headers=Keys.header(keys.scoring))
            proxy.cut()
            after = await client.post("/v1/scores/sins", json=VALID["sins"], headers=Keys.header(keys.scoring))
            fresh_key = await client.post("/v1/scores/sins", json=VALID["sins"], headers=Keys.header(keys.auditor))
            return before, after, fresh_key

    before, after, fresh_key = asyncio.run(run())
    assert before.status_code == 200
    assert after.status_code == 503 and "recommendation" not in after.json()
    assert after.headers["content-type"].startswith("application/problem+json")
    assert fresh_key.status_code == 503  # a key not yet cached cannot be checked either
    assert audit.verify(engine).records == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_locked_by_another_writer_means_503(settings, keys, engine):
    async def run():
        async with AsyncTestClient(create_app(settings, configure_logs=False)) as client:
            before = await client.post("/v1/scores/sins", json=VALID["sins"], headers=Keys.header(keys.scoring))
            blocker = sqlite3.connect(make_url(settings.database_url).database, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            try:
                after = await client.post("/v1/scores/sins", json=VALID["sins"], headers=Keys.header(keys.scoring))
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            return before, after

    before, after = asyncio.run(run())
    assert (before.status_code, after.status_code) == (200, 503)
    assert audit.verify(engine).records == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_api_processes_share_one_correct_chain(settings, engine, tmp_path):
    import httpx

    key = create_key(engine, "hospital-a", ("scoring",))
    env = {"BONEMETS_DATABASE_URL": settings.database_url, "BONEMETS_PSEUDONYM_KEY": "k" * 32,
                              "BONEMETS_AUDIT_SIGNING_KEY": "5e" * 32,
           "BONEMETS_VAR_DIR": str(tmp_path), "BONEMETS_LOG_FORMAT": "json", "PATH": ""}
    ports = [free_port(), free_port()]
    logs = [(tmp_path / f"server-{p}.log").open("w") for p in ports]
    servers = [subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(p)], env=env,
                                stdout=log, stderr=subprocess.STDOUT) for p, log in zip(ports, logs, strict=True)]
    try:
        for port in ports:
            wait_ready(port)

        async def run():
            async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:
                calls = [client.post(f"http://127.0.0.1:{ports[i % 2]}/v1/scores/sins", json=VALID["sins"],
                                     headers=Keys.header(key)) for i in range(500)]
                return await asyncio.gather(*calls)

        responses = asyncio.run(run())
    finally:
        for server, log in zip(servers, logs, strict=True):
            server.terminate()
            server.wait(timeout=15)
            log.close()
    assert [r.status_code for r in responses] == [200] * 500
    assert (audit.verify(engine).intact, audit.verify(engine).records) == (True, 500)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, timeout: float = 20) -> None:
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"no server answered on port {port}")


def test_make_engine_is_used_for_both_kinds_of_url():
    assert make_engine("sqlite:///:memory:").dialect.name == "sqlite"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_caller_that_gave_up_before_its_batch_gets_no_record_and_the_writer_lives_on(engine):
    writer = audit.AuditWriter(engine)  # not started: entries wait in the queue
    entry = audit.AuditEntry(
        id=audit.new_id(), client="c", roles="scoring", endpoint="e", action="score.computed", request_id="r",
        patient_hash=None, input_json="{}", output_json="{}", rule_ids=(), guideline_version="g",
        engine_version="e", rules_version="r")
    abandoned = writer.submit(entry)
    assert abandoned.cancel()
    kept = writer.submit(msgspec_replace(entry, id=audit.new_id()))
    writer.start()
    assert kept.result(10).seq == 1
    assert writer.append(msgspec_replace(entry, id=audit.new_id())).seq == 2
    writer.stop()
    assert audit.verify(engine).records == 2


def msgspec_replace(struct, **changes):
    import msgspec

    return msgspec.structs.replace(struct, **changes)


def _entry(**changes):
    entry = audit.AuditEntry(
        id=audit.new_id(), client="c", roles="scoring", endpoint="e", action="score.computed", request_id="r",
        patient_hash=None, input_json="{}", output_json="{}", rule_ids=(), guideline_version="g",
        engine_version="e", rules_version="r")
    return msgspec_replace(entry, **changes) if changes else entry


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_the_loop_writer_commits_concurrent_callers_in_few_batches_and_answers_each(settings, engine):
    writer = LoopWriter(store_for(settings))

    async def run():
        writer.start()
        try:
            return await asyncio.gather(*(writer.append(_entry(request_id=str(i))) for i in range(300)))
        finally:
            await writer.stop()

    receipts = asyncio.run(run())
    assert sorted(r.seq for r in receipts) == list(range(1, 301)) and len({r.id for r in receipts}) == 300
    with engine.connect() as conn:  # one created_at per batch: the callers were grouped, not written one by one
        batches = conn.execute(text("SELECT count(DISTINCT created_at) FROM audit_record")).scalar()
    assert batches < 30
    assert audit.verify(engine).intact


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_loop_writers_of_two_processes_take_turns_on_one_chain(settings, engine):
    """Each writer believes it knows the head after its own commit; the other's commits make it wrong every time,
    and a batch chained after a stale head must never land."""
    first, second = LoopWriter(store_for(settings)), LoopWriter(store_for(settings))

    async def run():
        first.start()
        second.start()
        try:
            out = []
            for i in range(40):  # alternate: each batch finds the head moved by the other writer
                writer = first if i % 2 == 0 else second
                out += await asyncio.gather(*(writer.append(_entry(request_id=f"{i}.{k}")) for k in range(5)))
            out += await asyncio.gather(*(w.append(_entry()) for w in (first, second) for _ in range(100)))
            return out
        finally:
            await first.stop()
            await second.stop()

    receipts = asyncio.run(run())
    assert sorted(r.seq for r in receipts) == list(range(1, 401))
    result = audit.verify(engine)
    assert result.intact and result.records == 400


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_loop_writer_fails_a_batch_past_its_deadline_and_serves_the_next(settings, engine):
    writer = LoopWriter(store_for(settings), stall_s=0.3)
    blocker = sqlite3.connect(make_url(settings.database_url).database, isolation_level=None)

    async def run():
        writer.start()
        try:
            blocker.execute("BEGIN EXCLUSIVE")  # another process holds the file: the head cannot be taken
            started = time.monotonic()
            refused = await asyncio.gather(writer.append(_entry()), return_exceptions=True)
            waited = time.monotonic() - started
            blocker.execute("ROLLBACK")
            return refused, waited, await writer.append(_entry())
        finally:
            await writer.stop()

    refused, waited, kept = asyncio.run(run())
    blocker.close()
    assert isinstance(refused[0], audit.AuditUnavailable) and 0.25 < waited < 3
    assert kept.seq == 1 and audit.verify(engine).records == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_loop_writer_writes_nothing_for_a_caller_gone_before_its_batch(settings, engine):
    writer = LoopWriter(store_for(settings))

    async def run():
        writer.start()
        try:
            gone = asyncio.ensure_future(writer.append(_entry(request_id="gone")))
            kept = asyncio.ensure_future(writer.append(_entry(request_id="kept")))
            await asyncio.sleep(0)  # both waiting for the writer's next batch
            gone.cancel()
            return await kept
        finally:
            await writer.stop()

    kept = asyncio.run(run())
    assert kept.seq == 1 and audit.verify(engine).records == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_checkpoint_signed_in_a_missed_one_round_trip_write_is_never_published(settings, engine, tmp_path):
    """The writer's one-round-trip try signs the checkpoint due in its batch; when another process moved the head
    meanwhile, that transaction is rolled back, and only the checkpoint of the batch that committed may reach the
    external sink (a stale one there made verify call the chain rewritten)."""
    from infra.signing import Checkpointer, FileSink, KeyRing, Signer, read_sink

    signer = Signer(b"\x07" * 32)
    sink = tmp_path / "checkpoints.ndjson"
    checkpoints = Checkpointer(signer=signer, every=5, minutes=60, sink=FileSink(str(sink)))
    writer, other = LoopWriter(store_for(settings), checkpoints=checkpoints), audit.AuditWriter(engine)

    async def run():
        writer.start()
        try:
            for _ in range(3):
                await writer.append(_entry())  # the writer knows the head: 3
            await asyncio.to_thread(other.append, _entry())  # another process moves it to 4
            return await asyncio.gather(*(writer.append(_entry()) for _ in range(3)))  # the batch spans seq 5
        finally:
            await writer.stop()
            other.stop()

    asyncio.run(run())
    ring = KeyRing.of([signer.public_key_hex])
    published = read_sink(str(sink), ring)
    assert [cp.seq for cp in published.checkpoints] == [5, 7]  # 7: the head, signed at stop
    result = audit.verify(engine, ring, published=published)
    assert result.intact and result.records == 7, result


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sqlite_commit_past_its_deadline_never_freezes_the_event_loop(settings, engine, monkeypatch):
    """The commit waits on the disk in the store's thread; when it outlasts the deadline, its callers get 503 and
    the loop goes on serving (the rollback and close are queued behind the commit, not run on the loop)."""
    store = store_for(settings)
    writer = LoopWriter(store, stall_s=0.3)
    slow = threading.Event()

    class SlowCommit:  # the sqlite3 connection, with a commit that takes 2 s once `slow` is set; like sqlite3's own
        def __init__(self, conn):  # mutex, the connection is held meanwhile: a rollback or a close waits for it
            self._conn, self._held = conn, threading.Lock()

        def __getattr__(self, name):
            return getattr(self._conn, name)

        def commit(self):
            with self._held:
                if slow.is_set():
                    time.sleep(2)
                self._conn.commit()

        def rollback(self):
            with self._held:
                self._conn.rollback()

        def close(self):
            with self._held:
                self._conn.close()

    connect = store._connection
    monkeypatch.setattr(store, "_connection", lambda: store.__dict__.setdefault("_wrapped", SlowCommit(connect())))

    async def run():
        writer.start()
        try:
            await writer.append(_entry())
            slow.set()
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            beat = asyncio.ensure_future(ticker())
            started = time.monotonic()
            refused = await asyncio.gather(writer.append(_entry()), return_exceptions=True)
            waited = time.monotonic() - started
            beat.cancel()
            return refused, waited, ticks
        finally:
            await writer.stop()

    refused, waited, ticks = asyncio.run(run())
    assert isinstance(refused[0], audit.AuditUnavailable) and waited < 1.5
    assert ticks > 20  # the loop kept turning while the commit waited (a frozen loop ticks once)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_stopping_the_loop_writer_answers_every_caller(settings, engine):
    from infra.signing import Checkpointer, Signer

    # with checkpoints, stopping signs the head last: a caller arriving meanwhile must not be left waiting
    writer = LoopWriter(store_for(settings), checkpoints=Checkpointer(signer=Signer(b"\x08" * 32), every=1000))

    async def run():
        writer.start()
        waiting = [asyncio.ensure_future(writer.append(_entry())) for _ in range(5)]
        await asyncio.sleep(0)
        stopping = asyncio.ensure_future(writer.stop())
        await asyncio.sleep(0)  # the writer is stopping: writing what waits, then signing the head
        during = asyncio.ensure_future(writer.append(_entry()))
        await stopping
        late = await asyncio.gather(writer.append(_entry()), return_exceptions=True)
        outcomes = await asyncio.wait_for(asyncio.gather(*waiting, during, return_exceptions=True), 5)
        return outcomes, late

    outcomes, late = asyncio.run(run())
    assert all(isinstance(o, audit.Receipt | audit.AuditUnavailable) for o in outcomes)
    assert isinstance(late[0], audit.AuditUnavailable)
