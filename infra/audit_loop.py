"""The API's audit writer, on its event loop: the same chain, the same group commit, no writer thread.

Issue 14's profile of the audited SINS request: with a writer thread, every database call the thread made gave
the GIL away and waited for the event loop to hand it back (a 25-row batch took 12 ms, 4 of them to lock the
head), and every request paid for a thread-safe future, a wake-up of the loop and a timer of its own. Here the
callers wait on plain asyncio futures, and one task writes their batches:

- PostgreSQL: a psycopg AsyncConnection; the head locked, the batch copied in (COPY), the head moved and the
  transaction committed, each an await on the loop, never a thread.
- SQLite (the embedded default, one file shared with the embedded worker process): the statements run on the
  loop, which never waits on the file's lock (the head is taken without blocking, retried on the next turns
  while another process holds it), and the commit, which waits on the disk (synchronous=FULL), runs in a
  thread of its own: one hand-off per batch.

What the thread writer (infra.audit.AuditWriter, kept for the workers and the commands) guarantees holds here:
no answer before its record commits; one linear chain across every process (the head row's lock); a batch
whose connection broke is looked up before it is written again (never twice); a batch past its deadline fails
its callers with AuditUnavailable (503) and the next one opens a fresh connection; the head is signed into a
checkpoint at start, when idle and at stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog

from infra.audit import (
    _INSERT_CHECKPOINT,
    COLUMNS,
    AuditEntry,
    AuditUnavailable,
    Chained,
    Receipt,
    WriterState,
    chain,
    sqlite_inserts,
    utc_now,
)
from infra.signing import Checkpointer

log = structlog.get_logger("bonemets.audit")

_LOCK_PG = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
_LOCK_SQLITE = "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash"


class LoopWriter(WriterState):
    """Group commit on the event loop: `append` waits for the batch holding its entry to commit."""

    def __init__(self, store: Store, *, batch_max: int = 512, checkpoints: Checkpointer | None = None,
                 stall_s: float = 5.0, timeout_s: float | None = None,
                 on_batch: Callable[[int, float, bool], None] | None = None) -> None:
        self._store = store
        self._on_batch = on_batch  # (records, seconds, committed) once per batch: the operator's metrics
        self._batch_max = batch_max
        self._checkpoints = checkpoints
        self._stall_s = stall_s
        self._timeout_s = timeout_s if timeout_s is not None else stall_s * 2  # a caller's wait, whatever happens
        self._waiting: list[tuple[AuditEntry, asyncio.Future[Receipt]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._busy_since: float | None = None
        self._failed = False

    async def append(self, entry: AuditEntry) -> Receipt:
        """Append `entry`; its receipt once its batch has committed (AuditUnavailable if it could not be)."""
        if self._task is None or self._task.done() or self._stopping:
            raise AuditUnavailable("the audit writer is not running")
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._waiting.append((entry, future))
        if len(self._waiting) == 1:
            self._wake.set()
        try:
            async with asyncio.timeout(self._timeout_s):  # one timer per caller: its answer never waits longer
                return await future
        except TimeoutError:
            raise AuditUnavailable("audit commit timed out") from None

    def start(self) -> None:
        """Start writing on the running loop (the application's lifespan)."""
        if self._task is None:
            self._stopping = False
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        """Write what is waiting, sign the head, close the connection."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, self._stall_s * 4)
            self._task = None
        await self._store.close()

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        try:
            await self._serve()
        finally:  # stopped, or cancelled by stop(): whoever still waits is answered, never left hanging
            waiting, self._waiting = self._waiting, []
            for _, future in waiting:
                if not future.done():
                    future.set_exception(AuditUnavailable("the audit writer stopped"))

    async def _serve(self) -> None:
        await self._sign_head()
        while True:
            if not self._waiting:
                if self._stopping:
                    break
                self._wake.clear()
                try:
                    async with asyncio.timeout(self._tick_s()):
                        await self._wake.wait()
                except TimeoutError:
                    await self._sign_head()
                continue
            batch, self._waiting = self._waiting[:self._batch_max], self._waiting[self._batch_max:]
            batch = [(entry, future) for entry, future in batch if not future.done()]  # gone: no record
            if batch:
                await self._commit(batch)
        await self._sign_head()

    async def _commit(self, batch: list[tuple[AuditEntry, asyncio.Future[Receipt]]]) -> None:
        entries = [entry for entry, _ in batch]
        started = time.perf_counter()
        try:
            receipts = await self._write(entries)
        except BaseException as exc:  # any failure to commit (or the writer cancelled): every caller gets 503
            log.error("audit.write_failed", error=type(exc).__name__, batch=len(batch))
            if self._on_batch is not None:
                self._on_batch(len(batch), time.perf_counter() - started, False)
            self._failed = True
            error = exc if isinstance(exc, AuditUnavailable) else AuditUnavailable(type(exc).__name__)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._busy_since = None
        self._failed = False
        if self._on_batch is not None:
            self._on_batch(len(batch), time.perf_counter() - started, True)
        for (_, future), receipt in zip(batch, receipts, strict=True):
            if not future.done():
                future.set_result(receipt)

    async def _write(self, entries: list[AuditEntry]) -> list[Receipt]:
        """Write the batch within the stall deadline; after a broken connection, look whether it landed before the
        break and write it once more on a fresh connection only if it did not."""
        for attempt in (1, 2):
            self._busy_since = time.monotonic()
            try:
                return await self._within_stall(self._store.write(entries, self._checkpoints))
            except Exception as exc:
                await self._store.drop()
                if attempt == 2 or not self._store.lost(exc):
                    raise
                log.warning("audit.write_retry", error=type(exc).__name__, batch=len(entries))
                landed = await self._within_stall(self._store.receipts_of(entries))
                if landed is not None:
                    return landed
        raise AssertionError("unreachable")

    async def _within_stall(self, work: Any) -> Any:
        """`work` done within the stall deadline, or TimeoutError at the deadline: the store's socket is shut first
        (a driver asked to cancel a query on a silent network waits for it too), then the work is cancelled."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self._stall_s)
        if done:
            return task.result()
        self._store.abort()
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
        if not task.done():
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # its outcome is moot now
        raise TimeoutError(f"no answer from the database within {self._stall_s:g} s")

    async def _sign_head(self) -> None:
        """A checkpoint of the head, when none covers it; a failure is logged and tried again on the next tick."""
        if self._checkpoints is None:
            return
        self._busy_since = time.monotonic()
        try:
            await self._within_stall(self._store.sign_head(self._checkpoints))
        except Exception as exc:
            log.warning("audit.checkpoint_failed", error=type(exc).__name__)
            await self._store.drop()
        finally:
            self._busy_since = None


class Store:
    """The database side of LoopWriter, one connection kept between batches."""

    async def write(self, entries: list[AuditEntry], checkpoints: Checkpointer | None) -> list[Receipt]:
        raise NotImplementedError

    async def receipts_of(self, entries: list[AuditEntry]) -> list[Receipt] | None:
        raise NotImplementedError

    async def sign_head(self, checkpoints: Checkpointer) -> None:
        raise NotImplementedError

    async def drop(self) -> None:
        """Forget the connection after a failure (the next batch opens a fresh one)."""

    def abort(self) -> None:
        """Shut the connection's socket at once (a call waiting on it fails now, not after the network's timeouts)."""

    async def close(self) -> None:
        await self.drop()

    def lost(self, exc: BaseException) -> bool:
        """The connection broke: the batch may or may not have landed."""
        return False


_INSERT_PG = f"INSERT INTO audit_record ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
# The head locked, and still where this writer left it, or the transaction fails (division by zero): the rows chained
# after it are refused before any is written.
_LOCK_IF_PG = ("SELECT 1 / (CASE WHEN seq = %s AND hash = %s THEN 1 ELSE 0 END) FROM audit_head WHERE id = 1 "
               "FOR UPDATE")
_MOVE_PG = "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1"


class PostgresStore(Store):
    """One connection on the loop. A writer alone on the chain knows its head from its last commit: it sends the
    head's lock (checked against what it knows), the rows, the head's move and the commit in one pipeline, one
    round trip. When another process has moved the head meanwhile, that transaction fails before writing anything
    and the batch is written the long way: lock, read the head, chain, write, commit. After such a miss the short
    way is tried again only after twice as many batches (at most 64): processes sharing the chain take turns."""

    def __init__(self, conninfo: str, connect_args: dict[str, Any]) -> None:
        self._conninfo, self._args = conninfo, connect_args
        self._conn: Any = None
        self._head: tuple[int, str] | None = None  # where this writer's last commit left the chain
        self._skip, self._misses = 0, 0

    async def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:  # broken: lost under a query
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, **self._args)
        return self._conn

    async def write(self, entries: list[AuditEntry], checkpoints: Checkpointer | None) -> list[Receipt]:
        conn = await self._connection()
        before = _begin(checkpoints)
        try:
            chained = await self._write_known(conn, entries, checkpoints)
            if chained is None:
                _undo(checkpoints, before)  # what the missed try signed was rolled back: never published
                chained = await self._write_locked(conn, entries, checkpoints)
        except BaseException:
            _undo(checkpoints, before)
            self._head = None
            await self._rollback()
            raise
        self._head = chained.head
        if checkpoints is not None:
            checkpoints.publish()
        return chained.receipts

    async def _write_known(self, conn: Any, entries: list[AuditEntry],
                           checkpoints: Checkpointer | None) -> Chained | None:
        """The batch after the head this writer left, in one round trip; None when the head has moved."""
        import psycopg

        if self._head is None or self._skip > 0:
            self._skip = max(0, self._skip - 1)
            return None
        chained = chain(self._head, entries, checkpoints)
        try:
            async with conn.pipeline(), conn.cursor() as cursor:
                await cursor.execute(_LOCK_IF_PG, self._head)
                await cursor.executemany(_INSERT_PG, chained.rows)
                await cursor.execute(_MOVE_PG, chained.head)
                await self._insert_due(cursor, chained, checkpoints)
                await conn.commit()
        except (psycopg.errors.DivisionByZero, psycopg.errors.UniqueViolation):
            await conn.rollback()  # another process wrote since: nothing of this batch was kept
            self._misses = min(self._misses + 1, 6)
            self._skip = 2 ** self._misses
            return None
        self._misses = 0
        return chained

    async def _write_locked(self, conn: Any, entries: list[AuditEntry],
                            checkpoints: Checkpointer | None) -> Chained:
        async with conn.cursor() as cursor:
            await cursor.execute(_LOCK_PG)
            chained = chain(await cursor.fetchone(), entries, checkpoints)
            async with conn.pipeline():
                await cursor.executemany(_INSERT_PG, chained.rows)
                await cursor.execute(_MOVE_PG, chained.head)
                await self._insert_due(cursor, chained, checkpoints)
                await conn.commit()
        return chained

    @staticmethod
    async def _insert_due(cursor: Any, chained: Chained, checkpoints: Checkpointer | None) -> None:
        if chained.due:  # every `every`-th record, and the last one when the clock says so
            await cursor.executemany(_INSERT_CHECKPOINT.replace("?", "%s"), [
                checkpoints.signed(seq, chain_hash, chained.created_at) for seq, chain_hash in chained.due])

    async def receipts_of(self, entries: list[AuditEntry]) -> list[Receipt] | None:
        conn = await self._connection()
        async with conn.cursor() as cursor:
            await cursor.execute("SELECT id, seq, hash FROM audit_record WHERE id = ANY(%s)",
                                 ([entry.id for entry in entries],))
            rows = {row[0]: row for row in await cursor.fetchall()}
        await conn.rollback()
        return [Receipt(id=e.id, seq=rows[e.id][1], hash=rows[e.id][2]) for e in entries] if rows else None

    async def sign_head(self, checkpoints: Checkpointer) -> None:
        conn = await self._connection()
        before = _begin(checkpoints)
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(_LOCK_PG)
                seq, chain_hash = await cursor.fetchone()
                await cursor.execute("SELECT 1 FROM audit_checkpoint WHERE seq = %s", (seq,))
                if seq != 0 and await cursor.fetchone() is None:
                    await cursor.execute(_INSERT_CHECKPOINT.replace("?", "%s"),
                                         checkpoints.signed(seq, chain_hash, utc_now()))
            await conn.commit()
        except BaseException:
            _undo(checkpoints, before)
            await self._rollback()
            raise
        checkpoints.publish()

    async def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    await self._conn.rollback()

    def abort(self) -> None:
        self._head = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.pgconn.finish()  # the socket closed at once: a stalled network cannot hold this up

    async def drop(self) -> None:
        self.abort()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    def lost(self, exc: BaseException) -> bool:
        from infra.audit import connection_lost

        return isinstance(exc, TimeoutError) or connection_lost(exc)  # a stall: the batch may have landed


class SqliteStore(Store):
    """The embedded default: a sqlite3 connection with the service's pragmas (WAL, synchronous=FULL) and a busy
    timeout of 0, so that no statement on the loop ever waits on the file's lock: taking the head is retried on
    the loop's next turns while another process writes. The commit, which waits on the disk, runs in a thread of
    the store's own; while one runs, nothing else touches the connection from the loop (a rollback or a close
    after a deadline is queued behind it in that thread: the loop never waits on the disk)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: Any = None
        self._disk: ThreadPoolExecutor | None = None
        self._committing: asyncio.Future[None] | None = None

    def _connection(self) -> Any:
        if self._conn is None:
            from infra.db import _sqlite_pragmas

            self._conn = sqlite3.connect(self._path, timeout=0, check_same_thread=False)
            _sqlite_pragmas(self._conn, None)
            self._conn.execute("PRAGMA busy_timeout=0")
        return self._conn

    def _thread(self) -> ThreadPoolExecutor:
        if self._disk is None:
            self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-commit")
        return self._disk

    def _after_commit(self, work: Callable[[], Any]) -> None:
        """`work` on the connection now, or, while a commit runs in the store's thread, right after it there."""
        if self._committing is not None and not self._committing.done():
            self._thread().submit(_quietly, work)
        else:
            _quietly(work)

    async def _lock_head(self, cursor: Any) -> tuple[int, str]:
        delay = 0.0005
        while True:
            try:
                cursor.execute(_LOCK_SQLITE)
                return cursor.fetchone()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                self._conn.rollback()
                await asyncio.sleep(delay)  # the deadline (LoopWriter's stall) bounds the wait
                delay = min(delay * 2, 0.02)

    async def write(self, entries: list[AuditEntry], checkpoints: Checkpointer | None) -> list[Receipt]:
        conn = self._connection()
        before = _begin(checkpoints)
        try:
            cursor = conn.cursor()
            chained = chain(await self._lock_head(cursor), entries, checkpoints)
            for sql, params in sqlite_inserts(chained.rows):
                cursor.execute(sql, params)
            cursor.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", chained.head)
            if chained.due:
                cursor.executemany(_INSERT_CHECKPOINT, [
                    checkpoints.signed(seq, chain_hash, chained.created_at) for seq, chain_hash in chained.due])
            await self._commit(conn)
        except BaseException:
            _undo(checkpoints, before)
            self._after_commit(conn.rollback)
            raise
        if checkpoints is not None:
            checkpoints.publish()
        return chained.receipts

    async def _commit(self, conn: Any) -> None:
        """The commit waits on the disk: in the store's own thread, while the loop serves other requests. A
        deadline that expires meanwhile leaves the commit to finish there; the batch's callers get 503."""
        self._committing = asyncio.get_running_loop().run_in_executor(self._thread(), conn.commit)
        await asyncio.shield(self._committing)

    async def receipts_of(self, entries: list[AuditEntry]) -> list[Receipt] | None:
        return None  # a local file: no connection to lose mid-commit

    async def sign_head(self, checkpoints: Checkpointer) -> None:
        conn = self._connection()
        before = _begin(checkpoints)
        try:
            cursor = conn.cursor()
            seq, chain_hash = await self._lock_head(cursor)
            cursor.execute("SELECT 1 FROM audit_checkpoint WHERE seq = ?", (seq,))
            if seq != 0 and cursor.fetchone() is None:
                cursor.execute(_INSERT_CHECKPOINT, checkpoints.signed(seq, chain_hash, utc_now()))
            await self._commit(conn)
        except BaseException:
            _undo(checkpoints, before)
            self._after_commit(conn.rollback)
            raise
        checkpoints.publish()

    async def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._after_commit(conn.close)

    async def close(self) -> None:
        await self.drop()
        if self._disk is not None:
            self._disk.shutdown(wait=False)  # a commit still running finishes, then its queued close
            self._disk = None


def _quietly(work: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):
        work()


def _begin(checkpoints: Checkpointer | None) -> tuple[float, int] | None:
    if checkpoints is None:
        return None
    checkpoints.begin()
    return checkpoints.savepoint()


def _undo(checkpoints: Checkpointer | None, point: tuple[float, int] | None) -> None:
    """The checkpoints signed in a transaction that did not commit: forgotten, never published."""
    if checkpoints is not None and point is not None:
        checkpoints.rollback_to(point)


def store_for(settings: Any) -> Store:
    """The Store of a deployment's settings: PostgreSQL on an event-loop connection of its own, or the embedded
    SQLite file."""
    from sqlalchemy.engine import make_url

    if settings.embedded:
        return SqliteStore(make_url(settings.database_url).database)

    from infra.db import libpq_url, pg_connect_args

    conninfo = libpq_url(settings.database_url)
    return PostgresStore(conninfo, pg_connect_args(
        settings.db_statement_timeout_s, settings.db_lock_timeout_s, settings.db_idle_in_transaction_timeout_s,
        relaxed=False))
