"""PDF reports: a patient report of one audited answer (or of a case evaluated and audited first), and a
registry summary of a finished bulk job. Rendered by the workers; owned by the client that asked."""

from __future__ import annotations

import html
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter

from api.audited import audit, language
from api.auth import requires
from api.errors import is_id, problem
from api.openapi import problems
from api.routes.bulk_jobs import keyset, next_keyset
from domain.evaluation import Case
from domain.evaluation import evaluate as evaluate_case
from domain.model import FieldProblem, InputRejected
from domain.validation import top_level_patient_ref
from infra import broker, jobs, report_links, reports


class ReportRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Give the `audit_id` of an answer this client received, or a whole `case` to evaluate first."""

    audit_id: str | None = None
    case: Case | None = None


class ReportStatus(msgspec.Struct):
    id: str
    kind: str
    status: str
    created_at: str
    finished_at: str | None
    sha256: str | None
    error: str | None
    location: str


def status_of(report: reports.ReportRow) -> ReportStatus:
    return ReportStatus(id=report.id, kind=report.kind, status=report.status, created_at=report.created_at,
                        finished_at=report.finished_at, sha256=report.sha256, error=report.error,
                        location=f"/v1/reports/{report.id}")


async def enqueue(request: Request, *, client: str, lang: str, **source: Any) -> reports.ReportRow:
    """A report row, queued for the workers; none left behind if the broker cannot take it (503)."""
    state = request.app.state
    report = await anyio.to_thread.run_sync(lambda: reports.create_report(
        state.engine, client=client, language=lang, request_id=request.scope["bonemets"]["request_id"], **source))
    try:
        await anyio.to_thread.run_sync(broker.enqueue_report, state.celery, report.id, report.request_id)
    except broker.BrokerUnavailable:  # nothing half-made: no report left queued forever
        await anyio.to_thread.run_sync(reports.delete_report, state.engine, report.id)
        raise
    return report


async def queue_report(request: Request, **source: Any) -> Response[ReportStatus]:
    report = await enqueue(request, client=request.user.client, lang=language(request), **source)
    location = f"/v1/reports/{report.id}"
    return Response(status_of(report), status_code=202, headers={"Location": location, "Retry-After": "1"})


@post("/v1/reports", status_code=202, tags=["reports"], opt={"input_type": ReportRequest, **requires("scoring")},
      operation_id="reports_create", responses=problems(400, 401, 403, 404, 413, 422, 503),
      summary="Ask for the PDF report of an audited answer or of a case")
async def request_report(request: Request, data: JSONBody[ReportRequest]) -> Response[ReportStatus]:
    if (data.audit_id is None) == (data.case is None):
        raise InputRejected([FieldProblem(field="audit_id|case", message="give exactly one of the two",
                                          allowed=["audit_id", "case"])])
    audit_id = data.audit_id
    if data.case is not None:  # evaluated and audited first, exactly as POST /v1/evaluations would
        top_level_patient_ref(data.case)
        result = evaluate_case(data.case, language(request))
        audit_id = (await audit(request, action="evaluation.computed", inputs=data.case, output=result,
                                rule_ids=result.rule_ids)).id
    source = None if not is_id(audit_id) else await anyio.to_thread.run_sync(
        reports.audit_source, request.app.state.engine, audit_id, request.user.client)
    if source is None:  # unknown, or another client's: the same answer
        raise NotFoundException(f"No audited answer {audit_id} for this client.")
    return await queue_report(request, kind="patient", source_audit_id=audit_id)


@post("/v1/bulk-jobs/{job_id:str}/report", status_code=202, opt=requires("registry"), tags=["reports"],
      operation_id="bulk_jobs_create_report", responses=problems(401, 403, 404, 409, 503),
      summary="Ask for the PDF summary of a finished bulk job")
async def request_job_report(request: Request, job_id: FromPath[str]) -> Response[Any]:
    job = None if not is_id(job_id) else await anyio.to_thread.run_sync(
        jobs.get_job, request.app.state.engine, job_id, request.user.client)
    if job is None:
        raise NotFoundException(f"No bulk job {job_id}.")
    if job.status not in jobs.FINISHED:
        return problem(409, f"Job {job_id} is {job.status}; its summary can be made once it has finished.",
                       headers={"Retry-After": "5"}, language=language(request))
    return await queue_report(request, kind="registry", job_id=job_id)


@get("/v1/reports/{report_id:str}", opt=requires("scoring", "registry"), tags=["reports"],
     operation_id="reports_get", responses=problems(401, 403, 404, 409),
     summary="The PDF when ready (200, application/pdf); its status while queued (202); 409 if it failed",
     media_type="application/pdf")
async def get_report(request: Request, report_id: FromPath[str]) -> Response[Any]:
    engine = request.app.state.engine
    report = None if not is_id(report_id) else await anyio.to_thread.run_sync(
        reports.get_report, engine, report_id, request.user.client)
    if report is None:
        raise NotFoundException(f"No report {report_id}.")
    if report.status == "queued":
        return Response(status_of(report), status_code=202, media_type="application/json",
                        headers={"Retry-After": "1"})
    if report.status != "ready":  # 200 is the PDF and only the PDF: a client generated from the document reads it
        return problem(409, f"Report {report_id} could not be rendered ({report.error or 'unknown error'}); ask "
                       "for a new one.", instance=request.url.path, language=language(request))
    return await pdf_response(engine, report)


async def pdf_response(engine: Any, report: reports.ReportRow, **headers: str) -> Response[bytes]:
    pdf = await anyio.to_thread.run_sync(reports.report_pdf, engine, report.id)
    return Response(pdf, media_type="application/pdf", headers={
        "ETag": f'"{report.sha256}"', "Content-Disposition": f'inline; filename="bonemets-{report.id}.pdf"',
        "Content-Language": report.language, **headers})


WAITING = {
    "fr": ("Rapport en préparation", "Le rapport PDF est en cours de rendu ; cette page se recharge d'elle-même."),
    "en": ("Report being prepared", "The PDF report is being rendered; this page reloads by itself."),
}


def waiting_page(lang: str) -> Response[str]:
    """What a browser shows while the report renders: a page that asks again every second."""
    title, text = (html.escape(t) for t in WAITING[lang])
    page = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta http-equiv="refresh" '
            f'content="1"><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>')
    return Response(page, status_code=202, media_type=MediaType.HTML,
                    headers={"Retry-After": "1", "Cache-Control": "no-store", "Content-Language": lang})


@get("/v1/report-links/{token:str}", tags=["reports"], operation_id="report_links_open", exclude_from_auth=True,
     security=[], media_type="application/pdf", responses=problems(404, 409, 410, 503),
     summary="A CDS card's link to its PDF report: the signed link is the permission (no key), for one report, "
     "until it expires; the PDF (200), or a page that reloads while it renders (202)")
async def open_link(request: Request, token: FromPath[str]) -> Response[Any]:
    state = request.app.state
    try:
        grant = report_links.verify(state.settings.pseudonym_key, token)
    except report_links.LinkRefused as refused:
        lang = language(request)
        if refused.expired:
            return problem(410, "This report link has expired; open the patient's chart again for a new one.",
                           instance="/v1/report-links", language=lang)
        return problem(404, "No such report link.", instance="/v1/report-links", language=lang)
    report = await anyio.to_thread.run_sync(reports.find_report, state.engine, grant.client, grant.audit_id,
                                            grant.language)
    if report is None:  # the first time the link is opened: the report is asked for, once
        source = await anyio.to_thread.run_sync(reports.audit_source, state.engine, grant.audit_id, grant.client)
        if source is None:  # signed by us for an answer that is not (or no longer) there
            return problem(404, "The answer this link was made for is not in the audit trail.",
                           instance="/v1/report-links", language=grant.language)
        report = await enqueue(request, client=grant.client, lang=grant.language, kind="patient",
                               source_audit_id=grant.audit_id)
    request.scope["bonemets"]["log"].update({"report_id": report.id, "link_client": grant.client})
    if report.status == "queued":
        return waiting_page(grant.language)
    if report.status != "ready":
        return problem(409, f"Report {report.id} could not be rendered ({report.error or 'unknown error'}).",
                       instance="/v1/report-links", language=grant.language)
    return await pdf_response(state.engine, report, **{"Cache-Control": "private, no-store"})


class ReportList(msgspec.Struct):
    reports: list[ReportStatus]
    next_cursor: str | None


@get("/v1/reports", opt=requires("scoring", "registry"), tags=["reports"], operation_id="reports_list",
     summary="The caller's reports, oldest first, cursor-paginated", responses=problems(400, 401, 403))
async def list_reports(
    request: Request,
    cursor: Annotated[str | None, QueryParameter(max_length=200, description="next_cursor of the previous page")]
    = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> ReportList:
    found = await anyio.to_thread.run_sync(reports.list_reports, request.app.state.engine, request.user.client,
                                           keyset(cursor), limit + 1)
    page = found[:limit]
    token = None if len(found) <= limit else next_keyset(page[-1].created_at, page[-1].id)
    return ReportList(reports=[status_of(r) for r in page], next_cursor=token)


ROUTES = [request_report, request_job_report, list_reports, get_report, open_link]
