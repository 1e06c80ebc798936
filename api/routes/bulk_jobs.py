"""Bulk jobs: registries submit thousands to millions of cases, poll, download, cancel.

The body is streamed and split into lines as it arrives (spooled to disk past a few MiB, never held
whole), the job and its lines are committed in one transaction, and only then are its chunks enqueued.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, Router, delete, get, post
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath
from litestar.response import Stream

from api.audited import language
from api.auth import requires
from api.errors import is_id, problem
from api.openapi import problems
from domain import version
from infra import broker, jobs
from infra.audit import AuditEntry, AuditUnavailable, new_id
from infra.settings import Settings

NDJSON = "application/x-ndjson"
_encode = msgspec.json.Encoder().encode


class JobStatus(msgspec.Struct):
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
    error: str | None = None  # why a failed job could not finish


def status_of(job: jobs.JobRow) -> JobStatus:
    return JobStatus(id=job.id, status=job.status, total=job.total, done=job.done, failed=job.failed,
                     progress=job.progress, created_at=job.created_at, started_at=job.started_at,
                     finished_at=job.finished_at, results=f"/v1/bulk-jobs/{job.id}/results", error=job.error)


def progress_headers(job: jobs.JobRow) -> dict[str, str]:
    headers = {"X-Progress": f"{job.progress:.4f}"}
    if job.status not in jobs.FINISHED:
        headers["Retry-After"] = "2"
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
    finally:
        spool.close()
    try:
        if created:  # audited before any chunk runs: a job that cannot be audited is not started (503)
            await audit_submission(request, job)
        if job.status == "queued" and (created or job.done + job.failed == 0):  # answered at upload: none
            # enqueued only now, after the commit; a resubmission with the same key re-enqueues a job that
            # never started, which the chunks' idempotence makes harmless
            await anyio.to_thread.run_sync(broker.enqueue_job, state.celery, job)
    except (broker.BrokerUnavailable, AuditUnavailable):
        if created:  # nothing half-made: the job and its lines go (a chunk already sent finds no job)
            await anyio.to_thread.run_sync(jobs.delete_job, state.engine, job.id)
        raise
    meta["log"].update(job_id=job.id, lines=job.total, created=created)
    location = f"/v1/bulk-jobs/{job.id}"
    return Response(status_of(job), status_code=202,
                    headers={"Location": location, "Content-Location": location, **progress_headers(job)})


async def audit_submission(request: Request, job: jobs.JobRow) -> None:
    entry = AuditEntry(
        id=new_id(), client=job.client, roles=",".join(sorted(request.user.roles)), endpoint="POST /v1/bulk-jobs",
        action="job.submitted", request_id=job.request_id, patient_hash=None,
        input_json=_encode({"lines": job.total, "language": job.language}).decode(),
        output_json=_encode(status_of(job)).decode(), rule_ids=(), guideline_version=version.GUIDELINE_VERSION,
        engine_version=version.ENGINE_VERSION, rules_version=version.RULES_VERSION, job_id=job.id)
    await anyio.to_thread.run_sync(request.app.state.audit_writer.append, entry)


@get("/{job_id:str}", summary="A bulk job's status, counts and progress", operation_id="bulk_jobs_get",
     responses=problems(401, 403, 404))
async def job_status(request: Request, job_id: FromPath[str]) -> Response[JobStatus]:
    job = await owned_job(request, job_id)
    return Response(status_of(job), headers=progress_headers(job))


@get("/{job_id:str}/results", summary="The results, one NDJSON line per input line, in input order",
     media_type=NDJSON, operation_id="bulk_jobs_get_results", responses=problems(401, 403, 404))
async def job_results(request: Request, job_id: FromPath[str]) -> Stream:
    job = await owned_job(request, job_id)
    return Stream(jobs.results(request.app.state.engine, job.id), media_type=NDJSON, headers=progress_headers(job))


@delete("/{job_id:str}", status_code=200, summary="Cancel a bulk job", operation_id="bulk_jobs_delete",
        responses=problems(401, 403, 404, 409))
async def cancel(request: Request, job_id: FromPath[str]) -> Response[Any]:
    job = await owned_job(request, job_id)
    if job.status in ("succeeded", "failed"):
        return problem(409, f"Job {job_id} has already {job.status}.")
    job = await anyio.to_thread.run_sync(jobs.cancel_job, request.app.state.engine, job_id, request.user.client)
    return Response(status_of(job))


def router(settings: Settings) -> Router:
    create = post("/", status_code=202, summary="Submit a bulk job (JSON array or NDJSON, streamed)",
                  request_max_body_size=settings.bulk_max_bytes, operation_id="bulk_jobs_create",
                  responses=problems(400, 401, 403, 413, 415, 503))(submit)
    return Router(path="/v1/bulk-jobs", route_handlers=[create, job_status, job_results, cancel],
                  opt=requires("registry"), tags=["bulk jobs"])
