"""The append-only, hash-chained trail: its chaining, a group-committing writer thread and the verifier.

Every record's hash is SHA-256 over a canonical encoding (JSON, keys sorted) of all its other fields,
the previous record's hash included. A writer takes the requests waiting for it, locks the chain head (a row
every writer of every process updates first), chains the batch in order and commits once; only then are the
callers answered. So no response leaves before its record is durable, and the chain stays linear across
threads and processes. The API's writer runs on its event loop (infra.audit_loop.LoopWriter); the thread
writer here (AuditWriter) serves the workers and the operator's commands; both chain with `chain`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import itertools
import operator
import os
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
import structlog
from sqlalchemy import Engine, select

from infra.signing import Checkpointer, KeyRing, Published
from infra.tables import GENESIS_HASH, AuditCheckpoint

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


_encode_json = msgspec.json.Encoder().encode


def _as_json(value: Any) -> str:
    """A record's input or output as JSON text: bytes and str are taken as already encoded, anything else encoded."""
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else _encode_json(value).decode()


class Versions(msgspec.Struct, frozen=True):
    """The guideline, engine and rules versions an audit record names."""

    guideline_version: str
    engine_version: str
    rules_version: str


def current_versions() -> Versions:
    """The running engine's versions: for records that are not an answer (a query, a job, a report, a purge)."""
    from domain import version

    return Versions(version.GUIDELINE_VERSION, version.ENGINE_VERSION, version.RULES_VERSION)


def entry(*, client: str, roles: str | Iterable[str], endpoint: str, action: str, request_id: str, inputs: Any,
          output: Any, patient_hash: str | None = None, rule_ids: Iterable[str] = (), versions: Any = None,
          job_id: str | None = None, record_id: str | None = None) -> AuditEntry:
    """One audit record to append, built the same way by the API, the workers and the operator's commands: its
    inputs and output as JSON (already-encoded bytes or text, or values to encode), the versions of the answer it
    records (anything with guideline_version, engine_version and rules_version; the running engine's when None),
    and a new id unless the answer had to name its record before it was written (`record_id`)."""
    versions = versions or current_versions()
    return AuditEntry(
        id=record_id or new_id(), client=client, endpoint=endpoint, action=action, request_id=request_id,
        roles=roles if isinstance(roles, str) else ",".join(sorted(roles)), patient_hash=patient_hash,
        input_json=_as_json(inputs), output_json=_as_json(output), rule_ids=tuple(rule_ids),
        guideline_version=versions.guideline_version, engine_version=versions.engine_version,
        rules_version=versions.rules_version, job_id=job_id)


class Receipt(msgspec.Struct, frozen=True):
    id: str
    seq: int
    hash: str


# Audit ids come from a generator of their own, seeded from the OS and reseeded in every forked child: the
# global `random` can be reseeded by anyone (a library, a test framework), which once made ids repeat.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_id() -> str:
    """A random (version 4) UUID: unique, not secret; os.urandom per response measured 6 % of the API's CPU."""
    return _uuid4_text(_ids.getrandbits(128))


def _uuid4_text(bits: int) -> str:
    """str(uuid.UUID(int=bits, version=4)) without building the UUID object (a third of the cost; a test holds the
    two equal): the variant and version bits set as RFC 4122 says, then the 8-4-4-4-12 hex groups."""
    bits = (bits & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 4 << 76
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_hex() -> str:
    """128 random bits as 32 hex digits (a request id): from the same generator as new_id."""
    return f"{_ids.getrandbits(128):032x}"


def pseudonymise(key: bytes, patient_ref: str | None) -> str | None:
    """The keyed hash (HMAC-SHA-256) stored instead of a patient reference."""
    if patient_ref is None:
        return None
    return hmac.digest(key, patient_ref.encode(), "sha256").hex()  # one C call (hmac.new: a Python object)


def record_hash(row: dict[str, Any]) -> str:
    """SHA-256 of the canonical encoding: a JSON object of HASHED_FIELDS with its keys sorted."""
    return hashlib.sha256(_canonical.encode({k: row[k] for k in HASHED_FIELDS})).hexdigest()


# The same canonical bytes, faster, for verifying millions of rows: a Struct whose fields are declared in
# sorted order encodes exactly as the sorted-key object above (a test holds the two equal).
_Canonical = msgspec.defstruct("_Canonical", [(name, Any) for name in sorted(HASHED_FIELDS)])
assert _Canonical.__struct_fields__ == (
    "action", "client", "created_at", "endpoint", "engine_version", "guideline_version", "id", "input_json", "job_id",
    "output_json", "patient_hash", "prev_hash", "request_id", "roles", "rule_ids", "rules_version", "seq")  # prepare
_encode_struct = msgspec.json.Encoder().encode


def row_hash(row: tuple) -> str:
    """record_hash of a row given as a tuple in COLUMNS order."""
    return hashlib.sha256(_encode_struct(_Canonical(*_sorted_values(row)))).hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_Request = tuple[tuple[AuditEntry, ...], Future, bool]  # entries, their future, whether it wants the list


class WriterState:
    """What readiness asks of an audit writer, thread (AuditWriter) or event loop (infra.audit_loop.LoopWriter)."""

    _checkpoints: Checkpointer | None
    _busy_since: float | None  # monotonic start of the batch being written, if any
    _failed: bool  # the last batch could not be committed

    def running(self) -> bool:
        raise NotImplementedError

    def health(self, stalled_after_s: float = 10.0) -> str | None:
        """None when the writer can serve; otherwise why not (readiness)."""
        if not self.running():
            return "the writer is not running"
        busy = self._busy_since
        if busy is not None and time.monotonic() - busy > stalled_after_s:
            return f"a batch has been waiting on the database for over {stalled_after_s:g} s"
        if self._failed:
            return "the last batch could not be committed"
        return None

    def sink_state(self) -> str:
        """Where the checkpoints this writer signs are published, as readiness reports it (never blocking)."""
        checkpoints = self._checkpoints
        if checkpoints is None or checkpoints.sink is None:
            return "not configured (BONEMETS_AUDIT_CHECKPOINT_SINK)"
        if checkpoints.sink_failed:
            return f"failing: {checkpoints.waiting} checkpoints wait for the next publish"
        return "ok"

    def _tick_s(self) -> float | None:
        """How often an idle writer makes sure the head is signed: well inside the checkpoint interval."""
        if self._checkpoints is None:
            return None
        return min(60.0, max(0.2, self._checkpoints.minutes * 60 / 4))


class AuditWriter(WriterState):
    """Group commit: callers submit entries and wait for the batch that holds theirs to commit."""

    def __init__(self, engine: Engine, *, batch_max: int = 512, checkpoints: Checkpointer | None = None,
                 stall_s: float = 5.0) -> None:
        self._engine = engine
        self._stall_s = stall_s
        self._checkpoints = checkpoints
        self._batch_max = batch_max
        # (entries, future, many): one caller's entry (its future gets its Receipt) or a group's (many: the list)
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._connection: Any = None  # the writer thread's own connection, kept between batches
        self._busy_since: float | None = None  # monotonic start of the batch being written, if any
        self._failed = False  # the last batch could not be committed

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()
            threading.Thread(target=self._watch, name="audit-writer-watchdog", daemon=True).start()

    def _watch(self) -> None:
        """A batch waiting on a silent network past `stall_s` has its socket shut: the blocked call fails at
        once, its callers get 503 and the next batch opens a fresh connection (issue 10: a blip must not stop the
        writer for good). The server ends the abandoned session itself (idle_in_transaction_session_timeout)."""
        while self._thread is not None:
            time.sleep(min(0.5, self._stall_s / 4))
            busy, connection = self._busy_since, self._connection
            if busy is not None and connection is not None and time.monotonic() - busy > self._stall_s:
                log.error("audit.writer_stalled", seconds=round(time.monotonic() - busy, 1))
                abort_socket(connection)
                self._busy_since = None

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
        self._queue.put(((entry,), future, False))
        return future

    def submit_many(self, entries: list[AuditEntry]) -> Future[list[Receipt]]:
        """Append `entries` in this order, together, in one batch: one hand-off for a whole group of callers
        (the API's event-loop front, LoopFront) instead of one each."""
        future: Future[list[Receipt]] = Future()
        self._queue.put((tuple(entries), future, True))
        return future

    def append(self, entry: AuditEntry, timeout: float = 10.0) -> Receipt:
        """Synchronous append (workers, CLI): returns once the record is committed."""
        self.start()
        return self.submit(entry).result(timeout)


    def _sign_head(self) -> None:
        """A checkpoint of the head, when none covers it: at start (a tail a crash left unsigned), on an idle
        tick, at stop. A failure is logged; the next tick tries again."""
        if self._checkpoints is None:
            return
        self._busy_since = time.monotonic()  # watched like a batch: a silent network cannot hold the writer
        try:
            if self._connection is None:
                self._connection = self._engine.raw_connection()
            checkpoint_head(self._connection, self._engine.dialect.name, self._checkpoints)
        except Exception as exc:
            log.warning("audit.checkpoint_failed", error=type(exc).__name__)
            self._drop_connection()
        finally:
            self._busy_since = None

    def _run(self) -> None:
        self._sign_head()
        while True:
            try:
                first = self._queue.get(timeout=self._tick_s())
            except queue.Empty:
                self._sign_head()
                continue
            if first is None:
                self._sign_head()
                return
            batch, size = [first], len(first[0])
            stopping = False
            while size < self._batch_max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
                size += len(nxt[0])
            try:
                self._commit(batch)
            except Exception as exc:  # the writer thread must outlive any one batch
                log.error("audit.writer_error", error=type(exc).__name__)
            if stopping:
                self._sign_head()
                return

    def _commit(self, batch: list[_Request]) -> None:
        # A caller that gave up (timed out, disconnected) before its batch started gets no record; from
        # here on its future can no longer be cancelled, so each one below is answered exactly once.
        batch = [request for request in batch if request[1].set_running_or_notify_cancel()]
        if not batch:
            return
        entries = [entry for group, _, _ in batch for entry in group]
        try:
            receipts = self._write(entries)
        except Exception as exc:  # any failure to commit: every caller of the batch gets 503
            log.error("audit.write_failed", error=type(exc).__name__, batch=len(batch))
            self._drop_connection()
            self._failed = True
            for _, future, _ in batch:
                future.set_exception(AuditUnavailable(type(exc).__name__))
            return
        finally:
            self._busy_since = None
        self._failed = False
        start = 0
        for group, future, many in batch:
            mine = receipts[start:start + len(group)]
            start += len(group)
            future.set_result(mine if many else mine[0])

    def _write(self, entries: list[AuditEntry]) -> list[Receipt]:
        """Write the batch; after a broken connection (a reset, a restart, a stall cut by the watchdog) look
        whether it landed before the break, and write it once more on a fresh connection only if it did not."""
        for attempt in (1, 2):
            self._busy_since = time.monotonic()
            try:
                if self._connection is None:
                    self._connection = self._engine.raw_connection()
                return write_batch(self._connection, self._engine.dialect.name, entries, self._checkpoints)
            except Exception as exc:
                self._drop_connection()
                network = self._engine.dialect.name == "postgresql"  # SQLite: a local file, no connection to lose
                if attempt == 2 or not network or not connection_lost(exc):
                    raise
                log.warning("audit.write_retry", error=type(exc).__name__, batch=len(entries))
                self._busy_since = time.monotonic()
                self._connection = self._engine.raw_connection()  # watched like any write (a NullPool engine
                landed = receipts_of(self._connection, entries)  # in the API: never a stale pooled one)
                if landed is not None:
                    return landed
        raise AssertionError("unreachable")

    def _drop_connection(self) -> None:
        """Forget a connection that failed; the next batch opens a fresh one (no ping per batch)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.invalidate()
            self._connection = None


def connection_lost(exc: BaseException) -> bool:
    """A broken or unusable connection (the write may or may not have landed), not a refusal by the database."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"OperationalError", "InterfaceError"}) and not names & {"QueryCanceled",
                                                                                 "LockNotAvailable"}


def receipts_of(raw: Any, entries: list[AuditEntry]) -> list[Receipt] | None:
    """The receipts of a batch that committed before its connection broke, or None when it did not (one
    transaction: all of it or none). `raw`: a DBAPI connection."""
    ids = [entry.id for entry in entries]
    cursor = raw.cursor()
    mark = "?" if type(raw.driver_connection).__module__.startswith("sqlite3") else "%s"
    cursor.execute(f"SELECT id, seq, hash FROM audit_record WHERE id IN ({', '.join([mark] * len(ids))})", ids)
    rows = {row[0]: row for row in cursor.fetchall()}
    raw.rollback()
    if not rows:
        return None
    return [Receipt(id=i, seq=rows[i][1], hash=rows[i][2]) for i in ids]


def abort_socket(raw: Any) -> None:
    """Shut the socket of a DBAPI connection from another thread, so a call blocked on it fails at once."""
    import socket

    fileno = getattr(getattr(getattr(raw, "driver_connection", None), "pgconn", None), "socket", None)
    if not isinstance(fileno, int) or fileno < 0:
        return  # SQLite: a local file, whose waits its busy timeout bounds
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fileno))
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()


COLUMNS = (*HASHED_FIELDS, "hash")
_COPY = f"COPY audit_record ({', '.join(COLUMNS)}) FROM STDIN"
_SQLITE_ROWS = 1000  # 18,000 parameters, inside SQLite's limit of 32,766


@functools.lru_cache(maxsize=64)
def _insert_rows(count: int) -> str:
    one = f"({', '.join('?' * len(COLUMNS))})"
    return f"INSERT INTO audit_record ({', '.join(COLUMNS)}) VALUES {', '.join([one] * count)}"


def write_batch(raw: Any, dialect: str, entries: list[AuditEntry] | Prepared,
                checkpoints: Checkpointer | None = None) -> list[Receipt]:
    """Chain and insert `entries` in one transaction on the DBAPI connection `raw`, then commit.

    This is the hot path of every response, so it speaks to the driver directly (a batch costs a few
    statements, not an ORM unit of work): COPY on PostgreSQL, executemany on SQLite.
    """
    if checkpoints is not None:
        checkpoints.begin()
        before = checkpoints.savepoint()
    try:
        cursor = raw.cursor()
        receipts = append_chained(cursor, dialect, lock_head(cursor, dialect), entries, checkpoints)
        raw.commit()
    except BaseException:
        if checkpoints is not None:
            checkpoints.rollback_to(before)
        with contextlib.suppress(Exception):  # the connection may be the thing that failed
            raw.rollback()
        raise
    if checkpoints is not None:
        checkpoints.publish()  # committed: now the signed checkpoints may leave for the external sink
    return receipts


def checkpoint_head(raw: Any, dialect: str, checkpoints: Checkpointer) -> tuple[int, str] | None:
    """Sign the chain head into a checkpoint unless one covers it already (a writer's start, its idle tick, its
    stop; a key rotation; after a purge), so the trail's tail never stays unsigned for long. Returns the head
    when a checkpoint was added."""
    checkpoints.begin()
    try:
        cursor = raw.cursor()
        seq, chain_hash = lock_head(cursor, dialect)
        mark = "%s" if dialect == "postgresql" else "?"
        cursor.execute(f"SELECT 1 FROM audit_checkpoint WHERE seq = {mark}", (seq,))
        covered = seq == 0 or cursor.fetchone() is not None
        if not covered:
            cursor.execute(_INSERT_CHECKPOINT.replace("?", mark), checkpoints.signed(seq, chain_hash, utc_now()))
        raw.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            raw.rollback()
        raise
    checkpoints.publish()
    return None if covered else (seq, chain_hash)


def lock_head(cursor: Any, dialect: str) -> tuple[int, str]:
    """Lock the chain head for this transaction and read it: the head row's lock on PostgreSQL, the
    database's write lock on SQLite. No other writer, thread or process, can chain from the same head."""
    if dialect == "postgresql":
        cursor.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
    else:
        # one statement: each one a writer thread runs gives the GIL away and waits to get it back
        cursor.execute("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
    seq, prev = cursor.fetchone()
    return seq, prev


class Chained(NamedTuple):
    """A batch chained after a head: its rows in COLUMNS order, the callers' receipts, the checkpoints due (seq,
    hash), and the new head."""

    rows: list[tuple]
    receipts: list[Receipt]
    due: list[tuple[int, str]]
    head: tuple[int, str]
    created_at: str


class Prepared(NamedTuple):
    """Entries encoded for the chain before its lock is taken: each one's canonical encoding around the three
    values only the linking decides (created_at, prev_hash and seq), so linking under the lock is a concatenation
    and a SHA-256."""

    entries: list[AuditEntry]
    parts: list[tuple[bytes, bytes, bytes]]  # up to created_at's value; up to prev_hash's; up to seq's

    def only(self, ids: set[str]) -> Prepared:
        """The entries whose id is in `ids`, in their order."""
        kept = [i for i, entry in enumerate(self.entries) if entry.id in ids]
        return Prepared([self.entries[i] for i in kept], [self.parts[i] for i in kept])


_PREV_MARK = "0" * 64  # a prev_hash-sized value to encode around (a hash is 64 hex digits)
_TIME_MARK = "0000-00-00T00:00:00.000000Z"  # utc_now()'s length
_PREV_KEY = b'"prev_hash":"' + _PREV_MARK.encode()
_TIME_KEY = b'"created_at":"' + _TIME_MARK.encode()
_SEQ_TAIL = b'"seq":0}'


def prepare(entries: list[AuditEntry]) -> Prepared:
    """The work of chaining that does not depend on the head, done before its lock (issue 14: a chunk's records
    hashed under the lock kept every other writer waiting). String values escape their quotes, so the first
    `"created_at":"` and `"prev_hash":"` are the keys themselves; seq sorts last among HASHED_FIELDS."""
    parts = []
    for e in entries:  # _Canonical's fields are HASHED_FIELDS sorted (a test holds the order)
        encoded = _encode_struct(_Canonical(
            e.action, e.client, _TIME_MARK, e.endpoint, e.engine_version, e.guideline_version, e.id, e.input_json,
            e.job_id, e.output_json, e.patient_hash, _PREV_MARK, e.request_id, e.roles, ",".join(e.rule_ids),
            e.rules_version, 0))
        at_time = encoded.index(_TIME_KEY) + len(b'"created_at":"')
        at_prev = encoded.index(_PREV_KEY) + len(b'"prev_hash":"')
        assert encoded.endswith(_SEQ_TAIL)
        parts.append((encoded[:at_time], encoded[at_time + len(_TIME_MARK):at_prev], encoded[at_prev + 64:-2]))
    return Prepared(list(entries), parts)


def chain(head: tuple[int, str], entries: list[AuditEntry] | Prepared,
          checkpoints: Checkpointer | None = None) -> Chained:
    """Number and hash `entries` (or what `prepare` made of them) after `head` (pure: the caller holds the head's
    lock and writes the rows)."""
    prepared = entries if isinstance(entries, Prepared) else prepare(entries)
    seq, prev = head
    created_at = utc_now()  # taken under the lock: times follow the chain's order
    time_bytes = created_at.encode()
    rows, receipts, due = [], [], []
    sha256 = hashlib.sha256
    encoded_prev = _encode_json(prev)[1:-1]  # the head's hash as JSON escapes it (ours are hex: as they are)
    for entry, (before, middle, after) in zip(prepared.entries, prepared.parts, strict=True):
        seq += 1
        own = sha256(b"".join((before, time_bytes, middle, encoded_prev, after, str(seq).encode(),
                               b"}"))).hexdigest()
        rows.append((seq, entry.id, created_at, entry.client, entry.roles, entry.endpoint, entry.action,
                     entry.request_id, entry.patient_hash, entry.input_json, entry.output_json,
                     ",".join(entry.rule_ids), entry.guideline_version, entry.engine_version, entry.rules_version,
                     entry.job_id, prev, own))
        receipts.append(Receipt(id=entry.id, seq=seq, hash=own))
        prev, encoded_prev = own, own.encode()
        if checkpoints is not None and checkpoints.at(seq):
            due.append((seq, prev))
    if prepared.entries and checkpoints is not None and checkpoints.overdue() and (not due or due[-1][0] != seq):
        due.append((seq, prev))
    return Chained(rows, receipts, due, (seq, prev), created_at)


def append_chained(cursor: Any, dialect: str, head: tuple[int, str], entries: list[AuditEntry] | Prepared,
                   checkpoints: Checkpointer | None = None) -> list[Receipt]:
    """Insert `entries` (or what `prepare` made of them) chained after `head` (locked by the caller's transaction),
    move the head, and sign it into a checkpoint in the same transaction when one is due."""
    if not (entries.entries if isinstance(entries, Prepared) else entries):
        return []
    chained = chain(head, entries, checkpoints)
    postgres = dialect == "postgresql"
    if postgres:
        with cursor.copy(_COPY) as copy:
            for values in chained.rows:
                copy.write_row(values)
    else:  # one multi-row INSERT per 1,000 rows: one step, one release of the GIL, not one per row
        for sql, params in sqlite_inserts(chained.rows):
            cursor.execute(sql, params)
    mark = "%s" if postgres else "?"
    cursor.execute(f"UPDATE audit_head SET seq = {mark}, hash = {mark} WHERE id = 1", chained.head)
    if chained.due:  # every `every`-th record, and the last one when the clock says so: checkpoints at most `every`
        cursor.executemany(_INSERT_CHECKPOINT.replace("?", mark),  # apart
                           [checkpoints.signed(s, h, chained.created_at) for s, h in chained.due])
    return chained.receipts


def sqlite_inserts(rows: list[tuple]) -> Iterator[tuple[str, list[Any]]]:
    """Multi-row INSERT statements for `rows`, with their parameters."""
    for start in range(0, len(rows), _SQLITE_ROWS):
        part = rows[start:start + _SQLITE_ROWS]
        yield _insert_rows(len(part)), [value for row in part for value in row]


_INSERT_CHECKPOINT = "INSERT INTO audit_checkpoint (seq, hash, created_at, key_id, signature) VALUES (?, ?, ?, ?, ?)"


class Broken(msgspec.Struct, frozen=True):
    id: str | None
    seq: int | None
    reason: str


class Verification(msgspec.Struct, frozen=True):
    intact: bool
    records: int
    first_broken: Broken | None
    checkpoints: int = 0
    # the published checkpoints (the external sink) the trail was also checked against
    external_checkpoints: int = 0
    # the chain head of the one snapshot judged: records written after it are for the next run
    head: int | None = None


class Checkpoint(msgspec.Struct, frozen=True):
    seq: int
    hash: str
    created_at: str
    key_id: str
    signature: str


class Coverage(msgspec.Struct, frozen=True):
    """How densely the trail must be signed (BONEMETS_CHECKPOINT_EVERY, BONEMETS_CHECKPOINT_MINUTES): signed
    checkpoints at most `every` records apart from the chain's start to its head, and no record of the head's
    unsigned tail older than `minutes`."""

    every: int
    minutes: float


class Snapshot(msgspec.Struct, frozen=True):
    """What one verification judges, read in one database snapshot with the rows it walks."""

    head: tuple[int, str] | None
    checkpoints: list[Checkpoint]
    purged_through: frozenset[int]  # through_seq of every audit.purged record
    tail_start: tuple[int, str] | None  # (seq, created_at) of the first record past the last checkpoint
    taken_at: str


def checkpoints_of(engine: Engine) -> list[Checkpoint]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
    return [Checkpoint(seq=r.seq, hash=r.hash, created_at=r.created_at, key_id=r.key_id, signature=r.signature)
            for r in rows]


def verify(engine: Engine, keyring: KeyRing | None = None, *, coverage: Coverage | None = None,
           published: Published | None = None, chunk: int = 10000, workers: int = 1) -> Verification:
    """Walk the chain from its first record in ONE snapshot (the head, the checkpoints and the rows it covers:
    records committed meanwhile belong to the next run, never a false break): recompute each hash, check each
    link, the head, every signed checkpoint against its key in `keyring`, the audited purge behind a missing
    prefix, the checkpoints' density (`coverage`), and the `external` checkpoints published outside the
    database (`published`: what the external sink holds, read with infra.signing.read_sink).

    With `workers` > 1 on PostgreSQL and a long trail, the rows are walked in ranges of sequence numbers by
    that many processes, all reading the same exported snapshot, and the ranges' ends are linked here
    (`_walk_ranges`): the verdict, down to the first broken record and its reason, is the serial walk's."""
    if published is not None and published.problem is not None:
        return Verification(intact=False, records=0, first_broken=Broken(id=None, seq=published.problem[0],
                                                                         reason=published.problem[1]))
    if published is not None:
        keyring = published.keyring if keyring is None else keyring.merged(published.keyring)
    judge = functools.partial(verify_rows, keyring=keyring, coverage=coverage,
                              external=published.checkpoints if published else [],
                              published_purges=published.purges if published else None)
    if workers > 1 and engine.dialect.name == "postgresql":
        with _exported_snapshot(engine) as (snap, snapshot_id, bounds):
            if bounds is not None and bounds[1] - bounds[0] + 1 >= PARALLEL_MIN_RECORDS:
                walk = functools.partial(_walk_ranges, _conninfo(engine), snapshot_id, bounds, workers)
                return judge((), head=snap.head, checkpoints=snap.checkpoints, purged_through=snap.purged_through,
                             tail_start=snap.tail_start, now=snap.taken_at, walk=walk)
    reader = _snapshot(engine, chunk)
    try:
        snap = next(reader)
        assert isinstance(snap, Snapshot)
        return judge(reader, head=snap.head, checkpoints=snap.checkpoints, purged_through=snap.purged_through,
                     tail_start=snap.tail_start, now=snap.taken_at)
    finally:
        reader.close()  # an early verdict leaves a server-side cursor open otherwise


def _snapshot(engine: Engine, chunk: int) -> Iterator[Any]:
    """The Snapshot, then its rows as tuples in COLUMNS order, all from one transaction (REPEATABLE READ on
    PostgreSQL, a read transaction on SQLite's WAL). A thread fetches the next chunk while this one is
    checked: the database reads and sends rows on the other core meanwhile (bench/audit.py: 132k records/s
    without it; with it and the one-test hot loop, 226-235k)."""
    chunks: queue.Queue[Any] = queue.Queue(maxsize=4)
    stop = threading.Event()
    postgres = engine.dialect.name == "postgresql"

    def fetch() -> None:
        raw = engine.raw_connection()
        cursor = None
        try:
            meta = raw.cursor()
            meta.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY" if postgres else "BEGIN")
            chunks.put(_read_snapshot(meta, postgres))
            if postgres:  # a server-side cursor in the same transaction: never all rows in memory
                cursor = raw.driver_connection.cursor(name=f"verify_{new_id().replace('-', '')}")
                cursor.itersize = chunk
            else:
                cursor = meta
            cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_record ORDER BY seq")
            while not stop.is_set() and (rows := cursor.fetchmany(chunk)):
                chunks.put(rows)
            chunks.put(None)
        except BaseException as exc:  # handed to the reader, raised there
            chunks.put(exc)
        finally:
            if cursor is not None:
                with contextlib.suppress(Exception):
                    cursor.close()
            with contextlib.suppress(Exception):
                raw.rollback()
            raw.close()

    fetcher = threading.Thread(target=fetch, name="audit-verify-fetch", daemon=True)
    fetcher.start()
    try:
        first = chunks.get()
        if isinstance(first, BaseException):
            raise first
        yield first
        while (rows := chunks.get()) is not None:
            if isinstance(rows, BaseException):
                raise rows
            yield from rows
    finally:
        stop.set()
        while fetcher.is_alive():  # unblock a fetcher waiting on a full queue, then let it close
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.05)
        fetcher.join()


# Below this many records one process walks the trail: starting others costs more than it saves.
PARALLEL_MIN_RECORDS = 100_000
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


@contextlib.contextmanager
def _exported_snapshot(engine: Engine) -> Iterator[tuple[Snapshot, str, tuple[int, int] | None]]:
    """A REPEATABLE READ transaction held open while the ranges are walked: its Snapshot, the id other sessions
    import it by (pg_export_snapshot) and the trail's (first, last) sequence numbers in it."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # idle while the processes walk (minutes on a long trail): the service's idle-transaction limit would end
        # it, and a snapshot can be imported only while its exporter's transaction is open
        cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot_id = cursor.fetchone()[0]
        snap = _read_snapshot(cursor, True)
        cursor.execute("SELECT min(seq), max(seq) FROM audit_record")
        low, high = cursor.fetchone()
        yield snap, snapshot_id, (None if low is None else (low, high))
    finally:
        with contextlib.suppress(Exception):
            raw.rollback()
        raw.close()


def _conninfo(engine: Engine) -> str:
    from infra.db import libpq_url

    return libpq_url(engine.url.render_as_string(hide_password=False))


def _walk_ranges(conninfo: str, snapshot_id: str, bounds: tuple[int, int], workers: int,
                 signed: dict[int, str], head_seq: int | None) -> Walked:
    """The serial walk's verdict, from `workers` processes walking ranges of sequence numbers in one snapshot:
    each range checks its own rows and links; here each range's first row is linked to the previous range's
    last (or anchored, for the trail's first), in order, so the first break found is the serial walk's."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    low, high = bounds
    pieces = workers * 2  # ranges finish unevenly: a process that is done takes the next
    step = -(-(high - low + 1) // pieces)
    ranges = [(start, min(start + step - 1, high)) for start in range(low, high + 1, step)]
    count, start, last = 0, 1, None
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        spans = pool.map(_walk_range, *zip(*[(conninfo, snapshot_id, lo, hi, signed, head_seq)
                                             for lo, hi in ranges], strict=True))
        for span in spans:
            if span.first is None:  # a range whose records are all gone: the next range's link says so
                continue
            if last is None:
                start = span.first[_SEQ]
                if (anchor := _anchor_problem(span.first, signed)) is not None:
                    return _broken(0, span.first, anchor)
            elif span.first[_SEQ] != last[0] + 1 or span.first[_PREV] != last[1]:
                return _broken(count, span.first, _diagnose(span.first, last[0] + 1, last[1], signed))
            if span.broken is not None:
                walked, row, reason = span.broken
                return _broken(count + walked, row, reason)
            count, last = count + span.count, span.last
    finally:  # a break found: the ranges not yet walked are not needed
        pool.shutdown(wait=True, cancel_futures=True)
    return count, start, last


def _walk_range(conninfo: str, snapshot_id: str, low: int, high: int, signed: dict[int, str],
                head_seq: int | None) -> Span:
    """One range's Span, in a process of its own, reading the exporter's snapshot. The rows arrive by COPY:
    one stream the server fills while this process hashes, no round trip per batch."""
    import psycopg

    if not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise ValueError(f"not a snapshot id: {snapshot_id!r}")
    from infra.db import pg_connect_args

    # the service's socket limits (a dead peer noticed in ~10 s); no statement timeout: one COPY reads the range
    conn = psycopg.connect(conninfo, **pg_connect_args(0, 4.0, 60.0, relaxed=False))
    try:  # closed, never committed: a break leaves the rest of the stream unread, the server drops it
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
        query = (f"COPY (SELECT {', '.join(COLUMNS)} FROM audit_record WHERE seq BETWEEN {int(low)} AND {int(high)} "
                 "ORDER BY seq) TO STDOUT")
        with conn.cursor().copy(query) as copy:
            copy.set_types(["bigint"] + ["text"] * (len(COLUMNS) - 1))
            return walk_span(iter(copy.rows()), signed, head_seq)
    finally:
        conn.close()


def _read_snapshot(cursor: Any, postgres: bool) -> Snapshot:
    mark = "%s" if postgres else "?"
    cursor.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
    head = cursor.fetchone()
    cursor.execute("SELECT seq, hash, created_at, key_id, signature FROM audit_checkpoint ORDER BY seq")
    checkpoints = [Checkpoint(*row) for row in cursor.fetchall()]
    cursor.execute("SELECT output_json FROM audit_record WHERE action = 'audit.purged'")
    purged = set()
    for (output,) in cursor.fetchall():
        with contextlib.suppress(msgspec.DecodeError, TypeError, AttributeError):
            through = msgspec.json.decode(output).get("through_seq")
            if isinstance(through, int):
                purged.add(through)
    last = checkpoints[-1].seq if checkpoints else 0
    cursor.execute(f"SELECT seq, created_at FROM audit_record WHERE seq > {mark} ORDER BY seq LIMIT 1", (last,))
    tail = cursor.fetchone()
    return Snapshot(head=tuple(head) if head else None, checkpoints=checkpoints, purged_through=frozenset(purged),
                    tail_start=tuple(tail) if tail else None, taken_at=utc_now())


_SEQ, _ID, _PREV, _HASH = (COLUMNS.index(name) for name in ("seq", "id", "prev_hash", "hash"))
_sorted_values = operator.itemgetter(*(COLUMNS.index(name) for name in sorted(HASHED_FIELDS)))


def verify_rows(rows: Iterable[tuple], head: tuple[int, str] | None, checkpoints: Iterable[Checkpoint] = (),
                keyring: KeyRing | None = None, *, purged_through: frozenset[int] | None = None,
                coverage: Coverage | None = None, tail_start: tuple[int, str] | None = None, now: str | None = None,
                external: list[Checkpoint] = (),
                published_purges: dict[int, tuple[int, str]] | None = None,
                walk: Callable[[dict[int, str], int | None], Walked] | None = None) -> Verification:
    """The chain check over rows in COLUMNS order. Records before the first one must be anchored by a
    signed checkpoint and, given `purged_through`, by the audit.purged record that removed them; with a
    `head`, the table must end where the head says; with `coverage`, checkpoints must be dense enough."""
    signed, bad = signed_checkpoints(checkpoints, keyring)
    published, bad_published = signed_checkpoints(external, keyring)
    if bad or bad_published:
        return bad or bad_published
    for seq, chain_hash in published.items():
        if signed.get(seq, chain_hash) != chain_hash:
            return Verification(intact=False, records=0, first_broken=Broken(
                id=None, seq=seq, reason=f"the checkpoint published outside the database at record {seq} differs "
                "from the database's own (the chain or its checkpoints were rewritten)"))
    signed.update(published)
    for record_seq, record_hash in (published_purges or {}).values():  # each purge's own record, as published
        if signed.setdefault(record_seq, record_hash) != record_hash:
            return Verification(intact=False, records=0, first_broken=Broken(
                id=None, seq=record_seq, reason=f"the audit.purged record {record_seq} differs from the one the "
                "purge published (it was forged)"))
    found = dict(checkpoints=len(signed), external_checkpoints=len(published), head=head[0] if head else None)
    head_seq = head[0] if head is not None else None
    walked = walk(signed, head_seq) if walk is not None else _walk(iter(rows), signed, head_seq)
    if isinstance(walked, Verification):
        return msgspec.structs.replace(walked, **found)
    count, start, end = walked
    problem = (_check_end(count, end, head, signed)
               or _check_purge(count, start, purged_through)
               or _check_published_purge(count, start, published_purges)
               or _check_coverage(count, start, end, signed, coverage, tail_start, now))
    if problem is not None:
        return msgspec.structs.replace(problem, **found)
    return Verification(intact=True, records=count, first_broken=None, **found)


def signed_checkpoints(checkpoints: Iterable[Checkpoint],
                       keyring: KeyRing | None) -> tuple[dict[int, str], Verification | None]:
    """seq -> chain hash of checkpoints whose signature verifies with `keyring` (None: not checked), or the first
    that does not, as a broken Verification."""
    signed = {}
    for cp in checkpoints:
        if keyring is not None and not keyring.checkpoint_valid(cp.key_id, cp.seq, cp.hash, cp.created_at,
                                                                cp.signature):
            why = ("an invalid signature" if cp.key_id in keyring.keys
                   else f"a signature by key {cp.key_id}, which is not among the trusted keys (this installation's "
                   "current and retired keys, or those given with --public-key)")
            return {}, Verification(intact=False, records=0, first_broken=Broken(
                id=None, seq=cp.seq, reason=f"checkpoint at {cp.seq} has {why}"))
        signed[cp.seq] = cp.hash
    return signed, None


Walked = tuple[int, int, tuple[int, str] | None] | Verification  # (records, first seq, (last seq, hash)) or broken


def _walk(rows: Iterator[tuple], signed: dict[int, str], head_seq: int | None = None) -> Walked:
    first = next(rows, None)
    if first is None:
        return 0, 1, None
    if (anchor := _anchor_problem(first, signed)) is not None:  # said at once, before the rest is read
        return _broken(0, first, anchor)
    span = walk_span(itertools.chain((first,), rows), signed, head_seq)
    if span.broken is not None:
        return _broken(*span.broken)
    return span.count, span.first[_SEQ], span.last


class Span(NamedTuple):
    """A run of consecutive rows walked on their own: every link inside it and every row's hash checked; its
    first row's link to what precedes it is its caller's to check (`_anchor_problem`, `_walk_ranges`)."""

    count: int  # rows walked before the first broken one (all of them when intact)
    first: tuple | None  # the first row (None: no rows)
    last: tuple[int, str] | None  # (seq, hash) of the last intact row
    broken: tuple[int, tuple, str] | None  # (rows walked before it, the row, the reason)


def walk_span(rows: Iterator[tuple], signed: dict[int, str], head_seq: int | None = None) -> Span:
    first = next(rows, None)
    if first is None:
        return Span(0, None, None, None)
    expected, prev = first[_SEQ], first[_PREV]
    count, last, hash_of = 0, first, row_hash
    limit = head_seq if head_seq is not None else float("inf")
    for row in itertools.chain((first,), rows):  # the hot loop: one combined test per record
        seq, own = row[_SEQ], row[_HASH]
        if seq != expected or row[_PREV] != prev or hash_of(row) != own or (seq in signed and signed[seq] != own):
            return Span(count, first, (last[_SEQ], last[_HASH]) if count else None,
                        (count, row, _diagnose(row, expected, prev, signed)))
        if seq > limit:
            return Span(count, first, (last[_SEQ], last[_HASH]) if count else None,
                        (count, row, f"record {seq} lies past the chain head ({head_seq}): it was inserted "
                         "without the service's writer"))
        prev, expected, count, last = own, seq + 1, count + 1, row
    return Span(count, first, (last[_SEQ], last[_HASH]), None)


def _anchor_problem(first: tuple, signed: dict[int, str]) -> str | None:
    """Why the trail's first row is not where a trail may start: record 1 after the genesis hash, or a record
    whose predecessor a signed checkpoint anchors (the records before it were purged)."""
    if first[_SEQ] == 1:
        return None if first[_PREV] == GENESIS_HASH else _diagnose(first, 1, GENESIS_HASH, signed)
    if signed.get(first[_SEQ] - 1) != first[_PREV]:
        return (f"records before {first[_SEQ]} are missing and no signed checkpoint anchors this record (records "
                "were deleted from the start)")
    return None


def _diagnose(row: tuple, expected: int, prev: str, signed: dict[int, str]) -> str:
    if row[_SEQ] != expected:
        return f"sequence gap: expected {expected}, found {row[_SEQ]} (a record was deleted or reordered)"
    if row[_PREV] != prev:
        return "prev_hash does not match the previous record's hash (a record was deleted, inserted or reordered)"
    if row_hash(row) != row[_HASH]:
        return "hash does not match the record's content (the record was modified)"
    return f"record differs from the signed checkpoint at {row[_SEQ]} (the chain was rewritten)"


def _check_end(count: int, end: tuple[int, str] | None, head: tuple[int, str] | None,
               signed: dict[int, str]) -> Verification | None:
    beyond = [s for s in signed if s > (end[0] if end is not None else 0)]
    if end is None and head is not None and head[0] in signed and head[0] == max(signed, default=0):
        beyond = []  # every record purged: the head's checkpoint anchors an empty table
    if head is not None and head != (end or (0, GENESIS_HASH)) and not (end is None and head[0] in signed):
        return Verification(intact=False, records=count, first_broken=Broken(
            id=None, seq=head[0], reason=f"chain head says record {head[0]} ends the trail, the table ends at "
            f"{end[0] if end else 0} (records were removed from the end)"))
    if beyond:
        return Verification(intact=False, records=count, first_broken=Broken(
            id=None, seq=min(beyond), reason=f"a signed checkpoint covers record {min(beyond)}, past the end of "
            "the trail (records were removed from the end)"))
    return None


def _check_purge(count: int, start: int, purged_through: frozenset[int] | None) -> Verification | None:
    """A missing prefix is a retention purge only if the trail holds the audit.purged record that made it."""
    if purged_through is None or start == 1 or start - 1 in purged_through:
        return None
    return Verification(intact=False, records=count, first_broken=Broken(
        id=None, seq=start - 1, reason=f"records 1 to {start - 1} are missing and no audit.purged record accounts "
        "for them (they were deleted without the audited purge)"))


def _check_published_purge(count: int, start: int,
                           published_purges: dict[int, tuple[int, str]] | None) -> Verification | None:
    """Against the sink, a missing prefix needs the purge the service signed and published when it ran: an
    audit.purged record alone is only a hash, which anyone with the database can forge."""
    if published_purges is None or start == 1 or start - 1 in published_purges:
        return None
    return Verification(intact=False, records=count, first_broken=Broken(
        id=None, seq=start - 1, reason=f"records 1 to {start - 1} are missing and the checkpoint sink holds no purge "
        "signed by the service for them (they were deleted without the audited purge)"))


def _check_coverage(count: int, start: int, end: tuple[int, str] | None, signed: dict[int, str],
                    coverage: Coverage | None, tail_start: tuple[int, str] | None,
                    now: str | None) -> Verification | None:
    """Signed checkpoints at most `every` records apart from the start (genesis or the purge anchor) to the
    head, and the unsigned tail no older than `minutes`."""
    if coverage is None or end is None:
        return None
    points = [start - 1, *sorted(s for s in signed if start - 1 < s <= end[0])]
    for a, b in itertools.pairwise([*points, end[0]]):
        if b - a > coverage.every:
            return Verification(intact=False, records=count, first_broken=Broken(
                id=None, seq=a + 1, reason=f"records {a + 1} to {b} hold no signed checkpoint, which the service "
                f"signs every {coverage.every} records (checkpoints were removed)"))
    last = points[-1]
    if last < end[0] and tail_start is not None and tail_start[0] == last + 1 and now is not None:
        age = _seconds_between(tail_start[1], now)
        if age > coverage.minutes * 60:
            return Verification(intact=False, records=count, first_broken=Broken(
                id=None, seq=last + 1, reason=f"records {last + 1} to {end[0]} have waited {_duration(age)} "
                f"for a signed checkpoint, which the service signs within {coverage.minutes:g} (it was stopped "
                "before its next checkpoint: start it, then verify again; or checkpoints were removed)"))
    return None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.0f} minutes"


def _seconds_between(earlier: str, later: str) -> float:
    parse = datetime.fromisoformat
    return (parse(later.replace("Z", "+00:00")) - parse(earlier.replace("Z", "+00:00"))).total_seconds()


def _broken(count: int, row: tuple, reason: str) -> Verification:
    return Verification(intact=False, records=count, first_broken=Broken(id=row[_ID], seq=row[_SEQ], reason=reason))
