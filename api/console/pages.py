"""Console pages: sign-in and sign-out, the language switch, the home page, and the clinician's forms, results and
PDF reports. Each handler calls what the REST route calls (domain.kinds, domain.validation, api.audited.audit,
api.routes.reports.enqueue): a result shown here has its committed audit record exactly as through the API."""

from __future__ import annotations

import hmac
from typing import Any

import anyio.to_thread
import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from api.audited import audit
from api.console import forms
from api.console.texts import translator
from api.console.web import (
    LANG_COOKIE,
    PRE_COOKIE,
    PUBLIC,
    ROLES,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    cookie,
    lang_of,
    new_token,
    page,
    security_event,
)
from api.errors import is_id
from api.routes.reports import enqueue, pdf_response
from domain import validation
from domain.catalogue import catalogue
from domain.kinds import KINDS
from domain.model import InputRejected
from domain.texts import labels
from infra import console_sessions, reports


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    return target if target and target.startswith("/console") and not target.startswith("//") else "/console/"


def redirect(location: str, cookies: list | None = None) -> Response[str]:
    return Response("", status_code=303, headers={"Location": location, **SECURITY_HEADERS}, cookies=cookies or [],
                    media_type=MediaType.TEXT)


@get("/sign-in", opt={PUBLIC: True})
async def sign_in_form(request: Request, next: FromQuery[str | None] = None) -> Response[str]:
    token = new_token()
    return page(request, "sign_in.html", pre_csrf=token, next=_safe_next(next), error=None,
                cookies=[cookie(request, PRE_COOKIE, token, max_age=3600)])


@post("/sign-in", opt={PUBLIC: True}, status_code=303)
async def sign_in(request: Request) -> Response[str]:
    """The key is exchanged for a session: looked up as the REST API does (app.state.key_store), never stored."""
    form = await request.form()
    t = translator(lang_of(request))
    expected = request.cookies.get(PRE_COOKIE, "")
    given = str(form.get("csrf", ""))
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        security_event(request, "console.sign_in_refused", reason="the sign-in form's CSRF token is missing or wrong")
        return page(request, "message.html", status=403, title=t("forbidden"), detail=t("csrf"))
    state = request.app.state
    key = str(form.get("api_key", "")).strip()
    principal = await anyio.to_thread.run_sync(state.key_store.lookup, key) if key else None
    if principal is None:
        security_event(request, "console.sign_in_refused",
                       reason="unknown, revoked or expired key" if key else "no key given")
        token = new_token()
        return page(request, "sign_in.html", status=401, pre_csrf=token, next=_safe_next(form.get("next")),
                    error=t("bad_key"), cookies=[cookie(request, PRE_COOKIE, token, max_age=3600)])
    settings = state.settings
    session_id, _ = await anyio.to_thread.run_sync(lambda: console_sessions.open_session(
        state.engine, principal, idle_s=settings.console_session_idle_s, max_s=settings.console_session_max_s))
    request.scope["bonemets"]["client"] = principal.client
    security_event(request, "console.signed_in", client=principal.client, key_id=principal.key_id,
                   roles=sorted(principal.roles))
    return redirect(_safe_next(form.get("next")), cookies=[
        cookie(request, SESSION_COOKIE, session_id), cookie(request, PRE_COOKIE, "", max_age=0)])


@post("/sign-out", status_code=303)
async def sign_out(request: Request) -> Response[str]:
    session_id = request.cookies.get(SESSION_COOKIE, "")
    await anyio.to_thread.run_sync(console_sessions.close_session, request.app.state.engine, session_id)
    security_event(request, "console.signed_out", client=request.user.client, key_id=request.user.key_id)
    return redirect("/console/sign-in", cookies=[cookie(request, SESSION_COOKIE, "", max_age=0)])


@get("/language/{lang:str}", opt={PUBLIC: True})
async def switch_language(request: Request, lang: FromPath[str], next: FromQuery[str | None] = None) -> Response[str]:
    chosen = lang if lang in ("fr", "en") else "en"
    return redirect(_safe_next(next), cookies=[cookie(request, LANG_COOKIE, chosen, max_age=365 * 86400)])


@get("/")
async def home(request: Request) -> Response[str]:
    return page(request, "home.html")


def _kinds(lang: str) -> dict[str, list[tuple[str, str]]]:
    """The forms the catalogue offers: every score, every pathway, the whole case."""
    cat = catalogue(lang)
    return {"scores": [(s["score"], s["score"].upper() if len(s["score"]) <= 5 else s["score"].title())
                       for s in cat["scores"]],
            "pathways": [(p["pathway"], p["pathway"].replace("-", " ").capitalize()) for p in cat["pathways"]]}


@get("/compute", opt={ROLES: ("scoring",)})
async def compute_index(request: Request) -> Response[str]:
    return page(request, "compute_index.html", kinds=_kinds(lang_of(request)))


def _schema(name: str, lang: str) -> tuple[dict[str, Any], str | None]:
    cat = catalogue(lang)
    for s in cat["scores"]:
        if s["score"] == name:
            return s["inputs"], name
    for p in cat["pathways"]:
        if p["pathway"] == name:
            return p["inputs"], None
    if name == "evaluation":
        return cat["evaluation"]["inputs"], None
    raise NotFoundException(name)


def _form_page(request: Request, name: str, lesions: int, *, values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None, status: int = 200) -> Response[str]:
    lang = lang_of(request)
    schema, score = _schema(name, lang)
    fields = forms.fields_of(schema, lang, score=score, lesions=lesions)
    title = dict(_kinds(lang)["scores"] + _kinds(lang)["pathways"]).get(name) or translator(lang)("evaluation")
    given = [path for path, value in (values or {}).items() if value] + list(errors or {})
    return page(request, "compute_form.html", status=status, name=name, title=title, fields=fields,
                values=values or {}, errors=errors or {}, lesions=lesions, max_lesions=forms.MAX_LESIONS,
                opened=forms.enclosing(given),
                has_lesions=any(f.widget == "list" for f in fields))


def _lesion_count(value: Any) -> int:
    try:
        return max(1, min(forms.MAX_LESIONS, int(str(value))))
    except ValueError:
        return forms.DEFAULT_LESIONS


@get("/compute/{name:str}", opt={ROLES: ("scoring",)})
async def compute_form(request: Request, name: FromPath[str], lesions: FromQuery[int | None] = None) -> Response[str]:
    if name not in KINDS:
        raise NotFoundException(name)
    return _form_page(request, name, _lesion_count(lesions or forms.DEFAULT_LESIONS))


@post("/compute/{name:str}", opt={ROLES: ("scoring",)}, status_code=200)
async def compute(request: Request, name: FromPath[str]) -> Response[str]:
    """The form's values as the API's JSON, validated and computed as POST /v1/... does, audited, shown."""
    kind = KINDS.get(name)
    if kind is None:
        raise NotFoundException(name)
    lang = lang_of(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    lesions = _lesion_count(form.get("lesions", forms.DEFAULT_LESIONS))
    if form.get("resize"):  # the lesion count changed: the same form with more or fewer lesion blocks
        return _form_page(request, name, lesions, values=_echo(form))
    schema, score = _schema(name, lang)
    body = forms.compact_lists(forms.to_json(form, forms.fields_of(schema, lang, score=score, lesions=lesions)))
    if form.get("patient_ref", "").strip():
        body["patient_ref"] = form["patient_ref"].strip()
    try:
        data = validation.convert(body, kind.inputs)
        result = kind.compute(data, lang)
    except InputRejected as rejected:
        return _form_page(request, name, lesions, values=_echo(form), errors=forms.field_errors(rejected.problems,
                          lang), status=422 if rejected.contradiction else 400)
    audited = await audit(request, action=kind.action, inputs=data, output=result, rule_ids=kind.rule_ids(result))
    request.scope["bonemets"].setdefault("log", {})["console_kind"] = name
    shown = msgspec.to_builtins(result)
    return page(request, "compute_result.html", name=name, result=shown, audit_id=audited.id,
                label=lambda code: labels.action_label(code, lang) if code in labels.ACTIONS else code,
                band=lambda s, b: labels.BANDS[s, b][lang] if (s, b) in labels.BANDS else b,
                item=lambda s, i: labels.ITEMS[s, i][lang] if (s, i) in labels.ITEMS else i.replace("_", " "),
                value=lambda s, i, v: forms.value_label(s, i, None, str(v), lang))


def _echo(form: dict[str, str]) -> dict[str, str]:
    """What a form shows again: everything but its token and the patient reference (never echoed)."""
    return {k: v for k, v in form.items() if k not in ("csrf", "patient_ref")}


@post("/reports", opt={ROLES: ("scoring",)}, status_code=303)
async def request_report(request: Request) -> Response[str]:
    """The PDF report of an answer this client received, queued for the workers as POST /v1/reports does."""
    form = await request.form()
    audit_id = str(form.get("audit_id", ""))
    state = request.app.state
    source = None if not is_id(audit_id) else await anyio.to_thread.run_sync(
        reports.audit_source, state.engine, audit_id, request.user.client)
    if source is None:
        raise NotFoundException(audit_id)
    report = await enqueue(request, client=request.user.client, lang=lang_of(request), kind="patient",
                           source_audit_id=audit_id)
    return redirect(f"/console/reports/{report.id}")


@get("/reports/{report_id:str}", opt={ROLES: ("scoring", "registry")})
async def report_page(request: Request, report_id: FromPath[str]) -> Response[Any]:
    report = await _report(request, report_id)
    return page(request, "report.html", report=report,
                headers={"Refresh": "1"} if report.status == "queued" else None)


@get("/reports/{report_id:str}/pdf", opt={ROLES: ("scoring", "registry")})
async def report_pdf(request: Request, report_id: FromPath[str]) -> Response[Any]:
    report = await _report(request, report_id)
    if report.status != "ready":
        raise NotFoundException(report_id)
    response = await pdf_response(request.app.state.engine, report)
    response.headers["Content-Disposition"] = f'attachment; filename="bonemets-{report.id}.pdf"'
    return response


async def _report(request: Request, report_id: str) -> reports.ReportRow:
    report = None if not is_id(report_id) else await anyio.to_thread.run_sync(
        reports.get_report, request.app.state.engine, report_id, request.user.client)
    if report is None:
        raise NotFoundException(report_id)
    return report


ROUTES = [sign_in_form, sign_in, sign_out, switch_language, home, compute_index, compute_form, compute,
          request_report, report_page, report_pdf]
