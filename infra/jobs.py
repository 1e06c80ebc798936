"""Bulk jobs: their storage, the splitting of an uploaded body into lines, results keyed by (job, line)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import struct
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

import msgspec
from sqlalchemy import Engine, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError, OperationalError

from domain.bulk import unreadable_line
from domain.model import FieldProblem
from infra.audit import AuditEntry, append_chained, lock_head, prepare, pseudonymise
from infra.db import placeholder, raw_transaction
from infra.problems import problem_body
from infra.tables import AuditRecord, BulkJob, BulkLine, BulkResult

INSERT_BATCH = 5000
FINISHED = ("succeeded", "failed", "cancelled")


class BodyError(ValueError):
    """The uploaded body cannot be split into lines (an unterminated JSON array, say)."""


class TooLarge(ValueError):
    pass


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TooLong(msgspec.Struct, frozen=True):
    """A line longer than the per-line limit, in place of its bytes (which are never held whole)."""

    size: int
    limit: int  # the per-line limit it is over (BONEMETS_BULK_MAX_LINE_BYTES)


class NdjsonSplitter:
    """Bytes in any chunking -> one record per non-blank line, in time linear in the body (each byte is looked
    at once, by bytes.find); a line over `max_line` bytes becomes TooLong, its bytes skipped, never buffered."""

    def __init__(self, max_line: int = 1 << 20) -> None:
        self._buf = bytearray()
        self._max = max_line
        self._skipped = 0  # bytes of an over-long line seen so far

    def feed(self, chunk: bytes) -> Iterator[bytes | TooLong]:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = memoryview(chunk)[start:] if end == -1 else memoryview(chunk)[start:end]
            if self._skipped:
                self._skipped += len(piece)
            elif len(self._buf) + len(piece) > self._max:
                self._skipped = len(self._buf) + len(piece)
                self._buf.clear()
            else:
                self._buf += piece
            if end == -1:
                return
            yield from self._line_ends()
            start = end + 1

    def _line_ends(self) -> Iterator[bytes | TooLong]:
        if self._skipped:
            yield TooLong(size=self._skipped, limit=self._max)
        elif self._buf.strip():
            yield bytes(self._buf)
        self._skipped = 0
        self._buf.clear()

    def close(self) -> Iterator[bytes | TooLong]:
        yield from self._line_ends()


_STRUCTURE = re.compile(rb'[\[\]{},"]')  # what matters outside a string
_STRING_END = re.compile(rb'["\\]')  # and inside one
# The usual element whole, in one C call: a flat object (strings, numbers, literals; no nested object or array),
# the spaces around it and the comma or bracket after it
_FLAT = rb'\{[^{}\[\]"]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^{}\[\]"]*)*\}'  # the loops unrolled: runs of plain bytes at once
_FLAT_ELEMENT = re.compile(rb'[ \t\n\r\f\v]*(' + _FLAT + rb')[ \t\n\r\f\v]*([,\]])', re.DOTALL)
RAW_RUN_MIN = 4096  # bytes of complete elements worth handing to msgspec at once; tests set it to 0
_RAW_ELEMENTS = msgspec.json.Decoder(list[msgspec.Raw])


def _elements_before(chunk: bytes, start: int, max_line: int) -> tuple[list[bytes], int] | None:
    """The complete elements from `start` (an element's start) to one of the last commas of `chunk`, and the index
    past that comma; found by msgspec's decoder in C (a JSON array of Raw values), which succeeds only if the cut is
    a top-level comma and every element before it is whole. None when no cut is found in a few tries, or when an
    element might be over `max_line` counting its spaces (the byte-wise path then decides, as it always has)."""
    tries, end = 0, len(chunk)
    while tries < 3:  # the last comma after an object or array, or one before it if that one was inside an element
        comma = max(chunk.rfind(b"},", start, end), chunk.rfind(b"],", start, end)) + 1
        if comma <= start:
            return None
        try:
            raws = _RAW_ELEMENTS.decode(b"[" + chunk[start:comma] + b"]")
        except msgspec.DecodeError:
            tries, end = tries + 1, comma - 1
            continue
        elements = [bytes(raw) for raw in raws]
        if not elements:
            return None
        padding = (comma - start) - sum(map(len, elements)) - (len(elements) - 1)  # spaces between them
        if max(map(len, elements)) + padding > max_line:
            return None
        return elements, comma + 1
    return None

class JsonArraySplitter:
    """Bytes of one JSON array, in any chunking -> the raw bytes of each element, never the whole array; an
    element over `max_line` bytes becomes TooLong. A flat object with its separator is taken whole by one regex;
    anything else jumps from one structural byte to the next (C speed), so Python looks at a few bytes of each
    element, not at every one."""

    def __init__(self, max_line: int = 1 << 20) -> None:
        self._max = max_line
        self._skipped = 0
        self._state = "before"  # before '[', in array between elements, done after ']'
        self._element = bytearray()
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def _keep(self, piece: bytes | memoryview) -> None:
        self._element += piece
        if len(self._element) > self._max or (self._skipped and self._element):  # over-long: counted, not kept
            self._skipped += len(self._element)
            self._element.clear()

    def feed(self, chunk: bytes) -> Iterator[bytes | TooLong]:
        view, i, end = memoryview(chunk), 0, len(chunk)
        whole = True  # the chunk's complete elements not yet offered to msgspec
        while i < end:
            if self._state != "array":  # before '[' and after ']': whitespace only (rare and short: byte by byte)
                c = chr(chunk[i])
                if self._state == "before" and c == "[":
                    self._state = "array"
                elif not c.isspace():
                    raise BodyError("a JSON body must be an array of lines" if self._state == "before"
                                    else "text after the end of the JSON array")
                i += 1
            elif self._in_string:
                if self._escaped:
                    self._keep(view[i:i + 1])
                    self._escaped, i = False, i + 1
                    continue
                found = _STRING_END.search(chunk, i)
                if found is None:
                    self._keep(view[i:])
                    return
                j = found.start()
                self._keep(view[i:j + 1])
                if chunk[j] == 0x5C:  # a backslash: the next byte is escaped, whatever it is
                    self._escaped = True
                else:
                    self._in_string = False
                i = j + 1
            else:
                if self._depth == 0 and not self._element and not self._skipped:
                    if whole and end - i > RAW_RUN_MIN:
                        taken = _elements_before(chunk, i, self._max)
                        whole = False  # once per chunk: what is left of it is at most one element, or not simple
                        if taken is not None:
                            yield from taken[0]
                            i = taken[1]
                            continue
                    flat = _FLAT_ELEMENT.match(chunk, i)
                    if flat is not None and flat.start(2) - i <= self._max:  # spaces count, as byte by byte
                        yield flat.group(1)
                        if flat.group(2) == b"]":
                            self._state = "done"
                        i = flat.end()
                        continue
                found = _STRUCTURE.search(chunk, i)
                if found is None:
                    self._keep(view[i:])
                    return
                j = found.start()
                c = chr(chunk[j])
                if self._depth == 0 and c in ",]":
                    self._keep(view[i:j])
                    yield from self._element_end(c)
                else:
                    if c == '"':
                        self._in_string = True
                    elif c in "[{":
                        self._depth += 1
                    elif c in "]}":
                        self._depth -= 1
                    self._keep(view[i:j + 1])  # a comma inside an element is the element's
                i = j + 1

    def _element_end(self, c: str) -> Iterator[bytes | TooLong]:
        element = bytes(self._element).strip()
        self._element.clear()
        if self._skipped:
            yield TooLong(size=self._skipped, limit=self._max)
            self._skipped = 0
        elif element:
            yield element
        elif c == ",":
            raise BodyError("an empty element in the JSON array")
        if c == "]":
            self._state = "done"

    def close(self) -> Iterator[bytes]:
        if self._state != "done":
            raise BodyError("the JSON array is not terminated")
        return iter(())


class Spool:
    """Lines of an upload, on disk past a few MiB: the body is never held whole in memory."""

    def __init__(self, max_bytes: int) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115
        self._max = max_bytes
        self.size = 0
        self.count = 0
        self._digest = hashlib.sha256()
        self._line_limit = 0  # the per-line limit of the over-long lines marked in the file

    @property
    def sha256(self) -> str:
        """The digest of the body's lines as split (an over-long line counts by its size)."""
        return self._digest.hexdigest()

    def add(self, line: bytes | TooLong) -> None:
        size = line.size if isinstance(line, TooLong) else len(line)
        self.size += size
        if self.size > self._max:
            raise TooLarge(f"the body exceeds {self._max} bytes")
        if isinstance(line, TooLong):  # a marker in place of the line: its size, flagged by the top bit
            self._line_limit = line.limit
            self._file.write(struct.pack(">Q", (1 << 63) | size))
            self._digest.update(struct.pack(">Q", (1 << 63) | size))
        else:
            self._file.write(struct.pack(">Q", len(line)) + line)
            self._digest.update(struct.pack(">Q", len(line)) + line)
        self.count += 1

    def lines(self) -> Iterator[bytes | TooLong]:
        self._file.seek(0)
        while header := self._file.read(8):
            (size,) = struct.unpack(">Q", header)
            yield TooLong(size=size & ~(1 << 63), limit=self._line_limit) if size >> 63 else self._file.read(size)

    def close(self) -> None:
        self._file.close()


class JobRow(msgspec.Struct, frozen=True):
    id: str
    client: str
    status: str
    total: int
    done: int
    failed: int
    chunk_size: int
    language: str
    request_id: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    requeued: int = 0
    error: str | None = None
    body_sha256: str | None = None

    @property
    def progress(self) -> float:
        return 1.0 if self.total == 0 else round((self.done + self.failed) / self.total, 4)


def _row(mapping: Any) -> JobRow:
    return JobRow(**{f: mapping[f] for f in JobRow.__struct_fields__ if f in mapping})


_decode_line = msgspec.json.Decoder().decode
_encode_line = msgspec.json.Encoder().encode


def pseudonymised_line(number: int, raw: bytes | TooLong, key: bytes,
                       language: str = "en") -> tuple[dict[str, Any] | None, str | None]:
    """A line as it may be stored: (its BulkLine row with the patient reference replaced by its keyed hash, None),
    or (None, its result line) when it cannot be evaluated at all (over the per-line limit, not JSON, not an
    object, a malformed reference): such a line is answered at once, and nothing of it is kept."""
    if isinstance(raw, TooLong):
        problem = problem_body(413, f"This line is {raw.size} bytes, over the per-line limit of {raw.limit} bytes "
                               "(BONEMETS_BULK_MAX_LINE_BYTES); nothing of it was kept.", language=language)
        return None, _encode_line({"line": number, "line_id": None, "ok": False, "error": problem}).decode()
    try:
        data = _decode_line(raw)
    except msgspec.DecodeError:  # malformed, or a number no float holds (1e400): the worker's own words for it
        rejected = unreadable_line(raw)
        problem = rejected.problems[0]
        return None, error_line(number, rejected.line_id, problem.field, problem.message, language, problem.allowed)
    except (UnicodeDecodeError, RecursionError):
        return None, error_line(number, None, "$", "unreadable line", language)
    if not isinstance(data, dict):
        return None, error_line(number, None, "$", "expected a JSON object", language)
    line_id = data.get("line_id") if isinstance(data.get("line_id"), str | int) else None
    ref = data.pop("patient_ref", None)
    if ref is not None and not (isinstance(ref, str) and 1 <= len(ref) <= 256):
        return None, error_line(number, line_id, "patient_ref", "a string of 1 to 256 characters", language)
    return {"line": number, "payload": _encode_line(data).decode(), "patient_hash": pseudonymise(key, ref)}, None


def error_line(number: int, line_id: Any, field: str, message: str, language: str = "en",
               allowed: list[Any] | None = None) -> str:
    problem = problem_body(400, "This line cannot be evaluated.", errors=[FieldProblem(field=field, message=message,
                                                                                     allowed=allowed)],
                           language=language)
    return _encode_line({"line": number, "line_id": line_id, "ok": False, "error": problem}).decode()


def store_job(engine: Engine, *, job_id: str, client: str, spool: Spool, chunk_size: int, language: str,
              request_id: str, idempotency_key: str | None, pseudonym_key: bytes) -> tuple[JobRow, bool]:
    """The job and all its lines in one transaction, each line pseudonymised (a line that cannot be evaluated
    is stored as its result at once). Returns (job, created): with an idempotency key already used by this
    client, the existing job and False; with that key and another body, IdempotencyConflict."""
    if idempotency_key is not None and (existing := find_by_key(engine, client, idempotency_key)):
        return _same_body(existing, spool), False
    # On SQLite (one writer) the lines go in short transactions, so that an upload never holds the write lock
    # for long and clinical answers keep flowing; the job stays "receiving" (invisible to the workers, which
    # get its chunks only once it is whole) and goes if the upload fails. On PostgreSQL, one transaction.
    chunked = engine.dialect.name == "sqlite"
    try:
        with _transactions(engine, chunked) as step:
            step().execute(insert(BulkJob).values(
                id=job_id, client=client, status="receiving" if chunked else "queued", total=spool.count, done=0,
                failed=0, chunk_size=chunk_size, language=language, request_id=request_id,
                idempotency_key=idempotency_key, created_at=now(), progress_at=now(), body_sha256=spool.sha256))
            lines, results, failed = [], [], 0
            for number, raw in enumerate(spool.lines(), start=1):
                row, result = pseudonymised_line(number, raw, pseudonym_key, language)
                if row is not None:
                    lines.append({"job_id": job_id, **row})
                else:
                    results.append({"job_id": job_id, "line": number, "ok": False, "body": result})
                    failed += 1
                if len(lines) + len(results) >= INSERT_BATCH:
                    _insert(step(), lines, results)
            _insert(step(), lines, results)
            finished = failed == spool.count
            step().execute(update(BulkJob).where(BulkJob.id == job_id).values(
                failed=failed, status="succeeded" if finished else "queued", finished_at=now() if finished else None))
    except IntegrityError:
        if chunked:
            delete_job(engine, job_id)  # the same key, submitted concurrently: the other submission won
        if idempotency_key is not None and (existing := find_by_key(engine, client, idempotency_key)):
            return _same_body(existing, spool), False
        raise
    except BaseException:
        if chunked:  # what the short transactions had committed goes with the failed upload
            with contextlib.suppress(Exception):
                delete_job(engine, job_id)
        raise
    return get_job(engine, job_id), True


class IdempotencyConflict(ValueError):
    """An Idempotency-Key this client already used, sent with another body."""


def _same_body(existing: JobRow, spool: Spool) -> JobRow:
    if existing.body_sha256 is not None and existing.body_sha256 != spool.sha256:
        raise IdempotencyConflict(f"Idempotency-Key already used for job {existing.id}, with another body: send the "
                                  "same body to get that job back, or a new key for a new job.")
    return existing


def list_jobs(engine: Engine, client: str, after: tuple[str, str] | None, limit: int) -> list[JobRow]:
    """The client's jobs, oldest first, after the keyset (created_at, id)."""
    query = select(BulkJob).where(BulkJob.client == client, BulkJob.status != "receiving")
    if after is not None:
        query = query.where(tuple_(BulkJob.created_at, BulkJob.id) > tuple_(*after))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(BulkJob.created_at, BulkJob.id).limit(limit)).all()
    return [_row(row._mapping) for row in rows]


def expired_jobs(engine: Engine, before: str) -> list[str]:
    """Jobs finished before `before`, whose outputs have expired (Expires)."""
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(BulkJob.id).where(BulkJob.status.in_(FINISHED),
                                                                     BulkJob.finished_at < before))]


_COPY_LINES = "COPY bulk_line (job_id, line, payload, patient_hash) FROM STDIN"
_COPY_RESULTS = "COPY bulk_result (job_id, line, ok, body) FROM STDIN"


def _insert(conn: Any, lines: list[dict], results: list[dict]) -> None:
    """A batch of lines (and of lines answered at once) into the upload's transaction: by COPY on PostgreSQL
    (issue 14: row-by-row INSERTs took 1.8 s of a 100,000-line upload's 2.1, COPY 0.3), inserts on SQLite."""
    if conn.dialect.name == "postgresql":
        import psycopg

        cursor = conn.connection.driver_connection.cursor()
        for sql, batch, fields in ((_COPY_LINES, lines, ("job_id", "line", "payload", "patient_hash")),
                                   (_COPY_RESULTS, results, ("job_id", "line", "ok", "body"))):
            if batch:
                try:
                    with cursor.copy(sql) as copy:
                        for row in batch:
                            copy.write_row([row[field] for field in fields])
                except psycopg.OperationalError as exc:  # as SQLAlchemy reports it (a timeout, a lost server: 503)
                    raise OperationalError(sql, None, exc) from exc
                batch.clear()
        return
    for table, batch in ((BulkLine, lines), (BulkResult, results)):
        if batch:
            conn.execute(insert(table), batch)
            batch.clear()


@contextlib.contextmanager
def _transactions(engine: Engine, chunked: bool) -> Iterator[Any]:
    """`step()` gives the connection for the next statement: one transaction for all of them, or (chunked) a
    commit before each one, so the write lock is taken for one batch at a time."""
    with engine.connect() as conn:
        def step() -> Any:
            if chunked and conn.in_transaction():
                conn.commit()
            return conn

        try:
            yield step
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def find_by_key(engine: Engine, client: str, key: str) -> JobRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(BulkJob).where(BulkJob.client == client, BulkJob.idempotency_key == key)).first()
    return _row(row._mapping) if row else None


def get_job(engine: Engine, job_id: str, client: str | None = None) -> JobRow | None:
    """The job, or None when it does not exist or belongs to another client (who must not learn it exists)."""
    query = select(BulkJob).where(BulkJob.id == job_id)
    if client is not None:
        query = query.where(BulkJob.client == client)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _row(row._mapping) if row else None


def stalled_jobs(engine: Engine, before: str) -> list[JobRow]:
    """Unfinished jobs that have not moved since `before` (an instant in the trail's format)."""
    with engine.connect() as conn:
        rows = conn.execute(select(BulkJob).where(BulkJob.status.in_(("queued", "running")),
                                                  BulkJob.progress_at < before)).all()
    return [_row(row._mapping) for row in rows]


def missing_chunks(engine: Engine, job: JobRow) -> list[tuple[int, int]]:
    """The chunks of `job` that still have a line without its result (a chunk is re-run whole: idempotent)."""
    with engine.connect() as conn:
        pending = [row[0] for row in conn.execute(select(BulkLine.line).where(BulkLine.job_id == job.id))]
    starts = sorted({(line - 1) // job.chunk_size * job.chunk_size + 1 for line in pending})
    return [(start, min(start + job.chunk_size - 1, job.total)) for start in starts]


def mark_requeued(engine: Engine, job_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(BulkJob).where(BulkJob.id == job_id).values(requeued=BulkJob.requeued + 1,
                                                                       progress_at=now()))


def fail_job(engine: Engine, job_id: str, reason: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(BulkJob).where(BulkJob.id == job_id, BulkJob.status.in_(("queued", "running")))
                     .values(status="failed", error=reason, finished_at=now()))


def delete_job(engine: Engine, job_id: str) -> None:
    """Remove a job with its lines and results: one that could not be queued, one its client deleted (a chunk
    still running finds no job and stores nothing), one whose outputs expired."""
    with engine.begin() as conn:
        for table in (BulkResult, BulkLine):
            conn.execute(table.__table__.delete().where(table.job_id == job_id))
        conn.execute(BulkJob.__table__.delete().where(BulkJob.id == job_id))


SUBMITTED = "job.submitted"


def submitted(engine: Engine, job_id: str) -> bool:
    """Whether the job's submission has its committed audit record. A job without one was refused at upload
    (503: its record could not be written, and neither could the job be removed then): it is never run."""
    with engine.connect() as conn:
        found = conn.execute(select(AuditRecord.id).where(AuditRecord.job_id == job_id,
                                                          AuditRecord.action == SUBMITTED).limit(1)).first()
    return found is not None


def cancel_job(engine: Engine, job_id: str, client: str) -> JobRow | None:
    with engine.begin() as conn:
        conn.execute(update(BulkJob).where(BulkJob.id == job_id, BulkJob.client == client,
                                           BulkJob.status.not_in(FINISHED))
                     .values(status="cancelled", finished_at=now()))
    return get_job(engine, job_id, client)


def chunks(job: JobRow) -> Iterator[tuple[int, int]]:
    for start in range(1, job.total + 1, job.chunk_size):
        yield start, min(start + job.chunk_size - 1, job.total)


def result_bodies(engine: Engine, job_id: str, ok: bool | None = None, *, batch: int = 2000) -> Iterator[list[str]]:
    """The stored result lines in input order, in batches (a job may have millions of lines); with `ok`, only the
    lines that succeeded (True) or failed (False)."""
    last = 0
    while True:
        query = select(BulkResult.line, BulkResult.body).where(BulkResult.job_id == job_id, BulkResult.line > last)
        if ok is not None:
            query = query.where(BulkResult.ok == ok)
        with engine.connect() as conn:
            rows = conn.execute(query.order_by(BulkResult.line).limit(batch)).all()
        if not rows:
            return
        yield [body for _, body in rows]
        last = rows[-1][0]


def results(engine: Engine, job_id: str, ok: bool | None = None) -> Iterator[bytes]:
    """The results as NDJSON."""
    for bodies in result_bodies(engine, job_id, ok):
        yield "".join(f"{body}\n" for body in bodies).encode()


def load_chunk(engine: Engine, job_id: str, start: int,
               end: int) -> tuple[JobRow | None, list[tuple[int, str, str | None]]]:
    """The job and the chunk's lines still to evaluate: (line, payload, patient hash)."""
    mark = placeholder(engine)
    with engine.connect() as conn:
        job = conn.execute(select(BulkJob).where(BulkJob.id == job_id)).first()
        lines = [tuple(row) for row in conn.exec_driver_sql(  # a chunk's rows without building a statement
            f"SELECT l.line, l.payload, l.patient_hash FROM bulk_line l WHERE l.job_id = {mark} AND l.line BETWEEN "
            f"{mark} AND {mark} AND NOT EXISTS (SELECT 1 FROM bulk_result r WHERE r.job_id = l.job_id AND "
            f"r.line = l.line) ORDER BY l.line", (job_id, start, end))]
    return (_row(job._mapping) if job else None), lines


def mark_running(engine: Engine, job_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(BulkJob).where(BulkJob.id == job_id, BulkJob.status == "queued")
                     .values(status="running", started_at=now()))


class Outcome(msgspec.Struct, frozen=True):
    """One evaluated line, ready to store: its result line and, when it recommended, its audit entry."""

    line: int
    ok: bool
    body: str
    audit: AuditEntry | None


class _Withdrawn(Exception):
    """The job was cancelled or failed while its chunk was being stored: the transaction is rolled back."""


def commit_chunk(engine: Engine, job_id: str, outcomes: list[Outcome], checkpoints: Any = None) -> tuple[int, int]:
    """Store a chunk's results, their audit records and the job's counters in ONE transaction: a line already
    stored (a redelivered chunk) is skipped, so every line ends with exactly one result and one audit record,
    whatever dies when. Returns (newly done, newly failed).

    The locks come last and for the least time (issue 14: every chunk of every worker waits for them): the audit
    records are encoded before the transaction (infra.audit.prepare), the results and the deletion of the inputs
    are written without a lock (the (job, line) key refuses a second copy of a line), then the job's row is locked
    by its counters' update (a job cancelled or failed meanwhile: everything rolled back, no record, since no
    answer went out), and only then the chain's head, just to link, write the records and commit."""
    dialect, mark = engine.dialect.name, placeholder(engine)
    prepared = prepare([o.audit for o in outcomes if o.audit is not None])
    try:
        with raw_transaction(engine, checkpoints) as cursor:
            cursor.execute(f"SELECT status FROM bulk_job WHERE id = {mark}", (job_id,))
            job = cursor.fetchone()
            if job is None or job[0] in ("cancelled", "failed"):
                return 0, 0
            lines = [o.line for o in outcomes]
            cursor.execute(f"SELECT line FROM bulk_result WHERE job_id = {mark} AND line BETWEEN {mark} AND {mark}",
                           (job_id, min(lines), max(lines)))
            stored = {row[0] for row in cursor.fetchall()}
            fresh = [o for o in outcomes if o.line not in stored]
            rows = [(job_id, o.line, o.ok, o.body) for o in fresh]
            if dialect == "postgresql":  # COPY: one round trip for the chunk
                with cursor.copy("COPY bulk_result (job_id, line, ok, body) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany("INSERT INTO bulk_result (job_id, line, ok, body) VALUES (?, ?, ?, ?)", rows)
            # a line's input goes once its result is committed, in the same transaction (issue 10)
            cursor.execute(f"DELETE FROM bulk_line WHERE job_id = {mark} AND line BETWEEN {mark} AND {mark}",
                           (job_id, min(lines), max(lines)))
            done, failed = sum(o.ok for o in fresh), sum(not o.ok for o in fresh)
            finished = now()
            cursor.execute(
                f"UPDATE bulk_job SET done = done + {mark}, failed = failed + {mark}, "
                f"status = CASE WHEN done + failed + {mark} >= total THEN 'succeeded' ELSE 'running' END, "
                f"finished_at = CASE WHEN done + failed + {mark} >= total THEN {mark} ELSE finished_at END, "
                f"progress_at = {mark} WHERE id = {mark} AND status NOT IN ('cancelled', 'failed') RETURNING id",
                (done, failed, done + failed, done + failed, finished, finished, job_id))
            if cursor.fetchone() is None:
                raise _Withdrawn
            kept = {o.audit.id for o in fresh if o.audit is not None}
            head = lock_head(cursor, dialect)  # serialises every writer of audit records, here only to link
            append_chained(cursor, dialect, head, prepared.only(kept), checkpoints)
    except _Withdrawn:
        return 0, 0
    return done, failed
