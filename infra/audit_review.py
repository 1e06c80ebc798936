"""The reviewer's side of the audit trail: filtered, cursor-paginated queries and exports that verify
offline, FHIR R4 AuditEvent renderings (IHE BALP), signed checkpoints, and the audited retention purge."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from sqlalchemy import Engine, or_, select

from infra.audit import (
    COLUMNS,
    AuditEntry,
    Broken,
    Checkpoint,
    Verification,
    append_chained,
    checkpoints_of,
    lock_head,
    new_id,
    record_hash,
    utc_now,
)
from infra.db import placeholder, raw_transaction
from infra.signing import Checkpointer, signature_valid
from infra.tables import AuditRecord

MAX_PAGE = 1000


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    since: str | None = None
    until: str | None = None
    client: str | None = None
    patient_hash: str | None = None
    rule_id: str | None = None
    endpoint: str | None = None
    action: str | None = None
    job_id: str | None = None


def _where(query: Any, f: Filters) -> Any:
    if f.since:
        query = query.where(AuditRecord.created_at >= f.since)
    if f.until:
        query = query.where(AuditRecord.created_at < f.until)
    for column, value in ((AuditRecord.client, f.client), (AuditRecord.patient_hash, f.patient_hash),
                          (AuditRecord.action, f.action), (AuditRecord.job_id, f.job_id)):
        if value is not None:
            query = query.where(column == value)
    if f.endpoint is not None:
        query = query.where(AuditRecord.endpoint.startswith(f.endpoint, autoescape=True))
    if f.rule_id is not None:  # rule_ids is "A,B,C": match a whole id, never a prefix of another
        r = f.rule_id
        query = query.where(or_(AuditRecord.rule_ids == r, AuditRecord.rule_ids.startswith(f"{r},", autoescape=True),
                                AuditRecord.rule_ids.endswith(f",{r}", autoescape=True),
                                AuditRecord.rule_ids.contains(f",{r},", autoescape=True)))
    return query


def page(engine: Engine, filters: Filters, *, after: int = 0, limit: int = 100) -> tuple[list[dict], int | None]:
    """One page in sequence order after the cursor `after` (a seq): stable while records are appended,
    since a new record always has a higher seq. Returns (records, next cursor or None)."""
    columns = [getattr(AuditRecord, c) for c in COLUMNS]
    query = _where(select(*columns), filters).where(AuditRecord.seq > after).order_by(AuditRecord.seq)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit + 1)).all()
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows[:limit]]
    return records, (records[-1]["seq"] if len(rows) > limit else None)


def export(engine: Engine, filters: Filters, batch: int = 5000) -> Iterator[list[dict]]:
    after = 0
    while True:
        records, cursor = page(engine, filters, after=after, limit=batch)
        if records:
            yield records
        if cursor is None:
            return
        after = cursor


def ndjson_lines(batches: Iterable[list[dict]]) -> Iterator[bytes]:
    encode = msgspec.json.Encoder().encode
    for records in batches:
        yield b"".join(encode(r) + b"\n" for r in records)


def csv_lines(batches: Iterable[list[dict]]) -> Iterator[bytes]:
    """CSV with every hashed column and the hash; an absent value (null) is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for records in batches:
        for r in records:
            writer.writerow(["" if r[c] is None else r[c] for c in COLUMNS])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue().encode()


NULLABLE = {"patient_hash", "job_id"}


def read_export(path: str) -> list[dict[str, Any]]:
    """An NDJSON or CSV export back into records (for offline verification)."""
    with open(path, encoding="utf-8") as f:
        if path.endswith(".csv"):
            rows = list(csv.DictReader(f))
            return [{**{k: (None if k in NULLABLE and v == "" else v) for k, v in row.items()}, "seq": int(row["seq"])}
                    for row in rows]
        return [json.loads(line) for line in f if line.strip()]


def verify_export(records: list[dict[str, Any]], checkpoints: list[Checkpoint] = (),
                  public_key: str | None = None) -> Verification:
    """Offline: every record's own hash, the link between records that follow each other, and every
    signed checkpoint the export reaches. A filtered export verifies record by record."""
    signed = {}
    for cp in checkpoints:
        if public_key is not None and not signature_valid(public_key, cp.seq, cp.hash, cp.created_at, cp.signature):
            return Verification(intact=False, records=0, first_broken=Broken(
                id=None, seq=cp.seq, reason=f"checkpoint at {cp.seq} has an invalid signature"))
        signed[cp.seq] = cp.hash
    previous = None
    for count, record in enumerate(sorted(records, key=lambda r: r["seq"])):
        problem = None
        if record_hash(record) != record["hash"]:
            problem = "hash does not match the record's content (the record was modified)"
        elif previous is not None and record["seq"] == previous["seq"] + 1 and record["prev_hash"] != previous["hash"]:
            problem = "prev_hash does not match the previous record's hash"
        elif record["seq"] in signed and signed[record["seq"]] != record["hash"]:
            problem = f"record differs from the signed checkpoint at {record['seq']} (the chain was rewritten)"
        elif record["seq"] - 1 in signed and signed[record["seq"] - 1] != record["prev_hash"]:
            problem = f"prev_hash differs from the signed checkpoint at {record['seq'] - 1}"
        if problem:
            return Verification(intact=False, records=count,
                                first_broken=Broken(id=record["id"], seq=record["seq"], reason=problem))
        previous = record
    return Verification(intact=True, records=len(records), first_broken=None, checkpoints=len(signed))


def purge(engine: Engine, before: str, checkpoints: Checkpointer, *, who: str, request_id: str,
          versions: tuple[str, str, str]) -> dict[str, Any]:
    """Delete the records older than `before`, in one transaction: sign a checkpoint of the last deleted
    record (it anchors the first kept one), open the purge permit the triggers require, delete, close it,
    and append the purge's own audit record."""
    dialect, mark = engine.dialect.name, placeholder(engine)
    with raw_transaction(engine) as cursor:
        head = lock_head(cursor, dialect)
        cursor.execute(f"SELECT seq, hash FROM audit_record WHERE created_at < {mark} ORDER BY seq DESC LIMIT 1",
                       (before,))
        last = cursor.fetchone()
        purged, anchor = 0, None
        if last is not None:
            anchor = checkpoints.signed(last[0], last[1], utc_now())
            cursor.execute(f"DELETE FROM audit_checkpoint WHERE seq = {mark}", (last[0],))
            cursor.execute(f"INSERT INTO audit_checkpoint (seq, hash, created_at, key_id, signature) "
                           f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})", anchor)
            cursor.execute("INSERT INTO audit_purge_permit (id) VALUES (1)")
            cursor.execute(f"DELETE FROM audit_record WHERE seq <= {mark}", (last[0],))
            purged = cursor.rowcount
            cursor.execute("DELETE FROM audit_purge_permit")
        outcome = {"purged": purged, "through_seq": last[0] if last else None,
                   "anchor_checkpoint": None if anchor is None else {"seq": anchor[0], "hash": anchor[1]}}
        append_chained(cursor, dialect, head, [AuditEntry(
            id=new_id(), client=who, roles="operator", endpoint="bonemets audit purge", action="audit.purged",
            request_id=request_id, patient_hash=None, input_json=json.dumps({"before": before}),
            output_json=json.dumps(outcome, sort_keys=True), rule_ids=(), guideline_version=versions[0],
            engine_version=versions[1], rules_version=versions[2])])
    return outcome


__all__ = ["Filters", "checkpoints_of", "csv_lines", "export", "ndjson_lines", "page", "purge", "read_export",
           "verify_export"]
