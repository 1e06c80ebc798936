"""The append-only, hash-chained audit trail: a group-committing writer and its verifier.

Every record's hash is SHA-256 over a canonical encoding (JSON, keys sorted) of all its other fields,
the previous record's hash included. One writer thread per process takes the requests waiting in its
queue, locks the chain head (a row every writer of every process updates first), chains the batch in
order and commits once; only then are the callers answered. So no response leaves before its record
is durable, and the chain stays linear across threads and processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import queue
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from sqlalchemy import Engine, func, select

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
    """A random (version 4) UUID. From the process's PRNG, seeded from the OS and reseeded after fork:
    ids must be unique, not secret, and os.urandom per response measured 6 % of the API's CPU."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


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
        self._connection: Any = None  # the writer thread's own connection, kept between batches

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

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
            if self._connection is None:
                self._connection = self._engine.raw_connection()
            receipts = write_batch(self._connection, self._engine.dialect.name, [entry for entry, _ in batch])
        except Exception as exc:  # any failure to commit: every caller of the batch gets 503
            log.error("audit.write_failed", error=type(exc).__name__, batch=len(batch))
            self._drop_connection()
            for _, future in batch:
                future.set_exception(AuditUnavailable(str(exc)))
            return
        for (_, future), receipt in zip(batch, receipts, strict=True):
            future.set_result(receipt)

    def _drop_connection(self) -> None:
        """Forget a connection that failed; the next batch opens a fresh one (no ping per batch)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.invalidate()
            self._connection = None


COLUMNS = (*HASHED_FIELDS, "hash")
_INSERT = f"INSERT INTO audit_record ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_COPY = f"COPY audit_record ({', '.join(COLUMNS)}) FROM STDIN"


def write_batch(raw: Any, dialect: str, entries: list[AuditEntry]) -> list[Receipt]:
    """Chain and insert `entries` in one transaction on the DBAPI connection `raw`, then commit.

    This is the hot path of every response, so it speaks to the driver directly (a batch costs a few
    statements, not an ORM unit of work): COPY on PostgreSQL, executemany on SQLite.
    """
    try:
        cursor = raw.cursor()
        receipts = append_chained(cursor, dialect, lock_head(cursor, dialect), entries)
        raw.commit()
        return receipts
    except BaseException:
        with contextlib.suppress(Exception):  # the connection may be the thing that failed
            raw.rollback()
        raise


def lock_head(cursor: Any, dialect: str) -> tuple[int, str]:
    """Lock the chain head for this transaction and read it: the head row's lock on PostgreSQL, the
    database's write lock on SQLite. No other writer, thread or process, can chain from the same head."""
    if dialect == "postgresql":
        cursor.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
    else:
        cursor.execute("UPDATE audit_head SET seq = seq WHERE id = 1")
        cursor.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
    seq, prev = cursor.fetchone()
    return seq, prev


def append_chained(cursor: Any, dialect: str, head: tuple[int, str], entries: list[AuditEntry]) -> list[Receipt]:
    """Insert `entries` chained after `head` (locked by the caller's transaction) and move the head."""
    seq, prev = head
    if not entries:
        return []
    created_at = _now()
    rows, receipts = [], []
    for entry in entries:
        seq += 1
        row = msgspec.structs.asdict(entry)
        row.update(seq=seq, created_at=created_at, prev_hash=prev, rule_ids=",".join(entry.rule_ids))
        row["hash"] = prev = record_hash(row)
        rows.append(tuple(row[c] for c in COLUMNS))
        receipts.append(Receipt(id=entry.id, seq=seq, hash=prev))
    postgres = dialect == "postgresql"
    if postgres:
        with cursor.copy(_COPY) as copy:
            for values in rows:
                copy.write_row(values)
    else:
        cursor.executemany(_INSERT, rows)
    placeholder = "%s" if postgres else "?"
    cursor.execute(f"UPDATE audit_head SET seq = {placeholder}, hash = {placeholder} WHERE id = 1", (seq, prev))
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
    columns = [getattr(AuditRecord, name) for name in COLUMNS]
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
