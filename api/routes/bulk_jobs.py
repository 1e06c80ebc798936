"""Bulk jobs: registries submit thousands to millions of cases, poll, download, cancel.

The body is streamed and split into lines as it arrives (spooled to disk past a few MiB, never held
whole), the job and its lines are committed in one transaction, and only then are its chunks enqueued.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import email.utils
import math
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import anyio.to_thread
import msgspec
import structlog
from litestar import Request, Response, Router, delete, get, post
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from api.audited import language
from api.auth import requires
from api.errors import is_id, problem
from api.openapi import problems
from api.responses import TypedStream
from domain.model import FieldProblem, InputRejected
from infra import broker, fhir_results, jobs
from infra.audit import entry as audit_record
from infra.audit import new_id
from infra.settings import Settings

NDJSON = "application/x-ndjson"
_encode = msgspec.json.Encoder().encode

log = structlog.get_logger("bonemets.api")


class OutputFile(msgspec.Struct):
    """One file of a FHIR Bulk Data completion manifest."""

    type: str
    url: str
    count: int


class JobStatus(msgspec.Struct):
    """A job's status; once it has finished, also a FHIR Bulk Data completion manifest (transactionTime, request,
    requiresAccessToken, output, error), so Bulk Data clients read it as they read any export's."""

    id: str
    status: str
    total: int
    done: int
    failed: int
    progress: float
    created_at: str
    started_at: str | None
    finished_at: str | None
    results: str
    failure: str | None = None  # why a failed job could not finish
    transactionTime: str | None = None  # FHIR Bulk Data's names
    request: str = "/v1/bulk-jobs"
    requiresAccessToken: bool = True
    output: list[OutputFile] = []
    error: list[OutputFile] = []
    expires: str | None = None


POLL_INTERVAL_S = 2  # the documented polling interval (Retry-After)


class PollClock:
    """When each (client, job) was last answered, per API process, bounded: a client polling a running job
    faster than BONEMETS_BULK_MIN_POLL_S gets 429 with Retry-After, as Bulk Data servers answer."""

    def __init__(self, size: int = 10_000) -> None:
        self._last: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()
        self._size = size

    def allow(self, key: tuple[str, str], min_interval_s: float) -> bool:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < min_interval_s:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self._size:
            self._last.popitem(last=False)
        return True


POLLS = PollClock()


def status_of(job: jobs.JobRow, settings: Settings | None = None) -> JobStatus:
    results = f"/v1/bulk-jobs/{job.id}/results"
    status = JobStatus(id=job.id, status=job.status, total=job.total, done=job.done, failed=job.failed,
                       progress=job.progress, created_at=job.created_at, started_at=job.started_at,
                       finished_at=job.finished_at, results=results, failure=job.error)
    if job.status not in jobs.FINISHED or job.finished_at is None:
        return status
    return msgspec.structs.replace(
        status, transactionTime=job.created_at, expires=expires_at(job, settings),
        output=[OutputFile(type="BulkResult", url=f"{results}?ok=true", count=job.done)] if job.done else [],
        error=[OutputFile(type="OperationOutcome", url=f"{results}?ok=false", count=job.failed)] if job.failed else [])


def expires_at(job: jobs.JobRow, settings: Settings | None) -> str | None:
    if job.finished_at is None or settings is None:
        return None
    finished = dt.datetime.fromisoformat(job.finished_at.replace("Z", "+00:00"))
    return (finished + dt.timedelta(days=settings.bulk_results_days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def poll_after(settings: Settings | None) -> str:
    """Retry-After for a running job: the documented interval, or the minimum the server enforces if longer (a
    client that obeys it is never answered 429)."""
    floor = settings.bulk_min_poll_s if settings is not None else 0
    return str(max(POLL_INTERVAL_S, math.ceil(floor)))


def progress_headers(job: jobs.JobRow, settings: Settings | None = None) -> dict[str, str]:
    done = job.done + job.failed
    headers = {"X-Progress": f"{job.progress * 100:.1f}% ({done} of {job.total} lines)"}
    if job.status not in jobs.FINISHED:
        headers["Retry-After"] = poll_after(settings)
    elif (expires := expires_at(job, settings)) is not None:
        headers["Expires"] = email.utils.format_datetime(
            dt.datetime.fromisoformat(expires.replace("Z", "+00:00")), usegmt=True)
    return headers


async def owned_job(request: Request, job_id: str) -> jobs.JobRow:
    job = None if not is_id(job_id) else await anyio.to_thread.run_sync(
        jobs.get_job, request.app.state.engine, job_id, request.user.client)
    if job is None:  # another client's job is as unknown as a job that never was
        raise NotFoundException(f"No bulk job {job_id}.")
    return job


async def spool_body(request: Request, settings: Settings) -> jobs.Spool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (NDJSON, "application/json"):
        raise ClientException(f"Send {NDJSON} or application/json (an array), not {media or 'nothing'}.",
                              status_code=415)
    ndjson = media == NDJSON
    splitter = (jobs.NdjsonSplitter if ndjson else jobs.JsonArraySplitter)(settings.bulk_max_line_bytes)
    spool = jobs.Spool(settings.bulk_max_bytes)
    try:
        async for chunk in request.stream():
            # NDJSON is split by bytes.find, at C speed; a JSON array byte by byte, off the event loop
            lines = splitter.feed(chunk) if ndjson else await anyio.to_thread.run_sync(
                lambda chunk=chunk: list(splitter.feed(chunk)))
            for line in lines:
                spool.add(line)
        for line in splitter.close():
            spool.add(line)
    except jobs.TooLarge as exc:
        spool.close()
        raise ClientException(str(exc), status_code=413) from None
    except jobs.BodyError as exc:
        spool.close()
        raise ClientException(str(exc), status_code=400) from None
    except BaseException:
        spool.close()
        raise
    return spool


async def submit(request: Request) -> Response[Any]:
    state = request.app.state
    settings: Settings = state.settings
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 128:
        raise ClientException("Idempotency-Key must be 1 to 128 characters.")
    spool = await spool_body(request, settings)
    meta = request.scope["bonemets"]
    try:
        job, created = await anyio.to_thread.run_sync(lambda: jobs.store_job(
            state.engine, job_id=new_id(), client=request.user.client, spool=spool,
            chunk_size=settings.bulk_chunk_size, language=language(request), request_id=meta["request_id"],
            idempotency_key=key, pseudonym_key=settings.pseudonym_key))
    except jobs.IdempotencyConflict as exc:
        raise InputRejected([FieldProblem(field="Idempotency-Key", message=str(exc))], contradiction=True) from None
    finally:
        spool.close()
    try:
        # audited before any chunk runs: a job that cannot be audited is not started (503). A resubmission with
        # the same key finds the job; if that job's own submission was refused (its record never written, and
        # an outage kept it from being removed), this submission audits it now
        if created or not await anyio.to_thread.run_sync(jobs.submitted, state.engine, job.id):
            await audit_submission(request, job)
        if job.status == "queued" and (created or job.done + job.failed == 0):  # answered at upload: none
            # enqueued only now, after the commit; a resubmission with the same key re-enqueues a job that
            # never started, which the chunks' idempotence makes harmless
            await anyio.to_thread.run_sync(broker.enqueue_job, state.celery, job)
    except Exception:
        if created:  # nothing half-made: the job and its lines go (a chunk already sent finds no job)
            await withdraw(state.engine, job.id)
        raise
    meta["log"].update(job_id=job.id, lines=job.total, created=created)
    location = f"/v1/bulk-jobs/{job.id}"
    return Response(status_of(job, settings), status_code=202,
                    headers={"Location": location, "Content-Location": location, **progress_headers(job, settings)})


async def withdraw(engine: Any, job_id: str) -> None:
    """Remove a job its client is told was refused. The database may be what failed: tried for a few seconds, then
    left to the reconciler, which removes a job whose submission was never audited instead of running it."""
    failure: Exception | None = None
    for delay in (0.0, 0.5, 1.0, 2.0):
        await anyio.sleep(delay)
        try:
            await anyio.to_thread.run_sync(jobs.delete_job, engine, job_id)
            return
        except Exception as exc:
            failure = exc
    log.error("job.withdraw_failed", job_id=job_id, error=type(failure).__name__,
              remedy="the reconciler removes it: its submission was never audited")


async def audit_submission(request: Request, job: jobs.JobRow) -> None:
    entry = audit_record(client=job.client, roles=request.user.roles, endpoint="POST /v1/bulk-jobs",
                         action="job.submitted", request_id=job.request_id,
                         inputs={"lines": job.total, "language": job.language}, output=status_of(job), job_id=job.id)
    await request.app.state.audit_writer.append(entry)


@get("/{job_id:str}", summary="A bulk job's status: 202 with X-Progress while it runs, 200 with its completion "
     "manifest once finished", operation_id="bulk_jobs_get", responses=problems(401, 403, 404, 429))
async def job_status(request: Request, job_id: FromPath[str]) -> Response[JobStatus]:
    job = await owned_job(request, job_id)
    settings = request.app.state.settings
    if job.status not in jobs.FINISHED and not POLLS.allow((request.user.client, job.id), settings.bulk_min_poll_s):
        return problem(429, f"Poll this job at most every {settings.bulk_min_poll_s:g} s (Retry-After says when "
                       f"to come back); it is {job.status}, {job.progress * 100:.1f}% done.",
                       headers={"Retry-After": poll_after(settings)},
                       instance=request.url.path, language=language(request))
    finished = job.status in jobs.FINISHED
    return Response(status_of(job, settings), status_code=200 if finished else 202,
                    headers=progress_headers(job, settings))


@get("/{job_id:str}/results", summary="The results, one NDJSON line per input line, in input order, once the "
     "job has finished (or partial=true)", media_type=NDJSON, operation_id="bulk_jobs_get_results",
     responses=problems(400, 401, 403, 404, 409))
async def job_results(
    request: Request, job_id: FromPath[str],
    partial: Annotated[bool, QueryParameter(description="the lines finished so far, while the job runs")] = False,
    ok: Annotated[bool | None, QueryParameter(description="only the lines that succeeded (true) or failed (false): "
                                              "the manifest's output and error files")] = None,
    format: Annotated[Literal["ndjson", "fhir"], QueryParameter(
        description="ndjson (the endpoints' answers) or fhir: FHIR NDJSON, a Bundle per line (an "
                    "OperationOutcome for a line in error)")] = "ndjson",
) -> Any:
    job = await owned_job(request, job_id)
    settings = request.app.state.settings
    if job.status not in jobs.FINISHED and not partial:
        return problem(409, f"Job {job_id} is {job.status}: its results are complete once it has finished (poll "
                       f"its status), or ask for the lines finished so far with partial=true.",
                       headers={"Retry-After": poll_after(settings)}, instance=request.url.path,
                       language=language(request))
    lines = jobs.results(request.app.state.engine, job.id, ok)
    if format == "fhir":
        return TypedStream(fhir_lines(lines, job.finished_at or job.created_at), media_type=FHIR_NDJSON,
                      headers={**progress_headers(job, settings), "Content-Language": job.language})
    return Stream(lines, media_type=NDJSON,
                  headers={**progress_headers(job, settings), "Content-Language": job.language})


FHIR_NDJSON = "application/fhir+ndjson"


def fhir_lines(chunks: Iterator[bytes], issued: str) -> Iterator[bytes]:
    """The NDJSON results, each line as its FHIR resource (infra.fhir_results.bulk_line)."""
    for chunk in chunks:
        yield b"".join(msgspec.json.encode(fhir_results.bulk_line(msgspec.json.decode(line), issued)) + b"\n"
                       for line in chunk.splitlines() if line)


@delete("/{job_id:str}", status_code=202, summary="Delete a bulk job: cancel it if it runs, remove its results",
        operation_id="bulk_jobs_delete", responses=problems(401, 403, 404))
async def delete_job(request: Request, job_id: FromPath[str]) -> Response[None]:
    """As FHIR Bulk Data's DELETE: the job stops (a chunk still running stores nothing) and its outputs go; its
    status and results answer 404 from then on. Its audit records stay."""
    job = await owned_job(request, job_id)
    await anyio.to_thread.run_sync(jobs.delete_job, request.app.state.engine, job.id)
    request.scope["bonemets"]["log"].update(job_id=job.id, deleted=True)
    return Response(None, status_code=202)


class JobList(msgspec.Struct):
    jobs: list[JobStatus]
    next_cursor: str | None


@get("/", summary="The caller's bulk jobs, oldest first, cursor-paginated", operation_id="bulk_jobs_list",
     responses=problems(400, 401, 403))
async def list_jobs(
    request: Request,
    cursor: Annotated[str | None, QueryParameter(max_length=200, description="next_cursor of the previous page")]
    = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> JobList:
    after = keyset(cursor)
    found = await anyio.to_thread.run_sync(jobs.list_jobs, request.app.state.engine, request.user.client, after,
                                           limit + 1)
    settings = request.app.state.settings
    page = found[:limit]
    token = None if len(found) <= limit else next_keyset(page[-1].created_at, page[-1].id)
    return JobList(jobs=[status_of(job, settings) for job in page], next_cursor=token)


def next_keyset(created_at: str, item_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at}|{item_id}".encode()).decode()


def keyset(cursor: str | None) -> tuple[str, str] | None:
    """A listing cursor: (created_at, id) of the last item seen; anything else is a 400."""
    if cursor is None:
        return None
    try:
        created_at, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
    except (ValueError, UnicodeDecodeError):
        raise ClientException("cursor is not one this service issued") from None
    if not is_id(item_id) or len(created_at) != 27:
        raise ClientException("cursor is not one this service issued")
    return created_at, item_id


def router(settings: Settings) -> Router:
    create = post("/", status_code=202, summary="Submit a bulk job (JSON array or NDJSON, streamed)",
                  request_max_body_size=settings.bulk_max_bytes, operation_id="bulk_jobs_create",
                  responses=problems(400, 401, 403, 413, 415, 422, 503))(submit)
    return Router(path="/v1/bulk-jobs", route_handlers=[create, list_jobs, job_status, job_results, delete_job],
                  opt=requires("registry"), tags=["bulk jobs"])
