"""The append-only, hash-chained audit trail: a group-committing writer and its verifier.

Every record's hash is SHA-256 over a canonical encoding (JSON, keys sorted) of all its other fields,
the previous record's hash included. One writer thread per process takes the requests waiting in its
queue, locks the chain head (a row every writer of every process updates first), chains the batch in
order and commits once; only then are the callers answered. So no response leaves before its record
is durable, and the chain stays linear across threads and processes.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from sqlalchemy import Engine, func, insert, select, update

from infra.tables import GENESIS_HASH, AuditHead, AuditRecord

log = structlog.get_logger("bonemets.audit")
_canonical = msgspec.json.Encoder(order="sorted")

HASHED_FIELDS = (
    "seq", "id", "created_at", "client", "roles", "endpoint", "action", "request_id", "patient_hash",
    "input_json", "output_json", "rule_ids", "guideline_version", "engine_version", "rules_version",
    "job_id", "prev_hash",
)


class AuditUnavailable(RuntimeError):
    """The audit store could not commit the record: no recommendation may be given."""


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller asks to record; the writer adds seq, time and the hashes."""

    id: str
    client: str
    roles: str
    endpoint: str
    action: str
    request_id: str
    patient_hash: str | None
    input_json: str
    output_json: str
    rule_ids: tuple[str, ...]
    guideline_version: str
    engine_version: str
    rules_version: str
    job_id: str | None = None


class Receipt(msgspec.Struct, frozen=True):
    id: str
    seq: int
    hash: str


def new_id() -> str:
    return str(uuid.uuid4())


def pseudonymise(key: bytes, patient_ref: str | None) -> str | None:
    """The keyed hash (HMAC-SHA-256) stored instead of a patient reference."""
    if patient_ref is None:
        return None
    return hmac.new(key, patient_ref.encode(), hashlib.sha256).hexdigest()


def record_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical.encode({k: row[k] for k in HASHED_FIELDS})).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditWriter:
    """Group commit: callers submit entries and wait for the batch that holds theirs to commit."""

    def __init__(self, engine: Engine, *, batch_max: int = 512) -> None:
        self._engine = engine
        self._batch_max = batch_max
        self._queue: queue.SimpleQueue[tuple[AuditEntry, Future[Receipt]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, entry: AuditEntry) -> Future[Receipt]:
        future: Future[Receipt] = Future()
        self._queue.put((entry, future))
        return future

    def append(self, entry: AuditEntry, timeout: float = 10.0) -> Receipt:
        """Synchronous append (workers, CLI): returns once the record is committed."""
        self.start()
        return self.submit(entry).result(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < self._batch_max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
            try:
                self._commit(batch)
            except Exception as exc:  # the writer thread must outlive any one batch
                log.error("audit.writer_error", error=type(exc).__name__)
            if stopping:
                return

    def _commit(self, batch: list[tuple[AuditEntry, Future[Receipt]]]) -> None:
        # A caller that gave up (timed out, disconnected) before its batch started gets no record; from
        # here on its future can no longer be cancelled, so each one below is answered exactly once.
        batch = [(entry, future) for entry, future in batch if future.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            receipts = write_batch(self._engine, [entry for entry, _ in batch])
        except Exception as exc:  # any failure to commit: every caller of the batch gets 503
            log.error("audit.write_failed", error=type(exc).__name__, batch=len(batch))
            for _, future in batch:
                future.set_exception(AuditUnavailable(str(exc)))
            return
        for (_, future), receipt in zip(batch, receipts, strict=True):
            future.set_result(receipt)


def write_batch(engine: Engine, entries: list[AuditEntry]) -> list[Receipt]:
    """Chain and insert `entries` in one transaction, holding the chain head's row lock throughout."""
    with engine.begin() as conn:
        # A write first: it takes the row lock (PostgreSQL) or the database's write lock (SQLite) before
        # the head is read, so no other writer can chain from the same head.
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
        head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
        if head is None:
            conn.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS_HASH))
            seq, prev = 0, GENESIS_HASH
        else:
            seq, prev = head
        created_at = _now()
        rows, receipts = [], []
        for entry in entries:
            seq += 1
            row = msgspec.structs.asdict(entry)
            row.update(seq=seq, created_at=created_at, prev_hash=prev, rule_ids=",".join(entry.rule_ids))
            row["hash"] = prev = record_hash(row)
            rows.append(row)
            receipts.append(Receipt(id=entry.id, seq=seq, hash=prev))
        conn.execute(insert(AuditRecord), rows)
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return receipts


class Broken(msgspec.Struct, frozen=True):
    id: str | None
    seq: int | None
    reason: str


class Verification(msgspec.Struct, frozen=True):
    intact: bool
    records: int
    first_broken: Broken | None


def verify(engine: Engine, *, chunk: int = 5000) -> Verification:
    """Walk the chain from its first record: recompute each hash, check each link and the head."""
    with engine.connect() as conn:
        head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
        rows = _stream(conn, chunk)
        try:
            return verify_rows(rows, head=tuple(head) if head else None)
        finally:
            rows.close()  # an early verdict leaves a server-side cursor open otherwise


def _stream(conn, chunk: int) -> Iterator[dict[str, Any]]:
    columns = [getattr(AuditRecord, name) for name in (*HASHED_FIELDS, "hash")]
    result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
        select(*columns).order_by(AuditRecord.seq)
    )
    try:
        for row in result:
            yield row._asdict()
    finally:
        result.close()


def verify_rows(rows: Iterator[dict[str, Any]], head: tuple[int, str] | None) -> Verification:
    prev, expected_seq, count, last = GENESIS_HASH, 1, 0, None
    for row in rows:
        if row["seq"] != expected_seq:
            return _broken(count, row, f"sequence gap: expected {expected_seq}, found {row['seq']}"
                           " (a record was deleted or reordered)")
        if row["prev_hash"] != prev:
            return _broken(count, row, "prev_hash does not match the previous record's hash "
                           "(a record was deleted, inserted or reordered)")
        if record_hash(row) != row["hash"]:
            return _broken(count, row, "hash does not match the record's content (the record was modified)")
        prev, expected_seq, count, last = row["hash"], expected_seq + 1, count + 1, row
    if head is not None and (head[0], head[1]) != ((last["seq"], last["hash"]) if last else (0, GENESIS_HASH)):
        return Verification(intact=False, records=count, first_broken=Broken(
            id=None, seq=head[0], reason=f"chain head says record {head[0]} ends the trail, the table ends at "
            f"{last['seq'] if last else 0} (records were removed from the end)"))
    return Verification(intact=True, records=count, first_broken=None)


def _broken(count: int, row: dict[str, Any], reason: str) -> Verification:
    return Verification(intact=False, records=count, first_broken=Broken(id=row["id"], seq=row["seq"], reason=reason))


def count_records(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
