"""The reviewer's side of the audit trail: filtered, cursor-paginated queries and exports that verify
offline, FHIR R4 AuditEvent renderings (IHE BALP), signed checkpoints, and the audited retention purge."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec
from sqlalchemy import Engine, or_, select

from infra.audit import (
    COLUMNS,
    GENESIS_HASH,
    Broken,
    Checkpoint,
    Verification,
    Versions,
    append_chained,
    checkpoint_head,
    checkpoints_of,
    entry,
    lock_head,
    record_hash,
    signed_checkpoints,
    utc_now,
)
from infra.db import placeholder, raw_transaction
from infra.signing import Checkpointer, KeyRing, Signer
from infra.tables import AuditHead, AuditRecord

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


def page(engine: Engine, filters: Filters, *, after: int = 0, limit: int = 100,
         through: int | None = None) -> tuple[list[dict], int | None]:
    """One page in sequence order after the cursor `after` (a seq): stable while records are appended,
    since a new record always has a higher seq. Returns (records, next cursor or None)."""
    columns = [getattr(AuditRecord, c) for c in COLUMNS]
    query = _where(select(*columns), filters).where(AuditRecord.seq > after).order_by(AuditRecord.seq)
    if through is not None:
        query = query.where(AuditRecord.seq <= through)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit + 1)).all()
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows[:limit]]
    return records, (records[-1]["seq"] if len(rows) > limit else None)


def head_of(engine: Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    return head[0], head[1]


def export(engine: Engine, filters: Filters, through: int, batch: int = 2000) -> Iterator[list[dict]]:
    """Every record matching `filters` up to record `through` (the head when the export began: an export is one
    fixed set, whatever is written while it streams), in batches of bounded size, from ONE query read through a
    server-side cursor: no page re-planned per batch (a keyset page per batch on a freshly loaded table was
    planned as a full scan each time: 2,000 records/s), no more than `batch` records in memory."""
    columns = [getattr(AuditRecord, c) for c in COLUMNS]
    query = _where(select(*columns), filters).where(AuditRecord.seq <= through).order_by(AuditRecord.seq)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=batch).execute(query)
        for rows in result.partitions():
            yield [dict(zip(COLUMNS, row, strict=True)) for row in rows]


class ManifestBuilder:
    """Counts and digests the records of an export as they stream; then the manifest the service signs:
    what was asked, which records (first and last seq, count, SHA-256 over their hashes in order), the chain
    hash at the last one, and for a full export the signed checkpoints that cover it."""

    def __init__(self, filters: Filters, through: int) -> None:
        self.filters, self.through = filters, through
        self.count, self.first, self.last, self.chain_hash = 0, None, None, None
        self._digest = hashlib.sha256()

    def add(self, records: list[dict]) -> list[dict]:
        for r in records:
            self._digest.update(r["hash"].encode() + b"\n")
        if records:
            self.count += len(records)
            self.first = self.first if self.first is not None else records[0]["seq"]
            self.last, self.chain_hash = records[-1]["seq"], records[-1]["hash"]
        return records

    def manifest(self, checkpoints: list[Checkpoint]) -> dict[str, Any]:
        asked = {k: v for k, v in msgspec.structs.asdict(self.filters).items() if v is not None}
        full = not asked
        covering = [] if not full or self.first is None else [
            msgspec.structs.asdict(c) for c in checkpoints if self.first - 1 <= c.seq <= self.through]
        return {"kind": "bonemets-audit-export", "version": 1, "filters": asked, "full": full,
                "through_seq": self.through, "first_seq": self.first, "last_seq": self.last, "count": self.count,
                "digest": self._digest.hexdigest(), "chain_hash": self.chain_hash, "checkpoints": covering,
                "created_at": utc_now()}


def signed_manifest(engine: Engine, builder: ManifestBuilder, signer: Signer) -> dict[str, Any]:
    return signer.sign_manifest(builder.manifest(checkpoints_of(engine)))


def manifest_for(engine: Engine, filters: Filters, through: int, signer: Signer) -> dict[str, Any]:
    """The signed manifest of an export made earlier with the same filters and `through` (for CSV, whose
    format has no room for a trailing manifest)."""
    builder = ManifestBuilder(filters, through)
    for records in export(engine, filters, through):
        builder.add(records)
    return signed_manifest(engine, builder, signer)


def ndjson_lines(batches: Iterable[list[dict]], trailer: Callable[[], dict] | None = None) -> Iterator[bytes]:
    """One record per line; with `trailer`, a last line {"manifest": ...} made once every record is out."""
    encode = msgspec.json.Encoder().encode
    for records in batches:
        yield b"".join(encode(r) + b"\n" for r in records)
    if trailer is not None:
        yield encode({"manifest": trailer()}) + b"\n"


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


class ExportFile:
    """An NDJSON or CSV export read back one record at a time (constant memory, whatever its size); an NDJSON
    export's trailing manifest line ends up in `manifest`."""

    def __init__(self, path: str) -> None:
        self.path, self.manifest = path, None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with open(self.path, encoding="utf-8", newline="") as f:
            if self.path.endswith(".csv"):
                for number, row in enumerate(csv.DictReader(f), 2):
                    try:
                        yield {**{k: (None if k in NULLABLE and v == "" else v) for k, v in row.items()},
                               "seq": int(row["seq"])}
                    except (KeyError, ValueError, TypeError):
                        raise ExportUnreadable(f"line {number} is not an audit record") from None
                return
            decode = msgspec.json.Decoder().decode
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                if self.manifest is not None:
                    raise ExportUnreadable(f"line {number} follows the manifest, which must be the last line")
                try:
                    item = decode(line)
                except msgspec.DecodeError:
                    raise ExportUnreadable(f"line {number} is not JSON") from None
                if isinstance(item, dict) and set(item) == {"manifest"}:
                    self.manifest = item["manifest"]
                elif isinstance(item, dict) and isinstance(item.get("seq"), int):
                    yield item
                else:
                    raise ExportUnreadable(f"line {number} is not an audit record")


class ExportUnreadable(ValueError):
    """The file is not an export of this service (the message names the line)."""


def verify_export(records: Iterable[dict[str, Any]], checkpoints: Iterable[Checkpoint] = (),
                  keyring: KeyRing | None = None, manifest: dict[str, Any] | Callable[[], Any] | None = None,
                  ) -> Verification:
    """Offline, in one pass and constant memory: every record's own hash, the order, the link between records
    that follow each other, every signed checkpoint the export reaches; then, against the signed manifest,
    completeness: in a full export a missing, inserted, reordered or cut record is named; in a filtered one the
    signed count and digest reveal a record removed or added."""
    signed, bad = signed_checkpoints(checkpoints, keyring)
    if bad is not None:
        return bad
    digest, count = hashlib.sha256(), 0
    previous, first, gap = None, None, None
    for record in records:
        try:
            own = record_hash(record)
        except (KeyError, TypeError, ValueError, msgspec.EncodeError):
            return _at(count, record, "the record lacks fields of the audit trail")
        problem = None
        if own != record["hash"]:
            problem = "hash does not match the record's content (the record was modified)"
        elif previous is not None and record["seq"] <= previous["seq"]:
            problem = (f"record {record['seq']} comes after record {previous['seq']} (records were reordered, or one "
                       "was inserted twice)")
        elif previous is not None and record["seq"] == previous["seq"] + 1 and record["prev_hash"] != previous["hash"]:
            problem = "prev_hash does not match the previous record's hash (a record was inserted or replaced)"
        elif record["seq"] in signed and signed[record["seq"]] != record["hash"]:
            problem = f"record differs from the signed checkpoint at {record['seq']} (the chain was rewritten)"
        elif record["seq"] - 1 in signed and signed[record["seq"] - 1] != record["prev_hash"]:
            problem = f"prev_hash differs from the signed checkpoint at {record['seq'] - 1}"
        if problem:
            return _at(count, record, problem)
        if previous is not None and gap is None and record["seq"] != previous["seq"] + 1:
            gap = (previous["seq"] + 1, record)
        first = first or record
        digest.update(record["hash"].encode() + b"\n")
        previous, count = record, count + 1
    if callable(manifest):
        manifest = manifest()
    if manifest is None:
        return Verification(intact=True, records=count, first_broken=None, checkpoints=len(signed))
    try:
        return _against_manifest(manifest, keyring, count, digest.hexdigest(), first, previous, gap, signed)
    except (KeyError, TypeError, ValueError, AttributeError):
        return Verification(intact=False, records=count, first_broken=Broken(
            id=None, seq=None, reason="the manifest is not one this service signs (fields missing or malformed)"))


def _against_manifest(manifest: dict[str, Any], keyring: KeyRing | None, count: int, digest: str,
                      first: dict | None, last: dict | None, gap: tuple[int, dict] | None,
                      signed: dict[int, str]) -> Verification:
    def broken(reason: str, record: dict | None = None, seq: int | None = None) -> Verification:
        return Verification(intact=False, records=count, first_broken=Broken(
            id=record["id"] if record else None, seq=record["seq"] if record else seq, reason=reason))

    if keyring is None or not keyring.manifest_valid(manifest):
        return broken("the manifest's signature does not verify with the trusted keys (the manifest was altered, or "
                      "signed by a key you did not trust)" if keyring is not None else
                      "the manifest's signature cannot be checked without a trusted public key")
    listed, bad = signed_checkpoints([Checkpoint(**c) for c in manifest.get("checkpoints", [])], keyring)
    if bad is not None:
        return bad
    for seq, chain_hash in listed.items():
        if signed.get(seq, chain_hash) != chain_hash:
            return broken(f"the manifest's checkpoint at {seq} differs from the given one", seq=seq)
    if manifest["full"]:
        if first is not None and first["seq"] != manifest["first_seq"]:
            return broken(f"the export starts at record {first['seq']}, its manifest at {manifest['first_seq']} "
                          "(records were cut from the start)", first)
        if first is not None and first["seq"] == 1 and first["prev_hash"] != GENESIS_HASH:
            return broken("the first record does not start the chain", first)
        if first is not None and first["seq"] > 1 and listed.get(first["seq"] - 1, first["prev_hash"]) != first[
                "prev_hash"]:
            return broken(f"the first record is not anchored by the checkpoint at {first['seq'] - 1}", first)
        if gap is not None:
            return broken(f"record {gap[0]} is missing (deleted from the export)", seq=gap[0])
        if last is not None and last["seq"] < (manifest["last_seq"] or 0):
            return broken(f"the export ends at record {last['seq']}, its manifest at {manifest['last_seq']} "
                          "(records were cut from the end)", last)
    if count != manifest["count"] or digest != manifest["digest"]:
        return broken(f"the export holds {count} records, its signed manifest {manifest['count']} with another "
                      "digest (a record was removed or added)" if count != manifest["count"] else
                      "the records' digest differs from the signed manifest's (a record was replaced)")
    if last is not None and (last["seq"] != manifest["last_seq"] or last["hash"] != manifest["chain_hash"]):
        return broken("the last record is not the one the manifest signed", last)
    return Verification(intact=True, records=count, first_broken=None,
                        checkpoints=len(listed) if manifest["full"] else 0)


def _at(count: int, record: dict, reason: str) -> Verification:
    return Verification(intact=False, records=count, first_broken=Broken(id=record.get("id"), seq=record.get("seq"),
                                                                         reason=reason))


def purge(engine: Engine, before: str, checkpoints: Checkpointer, *, who: str, request_id: str,
          versions: tuple[str, str, str]) -> dict[str, Any]:
    """Delete the records older than `before`, in one transaction: sign a checkpoint of the last deleted
    record (it anchors the first kept one), delete, and append the purge's own audit.purged record; then sign
    the new head. On PostgreSQL all of it runs inside bonemets_audit_purge(), the owner's SECURITY DEFINER
    function (the service's role cannot delete a record any other way); on SQLite, here, through the permit
    the triggers require."""
    dialect, mark = engine.dialect.name, placeholder(engine)
    with raw_transaction(engine, checkpoints) as cursor:
        if dialect != "postgresql":
            head = lock_head(cursor, dialect)
        cursor.execute(f"SELECT seq, hash FROM audit_record WHERE created_at < {mark} ORDER BY seq DESC LIMIT 1",
                       (before,))
        last = cursor.fetchone()
        anchor = None if last is None else checkpoints.signed(last[0], last[1], utc_now())
        outcome = {"purged": 0, "through_seq": None, "anchor_checkpoint": None}
        if last is not None and dialect == "postgresql":
            cursor.execute("SELECT bonemets_audit_purge(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                           (before, last[0], anchor[2], anchor[3], anchor[4], who, request_id, *versions))
            outcome = json.loads(cursor.fetchone()[0])
        elif last is not None:
            cursor.execute(f"INSERT INTO audit_checkpoint (seq, hash, created_at, key_id, signature) "
                           f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) ON CONFLICT (seq) DO NOTHING", anchor)
            cursor.execute("INSERT INTO audit_purge_permit (id) VALUES (1)")
            cursor.execute(f"DELETE FROM audit_record WHERE seq <= {mark}", (last[0],))
            outcome = {"purged": cursor.rowcount, "through_seq": last[0],
                       "anchor_checkpoint": {"seq": anchor[0], "hash": anchor[1]}}
            cursor.execute("DELETE FROM audit_purge_permit")
        if dialect != "postgresql" or last is None:
            append_chained(cursor, dialect, head if dialect != "postgresql" else lock_head(cursor, dialect),
                           [entry(client=who, roles="operator", endpoint="bonemets audit purge",
                                  action="audit.purged", request_id=request_id, inputs=json.dumps({"before": before}),
                                  output=json.dumps(outcome, sort_keys=True), versions=Versions(*versions))])
    raw = engine.raw_connection()
    try:  # the purge's own record, signed at once
        checkpoint_head(raw, dialect, checkpoints)
        if outcome["through_seq"] is not None and checkpoints.sink is not None:
            cursor = raw.cursor()
            cursor.execute("SELECT seq, hash FROM audit_record WHERE action = 'audit.purged' ORDER BY seq DESC "
                           "LIMIT 1")
            record_seq, record_hash = cursor.fetchone()
            raw.rollback()
            # published outside the database: a purge a verifier with the sink accepts, which no one with the
            # database alone can forge
            checkpoints.publish_lines([checkpoints.signer.purge_line(
                outcome["through_seq"], outcome["anchor_checkpoint"]["hash"], record_seq, record_hash, utc_now())])
    finally:
        raw.close()
    return outcome


__all__ = ["ExportFile", "Filters", "ManifestBuilder", "checkpoints_of", "csv_lines", "export", "manifest_for",
           "ndjson_lines", "page", "purge", "verify_export"]


def record_and_neighbours(engine: Engine, record_id: str) -> tuple[dict | None, str | None, str | None]:
    """One record by id, with the ids of the records before and after it in the chain (None at either end): the
    web console's record page and its links along the chain."""
    columns = [getattr(AuditRecord, c) for c in COLUMNS]
    with engine.connect() as conn:
        row = conn.execute(select(*columns).where(AuditRecord.id == record_id)).one_or_none()
        if row is None:
            return None, None, None
        record = dict(zip(COLUMNS, row, strict=True))
        before = conn.execute(select(AuditRecord.id).where(AuditRecord.seq < record["seq"])
                              .order_by(AuditRecord.seq.desc()).limit(1)).scalar()
        after = conn.execute(select(AuditRecord.id).where(AuditRecord.seq > record["seq"])
                             .order_by(AuditRecord.seq).limit(1)).scalar()
    return record, before, after
