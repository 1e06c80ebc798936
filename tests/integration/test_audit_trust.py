"""An audit trail a compliance officer can trust (issue 11), on SQLite and PostgreSQL:
- verify judges one snapshot, so it never cries wolf while records are written;
- the service's own database role cannot rewrite the trail, and the purge is the owner's audited function;
- verify requires dense signed checkpoints and an audit.purged record behind any missing prefix;
- checkpoints published outside the database catch what an insider with DDL and the signing key can do;
- signing keys rotate without breaking history.
"""

import json
import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from infra import audit
from infra.audit import GENESIS_HASH, AuditWriter, Coverage, checkpoint_head, record_hash, utc_now, write_batch
from infra.audit_review import purge
from infra.db import make_engine
from infra.settings import load_settings
from infra.signing import Checkpointer, FileSink, KeyRing, Signer, read_sink
from tests.conftest import PSEUDONYM_KEY, SIGNING_KEY, Keys, as_app_role
from tests.integration.test_audit_chain import execute
from tests.integration.test_audit_review import SIGNER, entry

RING = KeyRing.of([SIGNER.public_key_hex])
EVERY = 10
COVERAGE = Coverage(every=EVERY, minutes=60)
VERSIONS = ("g", "e", "r")


def cli(*args, env=None, database_url=None, tmp_path=None, extra=None):
    base = {"PATH": os.environ.get("PATH", ""), "BONEMETS_LOG_FORMAT": "json"}
    if database_url is not None:
        base.update(BONEMETS_DATABASE_URL=database_url, BONEMETS_PSEUDONYM_KEY=PSEUDONYM_KEY,
                    BONEMETS_AUDIT_SIGNING_KEY=SIGNING_KEY, BONEMETS_CHECKPOINT_EVERY=str(EVERY),
                    BONEMETS_VAR_DIR=str(tmp_path / "var"))
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**base, **(env or {}), **(extra or {})})


def write(engine, count, start=0, checkpoints=None, batch=7):
    checkpoints = checkpoints or Checkpointer(signer=SIGNER, every=EVERY, minutes=60)
    raw = engine.raw_connection()
    try:
        for first in range(start, start + count, batch):
            write_batch(raw, engine.dialect.name, [entry(i) for i in range(first, min(first + batch, start + count))],
                        checkpoints)
        checkpoint_head(raw, engine.dialect.name, checkpoints)  # as the writer's idle tick does
    finally:
        raw.close()


def write_unsigned(engine, entries):
    """Records written by no writer that signs (a crash before its next checkpoint)."""
    raw = engine.raw_connection()
    try:
        write_batch(raw, engine.dialect.name, entries)
    finally:
        raw.close()


def rows_from(engine, seq):
    with engine.connect() as conn:
        result = conn.execute(text(f"SELECT {', '.join(audit.COLUMNS)} FROM audit_record WHERE seq >= :s ORDER BY seq"),
                              {"s": seq})
        return [dict(zip(audit.COLUMNS, row, strict=True)) for row in result]


def forge_from(engine, seq, resign=True):
    """Rewrite every record from `seq` with another answer and recomputed hashes, move the head, and (with the
    signing key, which the service's environment holds) sign fresh checkpoints over the forgery: what an insider
    with DDL rights and the application's secrets can do inside the database."""
    rows = rows_from(engine, seq)
    prev = GENESIS_HASH if seq == 1 else rows_from(engine, seq - 1)[0]["hash"]
    statements = [f"DELETE FROM audit_checkpoint WHERE seq >= {seq}"]
    for row in rows:
        row.update(output_json='{"total": 0, "band": "forged"}', prev_hash=prev)
        row["hash"] = prev = record_hash(row)
        statements.append(f"UPDATE audit_record SET output_json = '{row['output_json']}', prev_hash = "
                          f"'{row['prev_hash']}', hash = '{row['hash']}' WHERE seq = {row['seq']}")
        if resign and row["seq"] % EVERY == 0:
            cp = (row["seq"], row["hash"], utc_now())
            statements.append(f"INSERT INTO audit_checkpoint VALUES ({cp[0]}, '{cp[1]}', '{cp[2]}', "
                              f"'{SIGNER.key_id}', '{SIGNER.sign(*cp)}')")
    last = rows[-1]
    statements.append(f"UPDATE audit_head SET seq = {last['seq']}, hash = '{last['hash']}'")
    if resign:
        cp = (last["seq"], last["hash"], utc_now())
        statements.append(f"INSERT INTO audit_checkpoint VALUES ({cp[0]}, '{cp[1]}', '{cp[2]}', '{SIGNER.key_id}', "
                          f"'{SIGNER.sign(*cp)}')")
    execute(engine, *statements)


# --- 1. one snapshot: no false alarm under writes -------------------------------------------------------------

@pytest.fixture
def same_cadence_client(settings):
    """The app signs at the test's cadence (EVERY): its own records (each audited verify call) land among the
    burst's, and the default cadence of 1,000 would leave one that falls on a multiple of EVERY unsigned, which the
    coverage check of every EVERY records rightly calls a gap (as a real installation never mixes cadences)."""
    from dataclasses import replace

    from litestar.testing import TestClient

    from api.app import create_app

    app = create_app(replace(settings, checkpoint_every=EVERY), configure_logs=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_verify_never_reports_a_false_break_during_a_write_burst_then_names_a_real_one(same_cadence_client, keys,
                                                                                      engine):
    client = same_cadence_client
    writer = AuditWriter(engine, batch_max=40, checkpoints=Checkpointer(signer=SIGNER, every=EVERY, minutes=60))
    writer.start()
    stop, written = threading.Event(), [0]

    def burst():
        i = 0
        while not stop.is_set():
            futures = [writer.submit(entry(i + k)) for k in range(40)]
            for future in futures:
                future.result(30)
            i, written[0] = i + 40, written[0] + 40

    threads = [threading.Thread(target=burst) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        while written[0] < 200:
            time.sleep(0.01)
        verdicts = []
        for run in range(20):  # half through the function (the CLI's path), half through the endpoint
            if run % 2:
                body = client.get("/v1/audit/verify", headers=Keys.header(keys.auditor)).json()
                verdicts.append((body["intact"], body["head"], body["first_broken"]))
            else:
                result = audit.verify(engine, RING, coverage=COVERAGE)
                verdicts.append((result.intact, result.head, result.first_broken))
        before_stop = written[0]
    finally:
        stop.set()
        for t in threads:
            t.join()
        writer.stop()
    assert [v[0] for v in verdicts] == [True] * 20, [v for v in verdicts if not v[0]][:1]
    assert verdicts[-1][1] > verdicts[0][1] and before_stop > 200  # records really were written meanwhile
    execute(engine, "UPDATE audit_record SET output_json = '{\"total\": 12}' WHERE seq = 123")
    result = audit.verify(engine, RING, coverage=COVERAGE)
    assert not result.intact and result.first_broken.seq == 123 and "modified" in result.first_broken.reason


# --- 2. least privilege ---------------------------------------------------------------------------------------

APP_REFUSED = {
    "purge through the owner's function": "SELECT bonemets_audit_purge('9999-12-31', 10, 'x', 'x', 'x', "
                                          "'operator:root', 'r', 'g', 'e', 'r')",
    "update a record": "UPDATE audit_record SET client = 'x' WHERE seq = 5",
    "delete the tail": "DELETE FROM audit_record WHERE seq > 20",
    "truncate the trail": "TRUNCATE audit_record",
    "open the purge permit": "INSERT INTO audit_purge_permit (id) VALUES (1)",
    "delete the checkpoints": "DELETE FROM audit_checkpoint",
    "replace a checkpoint": "UPDATE audit_checkpoint SET hash = 'x' WHERE seq = 10",
    "sign a record that is not there": "INSERT INTO audit_checkpoint VALUES (99, 'x', 't', 'k', 's')",
    "move the head back": "UPDATE audit_head SET seq = 20, hash = (SELECT hash FROM audit_record WHERE seq = 20)",
    "move the head past the chain": "UPDATE audit_head SET seq = 40, hash = 'x'",
    "add a head": "INSERT INTO audit_head (id, seq, hash) VALUES (2, 0, 'x')",
    "drop a trigger": "DROP TRIGGER audit_record_append_only ON audit_record",
    "disable the triggers": "ALTER TABLE audit_record DISABLE TRIGGER ALL",
    "replace the trigger's function": "CREATE OR REPLACE FUNCTION audit_record_append_only() RETURNS trigger AS "
                                      "$$ BEGIN RETURN OLD; END; $$ LANGUAGE plpgsql",
    "skip triggers for the session": "SET session_replication_role = replica",
}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_services_role_cannot_rewrite_the_trail_and_purges_only_through_the_audited_function(database_url,
                                                                                                   engine):
    app = make_engine(as_app_role(database_url))
    with app.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == "bonemets_app"
    write(app, 20)  # the writer's path works with the service's role
    cutoff = utc_now()
    time.sleep(0.01)
    write(app, 13, start=20)
    for what, statement in APP_REFUSED.items():
        with pytest.raises(DBAPIError) as refused, app.begin() as conn:
            conn.execute(text(statement))
        message = str(refused.value.orig)
        assert "permission denied" in message or "refused" in message or "must be owner" in message, (what, message)
    assert audit.verify(engine, RING, coverage=COVERAGE).intact
    with pytest.raises(psycopg.Error) as refused:  # the purge is the owner's: the service's role cannot run it
        purge(app, cutoff, Checkpointer(signer=SIGNER, every=EVERY), who="operator:root", request_id="p-0",
              versions=VERSIONS)
    assert "permission denied for function bonemets_audit_purge" in str(refused.value)
    with pytest.raises(psycopg.Error) as refused:  # nor can the owner cut inside the retention floor it keeps
        purge(engine, cutoff, Checkpointer(signer=SIGNER, every=EVERY), who="operator:test", request_id="p-1",
              versions=VERSIONS)
    assert "3650-day retention period" in str(refused.value)
    with engine.begin() as conn:  # the owner's decision, for this test
        conn.execute(text("UPDATE audit_policy SET retention_days = 0"))
    outcome = purge(engine, cutoff, Checkpointer(signer=SIGNER, every=EVERY), who="operator:test",
                    request_id="p-1", versions=VERSIONS)
    assert (outcome["purged"], outcome["through_seq"]) == (20, 20)
    result = audit.verify(engine, RING, coverage=COVERAGE)
    assert result.intact and result.records == 14, result  # 21..33 and the purge's own record
    purged = rows_from(engine, 34)[0]
    assert purged["action"] == "audit.purged" and json.loads(purged["output_json"])["through_seq"] == 20
    assert json.loads(purged["input_json"])["database_role"] == "postgres"  # who ran it, not only who it claims
    assert record_hash(purged) == purged["hash"]  # hashed in SQL exactly as in Python
    app.dispose()


def test_the_database_refuses_to_rewrite_checkpoints_or_move_the_head_back(engine):
    """Without DDL (SQLite: anyone who can write the file can drop these triggers; the sink is the protection)."""
    write(engine, 25)
    for statement in ("DELETE FROM audit_checkpoint WHERE seq = 10", "UPDATE audit_checkpoint SET hash = 'x'",
                      "INSERT INTO audit_checkpoint VALUES (99, 'x', 't', 'k', 's')",
                      "UPDATE audit_head SET seq = 20, hash = (SELECT hash FROM audit_record WHERE seq = 20)",
                      "DELETE FROM audit_head"):
        with pytest.raises(DBAPIError) as refused, engine.begin() as conn:
            conn.execute(text(statement))
        assert "refused" in str(refused.value.orig), statement


# --- 3. dense checkpoints and the audited purge ---------------------------------------------------------------

def test_verify_requires_checkpoints_every_n_records_and_a_purge_record_behind_a_missing_prefix(engine):
    write(engine, 35)
    assert audit.verify(engine, RING, coverage=COVERAGE).intact
    execute(engine, "DELETE FROM audit_checkpoint WHERE seq = 20")
    result = audit.verify(engine, RING, coverage=COVERAGE)
    assert not result.intact and result.first_broken.seq == 11 and "no signed checkpoint" in result.first_broken.reason
    execute(engine, "DELETE FROM audit_record WHERE seq <= 10")  # a prefix ending at a checkpoint, no purge record
    result = audit.verify(engine, RING)
    assert not result.intact and "no audit.purged record" in result.first_broken.reason


def test_an_unsigned_tail_is_signed_by_the_writers_tick_and_reported_when_nobody_signed_it(engine):
    clock = Coverage(every=1000, minutes=0.004)  # 0.24 s
    write_unsigned(engine, [entry(i) for i in range(3)])
    time.sleep(0.5)
    result = audit.verify(engine, RING, coverage=clock)
    assert not result.intact and "waited" in result.first_broken.reason and result.first_broken.seq == 1
    writer = AuditWriter(engine, checkpoints=Checkpointer(signer=SIGNER, every=1000, minutes=0.004))
    writer.start()  # a writer that starts signs what a crash left unsigned, then keeps the head signed
    writer.append(entry(3))
    time.sleep(1.0)
    try:
        assert audit.verify(engine, RING, coverage=clock).intact
    finally:
        writer.stop()


# --- 4. checkpoints outside the database ----------------------------------------------------------------------

def forge_purge(engine, sink, through=20):
    """Delete a prefix with the superuser's rights, then append a forged audit.purged record (it is only a hash) and
    let the service's writer sign the head as its idle tick would: the forgery is laundered into a checkpoint."""
    rows = rows_from(engine, through + 1)
    last = rows[-1]
    record = {**last, "seq": last["seq"] + 1, "id": "f0f0f0f0-0000-4000-8000-000000000000", "action": "audit.purged",
              "client": "operator:root", "endpoint": "bonemets audit purge", "input_json": "{}", "patient_hash": None,
              "output_json": json.dumps({"through_seq": through}), "job_id": None, "prev_hash": last["hash"]}
    record["hash"] = record_hash(record)
    values = ", ".join("NULL" if record[c] is None else (str(record[c]) if c == "seq" else f"'{record[c]}'")
                       for c in audit.COLUMNS)
    execute(engine, f"DELETE FROM audit_record WHERE seq <= {through}",
            f"INSERT INTO audit_record ({', '.join(audit.COLUMNS)}) VALUES ({values})",
            f"UPDATE audit_head SET seq = {record['seq']}, hash = '{record['hash']}'")
    write(engine, 0, checkpoints=Checkpointer(signer=SIGNER, every=EVERY, minutes=60, sink=FileSink(str(sink))))


def append_to_sink(engine, sink):
    """Rewrite the chain and append, to the append-only sink, checkpoints of the forgery signed by a new key."""
    forge_from(engine, 1, resign=False)
    intruder = Signer(b"\x09" * 32)
    with open(sink, "ab") as f:
        f.write(intruder.handover(intruder.public_key_hex, utc_now()))
        for row in rows_from(engine, 1):
            if row["seq"] % EVERY == 0 or row["seq"] == 45:
                cp = (row["seq"], row["hash"], utc_now())
                f.write(json.dumps({"type": "checkpoint", "seq": cp[0], "hash": cp[1], "created_at": cp[2],
                                    "key_id": intruder.key_id, "signature": intruder.sign(*cp),
                                    "public_key": intruder.public_key_hex}).encode() + b"\n")
    execute(engine, "DELETE FROM audit_checkpoint")


ATTACKS = {
    # delete the tail with its checkpoints, move the head back: the published checkpoints reach past the end
    "tail truncation": (lambda engine, sink: execute(
        engine, "DELETE FROM audit_record WHERE seq > 32", "DELETE FROM audit_checkpoint WHERE seq > 32",
        f"UPDATE audit_head SET seq = 32, hash = '{rows_from(engine, 32)[0]['hash']}'"), "past the end"),
    # a prefix ending at a checkpoint, without the audit.purged record
    "unaudited purge": (lambda engine, sink: execute(engine, "DELETE FROM audit_record WHERE seq <= 20"),
                        "no audit.purged record"),
    # the same with a forged audit.purged record, which the service's next checkpoint then signs
    "purge with a forged record": (forge_purge, "no purge signed by the service"),
    # the last records replaced with forged answers, hashes recomputed, the head re-signed with the service's key
    "forged records": (lambda engine, sink: forge_from(engine, 41), "differs from the database's own"),
    # every checkpoint deleted, the whole chain rewritten from genesis and re-signed
    "rewritten chain": (lambda engine, sink: forge_from(engine, 1), "differs from the database's own"),
    # the same, signed with the intruder's own key, whose checkpoints are appended to the sink
    "rewritten chain, sink appended to": (append_to_sink, "written by someone else"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_published_checkpoints_catch_what_an_insider_does_inside_the_database(engine, database_url, tmp_path,
                                                                             attack):
    sink = tmp_path / "checkpoints.ndjson"
    write(engine, 45, checkpoints=Checkpointer(signer=SIGNER, every=EVERY, minutes=60, sink=FileSink(str(sink))))
    assert [cp.seq for cp in read_sink(str(sink), RING).checkpoints] == [10, 20, 30, 40, 45]
    ok = cli("audit", "verify", "--against-checkpoints", str(sink), database_url=database_url, tmp_path=tmp_path)
    assert ok.returncode == 0 and "5 of them also published outside the database" in ok.stdout, ok.stdout + ok.stderr
    tamper, caught = ATTACKS[attack]
    tamper(engine, sink)
    found = cli("audit", "verify", "--against-checkpoints", str(sink), database_url=database_url, tmp_path=tmp_path)
    assert found.returncode == 1 and caught in found.stdout, found.stdout + found.stderr


def test_a_sink_not_created_yet_is_judged_by_the_chain_not_an_os_error(engine, database_url, tmp_path):
    """A file sink appears with the first published checkpoint: before it, verifying against it is the chain's
    plain verdict; once the chain holds signed checkpoints, a missing file is said as such (a wrong path, a file
    moved away), never an `[Errno 2]` nor an intact verdict that checked nothing."""
    sink = tmp_path / "checkpoints.ndjson"
    write(engine, 0, checkpoints=Checkpointer(signer=SIGNER, every=EVERY, minutes=60, sink=FileSink(str(sink))))
    assert not sink.exists()
    empty = cli("audit", "verify", "--against-checkpoints", str(sink), database_url=database_url, tmp_path=tmp_path)
    assert empty.returncode == 0, empty.stdout + empty.stderr
    assert "0 signed checkpoints; none signed yet" in empty.stdout and "Errno" not in empty.stderr
    write(engine, 12, checkpoints=Checkpointer(signer=SIGNER, every=EVERY, minutes=60, sink=FileSink(str(sink))))
    elsewhere = tmp_path / "moved" / "checkpoints.ndjson"
    missing = cli("audit", "verify", "--against-checkpoints", str(elsewhere), database_url=database_url,
                  tmp_path=tmp_path)
    assert missing.returncode == 2 and "Errno" not in missing.stderr, missing.stdout + missing.stderr
    assert f"{elsewhere} does not exist, yet the trail holds 2 signed checkpoints" in missing.stderr
    emptied = tmp_path / "emptied.ndjson"
    emptied.write_bytes(b"")
    empty = cli("audit", "verify", "--against-checkpoints", str(emptied), database_url=database_url,
                tmp_path=tmp_path)
    assert empty.returncode == 2 and f"{emptied} holds no checkpoint, yet the trail holds 2" in empty.stderr
    ok = cli("audit", "verify", "--against-checkpoints", str(sink), database_url=database_url, tmp_path=tmp_path)
    assert ok.returncode == 0 and "2 of them also published outside the database" in ok.stdout, ok.stdout


def test_an_audited_purge_is_published_and_verifies_against_the_sink(engine, database_url, tmp_path):
    sink = tmp_path / "checkpoints.ndjson"
    checkpoints = Checkpointer(signer=SIGNER, every=EVERY, minutes=60, sink=FileSink(str(sink)))
    write(engine, 23, checkpoints=checkpoints)
    cutoff = utc_now()
    time.sleep(0.01)
    write(engine, 9, start=23, checkpoints=checkpoints)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_policy SET retention_days = 0"))
    assert purge(engine, cutoff, checkpoints, who="operator:test", request_id="p", versions=VERSIONS)["purged"] == 23
    published = read_sink(str(sink), RING)
    assert published.problem is None and list(published.purges) == [23]
    ok = cli("audit", "verify", "--against-checkpoints", str(sink), database_url=database_url, tmp_path=tmp_path)
    assert ok.returncode == 0 and "intact: 10 records" in ok.stdout, ok.stdout + ok.stderr


def test_a_failing_sink_keeps_its_checkpoints_for_the_next_publish(engine, tmp_path):
    sink = tmp_path / "missing-dir" / "checkpoints.ndjson"
    checkpoints = Checkpointer(signer=SIGNER, every=EVERY, minutes=60, sink=FileSink(str(sink)))
    write(engine, 12, checkpoints=checkpoints)  # the directory is not there: nothing published, nothing lost
    assert checkpoints.sink_failed and audit.verify(engine, RING, coverage=COVERAGE).intact
    sink.parent.mkdir()
    write(engine, 9, start=12, checkpoints=checkpoints)
    assert not checkpoints.sink_failed
    assert [cp.seq for cp in read_sink(str(sink), RING).checkpoints] == [10, 12, 20, 21]


# --- 5. key rotation ------------------------------------------------------------------------------------------

def test_rotating_the_signing_key_keeps_every_older_checkpoint_verifiable(tmp_path):
    sink = tmp_path / "published.ndjson"
    env = {"BONEMETS_VAR_DIR": str(tmp_path / "var"), "BONEMETS_CHECKPOINT_EVERY": str(EVERY),
           "BONEMETS_AUDIT_CHECKPOINT_SINK": str(sink)}
    assert cli("migrate", env=env).returncode == 0  # the embedded default: keys in var/
    first = load_settings(env)
    engine = make_engine(first.database_url)
    write(engine, 25, checkpoints=first.checkpointer())
    write_unsigned(engine, [entry(25)])  # the head (26) left unsigned
    rotated = cli("audit", "keys", "rotate", env=env)
    assert rotated.returncode == 0 and "(record 26) is signed by the retiring key" in rotated.stdout, rotated.stderr
    second = load_settings(env)
    assert second.public_key != first.public_key and second.audit_retired_public_keys == (first.public_key,)
    write(engine, 15, start=26, checkpoints=second.checkpointer())
    key_ids = {cp.key_id for cp in audit.checkpoints_of(engine)}
    assert key_ids == {Signer(first.audit_signing_key).key_id, Signer(second.audit_signing_key).key_id}
    verified = cli("audit", "verify", env=env)
    assert verified.returncode == 0 and "7 signed checkpoints" in verified.stdout, verified.stdout + verified.stderr
    # a verifier who pinned only the first key follows the handover the retiring key signed into the sink
    published = read_sink(str(sink), KeyRing.of([first.public_key]))
    assert published.problem is None and second.public_key in published.keyring.keys.values()
    assert len(published.checkpoints) == 7
    against = cli("audit", "verify", "--against-checkpoints", str(sink), env=env)
    assert against.returncode == 0 and "7 of them also published" in against.stdout, against.stdout
    listed = cli("audit", "keys", "list", env=env).stdout
    assert f"{first.public_key}  retired" in listed and f"{second.public_key}  current" in listed
    (tmp_path / "var" / "audit-retired-public-keys").unlink()  # forget the retired key: its checkpoints are unproven
    forgotten = cli("audit", "verify", env=env)
    assert forgotten.returncode == 1 and "not among the trusted keys" in forgotten.stdout
    engine.dispose()


def test_rotation_with_keys_in_the_environment_prints_the_new_settings(engine, database_url, tmp_path):
    write(engine, 12)
    rotated = cli("audit", "keys", "rotate", database_url=database_url, tmp_path=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    new = dict(line.split("=", 1) for line in rotated.stdout.splitlines() if line.startswith("BONEMETS_"))
    assert new["BONEMETS_AUDIT_RETIRED_PUBLIC_KEYS"] == SIGNER.public_key_hex
    assert Signer(bytes.fromhex(new["BONEMETS_AUDIT_SIGNING_KEY"])).public_key_hex != SIGNER.public_key_hex
    after = cli("audit", "verify", database_url=database_url, tmp_path=tmp_path, extra=new)
    assert after.returncode == 0 and "2 signed checkpoints" in after.stdout, after.stdout + after.stderr
    alone = cli("audit", "verify", database_url=database_url, tmp_path=tmp_path,
                extra={"BONEMETS_AUDIT_SIGNING_KEY": new["BONEMETS_AUDIT_SIGNING_KEY"]})
    assert alone.returncode == 1 and "not among the trusted keys" in alone.stdout


def test_the_checkpoints_endpoint_lists_current_and_retired_keys(client, keys, settings):
    body = client.get("/v1/audit/checkpoints", headers=Keys.header(keys.auditor)).json()
    assert body["keys"] == [{"key_id": SIGNER.key_id, "public_key": SIGNER.public_key_hex, "status": "current"}]
    assert "own word" in body["trust"]
