"""Console pages of the auditor (the audit trail, a record, verification, checkpoints, exports) and of the registry
(its jobs, their progress, results and summary). The same functions as GET /v1/audit... and /v1/bulk-jobs...; each
auditor page is itself audited (`audit.queried`, endpoint = the console's path), as the REST API's queries are.

A patient reference given as a filter is hashed at once with the pseudonym key: the page, its URL (a signed
cursor holding the hash only, as the REST API's cursors do) and the logs never see it."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from api.console.pages import redirect
from api.console.web import ROLES, lang_of, page
from api.errors import is_id
from api.routes import audit as audit_api
from api.routes.bulk_jobs import owned_job  # the REST API's own lookup: another client's job is as unknown
from api.routes.reports import enqueue
from infra import audit, audit_review, jobs
from infra.audit import entry as audit_record
from infra.signing import Signer, key_id_of

AUDITOR = {ROLES: ("auditor",)}
REGISTRY = {ROLES: ("registry",)}
PAGE = 25
FILTERS = ("since", "until", "client", "rule_id", "endpoint", "action", "job_id")


async def queried(request: Request, what: dict[str, Any], outcome: dict[str, Any]) -> None:
    """The console's own query in the trail, as api.routes.audit.record_query writes the REST API's."""
    entry = audit_record(client=request.user.client, roles=request.user.roles,
                         endpoint=f"{request.method} {request.url.path}", action="audit.queried",
                         request_id=request.scope["bonemets"]["request_id"], inputs=what, output=outcome,
                         patient_hash=what.get("patient_hash"))
    await request.app.state.audit_writer.append(entry)


def _page_of(request: Request, cursor: str | None) -> audit_api.Page:
    key = request.app.state.settings.pseudonym_key
    if not cursor:
        return audit_api.Page(after=0, filters=audit_review.Filters(), limit=PAGE)
    if len(cursor) > 2048:
        raise ClientException("cursor is not one this service issued")
    return audit_api._cursor(cursor, key)


@get("/audit", opt=AUDITOR)
async def trail(request: Request, cursor: FromQuery[str | None] = None) -> Response[str]:
    state = request.app.state
    at = _page_of(request, cursor)
    records, last = await anyio.to_thread.run_sync(
        lambda: audit_review.page(state.engine, at.filters, after=at.after, limit=at.limit))
    recorded = {k: v for k, v in msgspec.structs.asdict(at.filters).items() if v is not None}
    await queried(request, {**recorded, "after": at.after}, {"records": len(records)})
    key = state.settings.pseudonym_key
    following = None if last is None else audit_api._next(
        audit_api.Page(after=last, filters=at.filters, limit=at.limit), key)
    first = audit_api._next(audit_api.Page(after=0, filters=at.filters, limit=at.limit), key)
    return page(request, "audit.html", records=records, filters=at.filters, next_cursor=following,
                first_cursor=first, paged=at.after > 0)


@post("/audit", opt=AUDITOR, status_code=303)
async def filter_trail(request: Request) -> Response[str]:
    """The filter form, POSTed so that a patient reference never reaches a URL: hashed here, then the first page's
    signed cursor (filters inside, the hash only) is where the browser goes."""
    form = await request.form()
    given = {name: str(form.get(name, "")).strip() or None for name in (*FILTERS, "patient_ref")}
    query = audit_api.Query(**given)
    filters = query.filters(request.app.state.settings.pseudonym_key)
    cursor = audit_api._next(audit_api.Page(after=0, filters=filters, limit=PAGE),
                             request.app.state.settings.pseudonym_key)
    return redirect(f"/console/audit?cursor={cursor}")


@get("/audit/records/{record_id:str}", opt=AUDITOR)
async def record(request: Request, record_id: FromPath[str]) -> Response[str]:
    if not is_id(record_id):
        raise NotFoundException(record_id)
    found, before, after = await anyio.to_thread.run_sync(
        audit_review.record_and_neighbours, request.app.state.engine, record_id)
    if found is None:
        raise NotFoundException(record_id)
    await queried(request, {"record": record_id}, {"records": 1})
    return page(request, "audit_record.html", record=found, before=before, after=after,
                inputs=_pretty(found["input_json"]), output=_pretty(found["output_json"]))


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@post("/audit/verify", opt=AUDITOR, status_code=200)
async def verify(request: Request) -> Response[str]:
    state = request.app.state
    result = await anyio.to_thread.run_sync(audit_api._verify, state.engine, state.settings)
    await queried(request, {"verify": True}, {"intact": result.intact, "records": result.records})
    return page(request, "audit_verify.html", result=result)


@get("/audit/checkpoints", opt=AUDITOR)
async def checkpoints(request: Request) -> Response[str]:
    state = request.app.state
    settings = state.settings
    found = await anyio.to_thread.run_sync(audit.checkpoints_of, state.engine)
    await queried(request, {"checkpoints": True}, {"checkpoints": len(found)})
    ring = settings.keyring
    rows = [(cp, ring.checkpoint_valid(cp.key_id, cp.seq, cp.hash, cp.created_at, cp.signature))
            for cp in reversed(found[-200:])]
    keys = [(key_id_of(k), k, k == settings.public_key)
            for k in dict.fromkeys([settings.public_key, *settings.audit_retired_public_keys])]
    return page(request, "audit_checkpoints.html", rows=rows, keys=keys, total=len(found))


@get("/audit/export", opt=AUDITOR)
async def export(request: Request, cursor: FromQuery[str | None] = None, format: FromQuery[str] = "ndjson") -> Any:
    """Every match of the page's filters: NDJSON (ending with its signed manifest) or CSV, streamed by the REST
    API's own exporter; FHIR as a Bundle of one page."""
    at = _page_of(request, cursor)
    recorded = {**{k: v for k, v in msgspec.structs.asdict(at.filters).items() if v is not None}, "format": format}
    if format in ("ndjson", "csv"):
        return await audit_api._export(request, at.filters, format, recorded)
    if format != "fhir":
        raise ClientException("format must be ndjson, csv or fhir")
    state = request.app.state
    records, _ = await anyio.to_thread.run_sync(
        lambda: audit_review.page(state.engine, at.filters, after=0, limit=audit_review.MAX_PAGE))
    await queried(request, recorded, {"records": len(records)})
    from infra import fhir

    return Response(fhir.bundle(records, None), media_type="application/fhir+json", headers={
        "Content-Disposition": 'attachment; filename="bonemets-audit.fhir.json"'})


@get("/audit/manifest", opt=AUDITOR)
async def manifest(request: Request, cursor: FromQuery[str | None] = None) -> Response[str]:
    """The signed manifest of what an export of these filters holds up to the chain head now."""
    state = request.app.state
    at = _page_of(request, cursor)
    head, _ = await anyio.to_thread.run_sync(audit_review.head_of, state.engine)
    signed = await anyio.to_thread.run_sync(
        audit_review.manifest_for, state.engine, at.filters, head, Signer(state.settings.audit_signing_key))
    await queried(request, {"manifest": True, "through_seq": head}, {"records": signed["count"]})
    return page(request, "audit_manifest.html", manifest=json.dumps(signed, indent=2, ensure_ascii=False),
                signed=signed, cursor=cursor or "")


JOBS_PAGE = 50


@get("/jobs", opt=REGISTRY)
async def job_list(request: Request, after: FromQuery[str | None] = None) -> Response[str]:
    """The caller's jobs, oldest first as GET /v1/bulk-jobs lists them, by keyset pages (`after` = the last
    one's creation time and id)."""
    keyset = None
    if after:
        created, _, last_id = after.rpartition(",")
        if not is_id(last_id) or not 0 < len(created) <= 32:
            raise ClientException("after is not a position in this list")
        keyset = (created, last_id)
    found = await anyio.to_thread.run_sync(jobs.list_jobs, request.app.state.engine, request.user.client, keyset,
                                           JOBS_PAGE + 1)
    following = f"{found[JOBS_PAGE - 1].created_at},{found[JOBS_PAGE - 1].id}" if len(found) > JOBS_PAGE else None
    return page(request, "jobs.html", jobs=found[:JOBS_PAGE], following=following, paged=keyset is not None)


@get("/jobs/{job_id:str}", opt=REGISTRY)
async def job_page(request: Request, job_id: FromPath[str]) -> Response[str]:
    return page(request, "job.html", job=await owned_job(request, job_id), finished=jobs.FINISHED)


@get("/jobs/{job_id:str}/status", opt=REGISTRY)
async def job_status(request: Request, job_id: FromPath[str]) -> dict[str, Any]:
    """What the job page's script polls to move its progress bar (the page works without it: it reloads)."""
    job = await owned_job(request, job_id)
    return {"status": job.status, "done": job.done, "failed": job.failed, "total": job.total,
            "progress": job.progress, "finished": job.status in jobs.FINISHED}


@get("/jobs/{job_id:str}/results", opt=REGISTRY)
async def job_results(request: Request, job_id: FromPath[str]) -> Stream:
    job = await owned_job(request, job_id)
    if job.status not in jobs.FINISHED:
        raise ClientException(f"job {job_id} is {job.status}")
    # streamed as GET /v1/bulk-jobs/{id}/results streams it: read in batches off the event loop, never the whole
    # job in memory (a million-line job's results are hundreds of MB)
    return Stream(jobs.results(request.app.state.engine, job.id), media_type="application/x-ndjson", headers={
        "Content-Language": job.language,  # the security headers: api.console.secured, as every console answer
        "Content-Disposition": f'attachment; filename="bonemets-job-{job.id}.ndjson"'})


@post("/jobs/{job_id:str}/report", opt=REGISTRY, status_code=303)
async def job_report(request: Request, job_id: FromPath[str]) -> Response[str]:
    job = await owned_job(request, job_id)
    if job.status not in jobs.FINISHED:
        raise ClientException(f"job {job_id} is {job.status}")
    report = await enqueue(request, client=request.user.client, lang=lang_of(request), kind="registry", job_id=job.id)
    return redirect(f"/console/reports/{report.id}")


ROUTES = [trail, filter_trail, record, verify, checkpoints, export, manifest, job_list, job_page, job_status,
          job_results, job_report]
