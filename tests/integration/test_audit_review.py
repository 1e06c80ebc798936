"""The compliance side of the audit trail on SQLite and PostgreSQL: queries, exports that verify offline,
FHIR, the database's own refusal of UPDATE and DELETE, signed checkpoints and the audited purge."""

import json
import subprocess
import sys
import threading
import time

import msgspec
import pytest
from sqlalchemy import text

from infra import audit
from infra.audit import AuditEntry, new_id, pseudonymise, write_batch
from infra.audit_review import purge
from infra.signing import Checkpointer, KeyRing, Signer
from tests.conftest import PSEUDONYM_KEY, SIGNING_KEY, Keys
from tests.integration.test_audit_chain import execute

CLIENTS, ACTIONS = ("ward-a", "ward-b", "registry-c"), ("score.computed", "pathway.evaluated", "evaluation.computed")
RULES = ("SP-3", "SP-4,SP-1", "LB-4,LB-5", "AR-1,AR-2,AR-3", "SURG-2")
SIGNER = Signer(bytes.fromhex(SIGNING_KEY))
RING = KeyRing.of([SIGNER.public_key_hex])


def entry(i, client=None, action=None):
    return AuditEntry(
        id=new_id(), client=client or CLIENTS[i % 3], roles="scoring",
        endpoint=f"POST /v1/scores/{'sins' if i % 2 else 'tomita'}", action=action or ACTIONS[i % 3],
        request_id=f"r{i}", patient_hash=pseudonymise(PSEUDONYM_KEY.encode(), f"P{i % 50}"),
        input_json=json.dumps({"i": i}), output_json=json.dumps({"total": i % 13}),
        rule_ids=tuple(RULES[i % 5].split(",")), guideline_version="g", engine_version="e", rules_version="r",
        job_id=f"job-{i % 7}" if i % 4 == 0 else None)


def populate(engine, count, start=0, every=1000, batch=500):
    checkpoints = Checkpointer(signer=SIGNER, every=every, minutes=60)
    raw = engine.raw_connection()
    try:
        for first in range(start, start + count, batch):
            write_batch(raw, engine.dialect.name, [entry(i) for i in range(first, min(first + batch, start + count))],
                        checkpoints)
    finally:
        raw.close()


def all_pages(http, key, **params):
    seqs, cursor = [], None
    while True:
        query = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = http.get("/v1/audit", params=query, headers=Keys.header(key)).json()
        assert "records" in body, body
        seqs += [r["seq"] for r in body["records"]]
        if not (cursor := body["next_cursor"]):
            return seqs


def expected(engine, where, params=None):
    with engine.connect() as conn:
        query = text(f"SELECT seq FROM audit_record WHERE {where} ORDER BY seq")
        return [r[0] for r in conn.execute(query, params or {})]


def test_filters_and_pagination_are_exact_over_10000_records_with_concurrent_appends(client, keys, engine):
    populate(engine, 10_000)
    stop = threading.Event()

    def append_noise():
        raw = engine.raw_connection()
        n = 0
        while not stop.is_set():
            noise = msgspec.structs.replace(entry(n), client="noise", action="noise.appended", endpoint="NOISE",
                                            rule_ids=("NOISE-1",), patient_hash=None, job_id=None)
            write_batch(raw, engine.dialect.name, [noise])
            n += 1
            time.sleep(0.005)
        raw.close()

    writer = threading.Thread(target=append_noise)
    writer.start()
    try:
        everything = all_pages(client, keys.auditor)
        cases = {
            "client='ward-b'": {"client": "ward-b"},
            "action='pathway.evaluated'": {"action": "pathway.evaluated"},
            "job_id='job-3'": {"job_id": "job-3"},
            "endpoint LIKE 'POST /v1/scores/sins%'": {"endpoint": "POST /v1/scores/sins"},
            "(rule_ids = 'SP-4' OR rule_ids LIKE 'SP-4,%' OR rule_ids LIKE '%,SP-4')": {"rule_id": "SP-4"},
            f"patient_hash = '{pseudonymise(PSEUDONYM_KEY.encode(), 'P7')}'": {"patient_ref": "P7"},
        }
        for where, params in cases.items():
            # the reviewers' own queries are audited too (with the patient's hash): not part of this check
            assert all_pages(client, keys.auditor, **params) == expected(
                engine, f"{where} AND action <> 'audit.queried'"), params
        assert all_pages(client, keys.auditor, rule_id="SP") == []  # whole ids only
    finally:
        stop.set()
        writer.join()
    initial = [s for s in everything if s <= 10_000]
    assert initial == list(range(1, 10_001))  # every record once, in order, whatever was appended meanwhile
    assert everything == sorted(set(everything))


def test_a_time_range_returns_exactly_the_records_inside_it(client, keys, engine):
    populate(engine, 30, batch=10)
    with engine.connect() as conn:
        times = sorted({r[0] for r in conn.execute(text("SELECT created_at FROM audit_record"))})
    since, until = times[1], times[2]  # the second batch exactly
    got = all_pages(client, keys.auditor, since=since, until=until, client="ward-a")
    assert got == expected(engine, "created_at >= :s AND created_at < :u AND client = 'ward-a'",
                           {"s": since, "u": until}) and got


def test_fhir_rendering_validates_as_r4_audit_events(client, keys, engine):
    from fhir.resources.R4B.auditevent import AuditEvent
    from fhir.resources.R4B.bundle import Bundle

    populate(engine, 20)
    body = client.get("/v1/audit", params={"format": "fhir", "limit": 10}, headers=Keys.header(keys.auditor))
    assert body.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(body.json())
    events = [AuditEvent.model_validate(e.resource.model_dump()) for e in bundle.entry]
    assert len(events) == 10 and events[0].action == "E" and bundle.link[0].relation == "next"
    assert any(e.entity[0].what.identifier.system.endswith("hmac-sha256") for e in events)


def test_the_database_refuses_update_and_delete_on_the_audit_table(engine):
    populate(engine, 3)
    for statement in ("UPDATE audit_record SET client = 'x' WHERE seq = 2", "DELETE FROM audit_record WHERE seq = 2"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert audit.verify(engine, RING).intact


def test_an_inserted_record_is_caught(engine):
    populate(engine, 5)
    forged = msgspec.structs.asdict(entry(99))
    forged.update(seq=6, created_at="2099-01-01T00:00:00.000000Z", rule_ids="SP-3")
    with engine.connect() as conn:
        forged["prev_hash"] = conn.execute(text("SELECT hash FROM audit_record WHERE seq = 5")).scalar_one()
    forged["hash"] = audit.record_hash(forged)
    columns = ", ".join(audit.COLUMNS)
    execute(engine, f"INSERT INTO audit_record ({columns}) VALUES ("
                    + ", ".join(f"'{forged[c]}'" if forged[c] is not None else "NULL" for c in audit.COLUMNS) + ")")
    result = audit.verify(engine, RING)
    assert not result.intact and (result.first_broken.id, result.first_broken.seq) == (forged["id"], 6)
    assert "inserted" in result.first_broken.reason


def test_rewriting_the_whole_chain_is_caught_by_the_checkpoint_signatures(engine):
    populate(engine, 12, every=5, batch=1)
    with engine.connect() as conn:
        rows = [dict(zip(audit.COLUMNS, r, strict=True)) for r in conn.execute(
            text(f"SELECT {', '.join(audit.COLUMNS)} FROM audit_record ORDER BY seq"))]
    rows[2]["output_json"] = '{"total": 12}'  # change one answer, then recompute every hash after it
    prev, statements = audit.GENESIS_HASH, []
    for row in rows:
        row["prev_hash"] = prev
        row["hash"] = prev = audit.record_hash(row)
        statements.append(f"UPDATE audit_record SET output_json = '{row['output_json']}', "
                          f"prev_hash = '{row['prev_hash']}', hash = '{row['hash']}' WHERE seq = {row['seq']}")
    execute(engine, *statements, f"UPDATE audit_head SET hash = '{prev}' WHERE id = 1")
    result = audit.verify(engine, RING)
    assert not result.intact and result.first_broken.seq == 5 and "signed checkpoint" in result.first_broken.reason
    forged = Signer(b"\x01" * 32)  # re-signing needs the private key: a forger's own key does not verify
    execute(engine, "DELETE FROM audit_checkpoint", f"INSERT INTO audit_checkpoint VALUES (10, '{rows[9]['hash']}', "
            f"'2025', '{forged.key_id}', '{forged.sign(10, rows[9]['hash'], '2025')}')")
    assert "not among the trusted keys" in audit.verify(engine, RING).first_broken.reason


def test_a_purge_keeps_the_chain_verifiable_and_is_itself_in_the_trail(engine):
    populate(engine, 40, batch=10)
    with engine.connect() as conn:
        times = sorted({r[0] for r in conn.execute(text("SELECT created_at FROM audit_record"))})
    if engine.dialect.name == "postgresql":  # the owner's retention floor, lowered for this test
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_policy SET retention_days = 0"))
    outcome = purge(engine, times[2], Checkpointer(signer=SIGNER), who="operator:test", request_id="purge-1",
                    versions=("g", "e", "r"))
    assert outcome["purged"] == 20 and outcome["through_seq"] == 20
    result = audit.verify(engine, RING)
    assert result.intact and result.records == 21  # 20 kept + the purge's own record
    with engine.connect() as conn:
        action, body = conn.execute(text("SELECT action, output_json FROM audit_record ORDER BY seq DESC")).first()
    assert action == "audit.purged" and json.loads(body)["anchor_checkpoint"]["seq"] == 20
    execute(engine, "DELETE FROM audit_checkpoint WHERE seq = 20")  # without its anchor, the start is unproven
    assert "no signed checkpoint anchors" in audit.verify(engine, RING).first_broken.reason


def test_purge_refuses_dates_within_the_retention_period(database_url, tmp_path):
    env = {"BONEMETS_DATABASE_URL": database_url, "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY,
           "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY, "BONEMETS_VAR_DIR": str(tmp_path), "PATH": "",
           "BONEMETS_AUDIT_RETENTION_DAYS": "3650"}
    refused = subprocess.run([sys.executable, "-m", "api.cli", "audit", "purge", "--before", "2025-01-01"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "retention" in refused.stderr


def test_every_reviewer_query_is_itself_audited(client, keys, engine):
    client.get("/v1/audit", params={"patient_ref": "P7", "rule_id": "SP-3"}, headers=Keys.header(keys.auditor))
    with engine.connect() as conn:
        who, what, patient = conn.execute(text(
            "SELECT client, input_json, patient_hash FROM audit_record WHERE action = 'audit.queried'")).one()
    assert who == "compliance" and json.loads(what)["rule_id"] == "SP-3" and "P7" not in what
    assert patient == pseudonymise(PSEUDONYM_KEY.encode(), "P7")


@pytest.mark.parametrize("path", ["/v1/audit", "/v1/audit/verify", "/v1/audit/checkpoints", "/v1/audit?format=csv"])
def test_non_auditors_get_403_on_every_audit_endpoint(client, keys, path):
    for key in (keys.scoring, keys.registry):
        assert client.get(path, headers=Keys.header(key)).status_code == 403
