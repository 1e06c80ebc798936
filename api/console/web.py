"""What every console page shares: the Jinja2 environment, the language, the session guard (cookie -> session ->
principal, roles, CSRF, rate limit) and the HTML error pages.

The guard is the console router's `before_request`: it runs before any handler, reads the session from the
database (infra.console_sessions), sets the request's user exactly as the API key middleware does for the REST
API (so `api.audited.record` writes the same audit records), and refuses what the key's roles do not allow.
"""

from __future__ import annotations

import hmac
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import jinja2
import structlog
from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException

from api import errors
from api.audited import negotiate
from api.console.texts import JOB_STATUS, ROLE_NAMES, URGENCY, pick, translator
from api.ratelimit import policy_for
from domain.texts.messages import localise
from infra import console_sessions
from infra.audit import AuditUnavailable
from infra.broker import BrokerUnavailable

SESSION_COOKIE = "bonemets_console"
PRE_COOKIE = "bonemets_console_signin"  # the sign-in form's own CSRF token, before any session exists
LANG_COOKIE = "bonemets_console_lang"
PUBLIC = "console_public"  # route option: reachable without a session (sign-in, static files, language switch)
ROLES = "console_roles"  # route option: the roles a page needs, one of them (as api.auth.requires)
HERE = Path(__file__).parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"}

ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                         trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.do"])


_log = structlog.get_logger("bonemets.console")


def security_event(request: Request, event: str, **fields: Any) -> None:
    """Sign-in, its refusals, sign-out and a form's refused CSRF token: logged as security events with the request's
    id (their access line's), never a key (its id only, which is not secret); a refusal as a warning."""
    meta = request.scope.get("bonemets") or {}
    (_log.warning if "refused" in event else _log.info)(event, request_id=meta.get("request_id"), **fields)


def lang_of(request: Request) -> str:
    """The console's language: the switch's cookie, else Accept-Language (fr or en)."""
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in ("fr", "en") else negotiate(request.headers.get("accept-language", ""))


def secure(request: Request) -> bool:
    """Secure cookies where the browser speaks HTTPS: to this server, or to the proxy BONEMETS_PUBLIC_URL names."""
    public = request.app.state.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def cookie(request: Request, name: str, value: str, *, max_age: int | None = None) -> Cookie:
    return Cookie(key=name, value=value, path="/console", httponly=True, samesite="strict", secure=secure(request),
                  max_age=max_age)


def page(request: Request, template: str, *, status: int = 200, cookies: list[Cookie] | None = None,
         headers: dict[str, str] | None = None, **context: Any) -> Response[str]:
    """A page in the console's language, with the session's principal and CSRF token for the layout's forms."""
    lang = lang_of(request)
    session = request.scope.get("console_session")
    body = ENV.get_template(template).render(
        t=translator(lang), lang=lang, session=session, path=request.url.path, roles=ROLE_NAMES,
        pick=lambda table, key: pick({"urgency": URGENCY, "job": JOB_STATUS, "role": ROLE_NAMES}[table], key, lang),
        csrf=session.csrf if session is not None else "", colon=" :" if lang == "fr" else ":", **context)
    return Response(body, status_code=status, media_type=MediaType.HTML, cookies=cookies or [],
                    headers={**SECURITY_HEADERS, "Content-Language": lang, **(headers or {})})


def message_page(request: Request, status: int, title: str, detail: str, **headers: str) -> Response[str]:
    return page(request, "message.html", status=status, title=title, detail=detail, headers=headers)


async def guard(request: Request) -> Response | None:
    """Before every console handler: the session, the roles, the CSRF token of a form, the client's rate limit."""
    opt = request.route_handler.opt
    if opt.get(PUBLIC):
        return None
    t = translator(lang_of(request))
    state = request.app.state
    settings = state.settings
    session_id = request.cookies.get(SESSION_COOKIE, "")
    session = await anyio.to_thread.run_sync(lambda: console_sessions.find_session(
        state.engine, session_id, idle_s=settings.console_session_idle_s, max_s=settings.console_session_max_s))
    if session is None:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return Response("", status_code=303, headers={"Location": f"/console/sign-in?next={quote(target)}",
                                                         **SECURITY_HEADERS}, media_type=MediaType.TEXT)
        return message_page(request, 401, t("sign_in"), t("expired"))
    principal = session.principal
    request.scope["user"], request.scope["auth"] = principal, principal.key_id
    request.scope["console_session"] = session
    request.scope.setdefault("bonemets", {})["client"] = principal.client
    needed = opt.get(ROLES, ())
    if needed and principal.roles.isdisjoint(needed):
        lang = lang_of(request)
        return message_page(request, 403, t("forbidden"), t(
            "forbidden_detail", roles=" / ".join(pick(ROLE_NAMES, r, lang) for r in needed),
            have=", ".join(pick(ROLE_NAMES, r, lang) for r in sorted(principal.roles))))
    if request.method == "POST":
        form = await request.form()
        if not hmac.compare_digest(str(form.get("csrf", "")).encode(), session.csrf.encode()):
            security_event(request, "console.csrf_refused", client=principal.client, key_id=principal.key_id,
                           path=request.url.path)
            return message_page(request, 403, t("forbidden"), t("csrf"))
    return limited(request)


def limited(request: Request) -> Response | None:
    """The client's rate limit, shared with the REST API (the same buckets: a console page is one request of the
    `audit` budget under /console/audit, of `api` elsewhere)."""
    limiter = request.app.state.get("rate_limiter")
    if not limiter:
        return None
    path = "/v1/audit" if request.url.path.startswith("/console/audit") else "/v1/console"
    policy = limiter.policies.get(policy_for("GET", path))
    if policy is None:
        return None
    served, _, window = policy.take(request.user.client, time.monotonic())
    if served:
        return None
    t = translator(lang_of(request))
    request.scope["bonemets"].setdefault("log", {})["rate_limited"] = policy.name
    return message_page(request, 429, t("too_many", retry=window), t("too_many", retry=window),
                        **{"Retry-After": str(window)})


def new_token() -> str:
    return secrets.token_urlsafe(32)


def on_http_error(request: Request, exc: HTTPException) -> Response[str]:
    t = translator(lang_of(request))
    title = {404: t("not_found"), 403: t("forbidden")}.get(exc.status_code, str(exc.status_code))
    detail = str(exc.detail)
    if exc.status_code == 413 and (limit := errors.body_limit(request)) is not None:  # Litestar's is the title
        detail = localise(errors.too_large(limit), lang_of(request))
    return message_page(request, exc.status_code, title, detail)


def on_unavailable(request: Request, exc: Exception) -> Response[str]:
    t = translator(lang_of(request))
    return message_page(request, 503, t("unavailable"), t("unavailable"), **{"Retry-After": "5"})


def on_unexpected(request: Request, exc: Exception) -> Response[str]:
    """Logged as the API logs it (api.errors: where, never what), answered as a page."""
    answer = errors.on_unexpected(request, exc)
    return message_page(request, answer.status_code, str(answer.status_code), translator(lang_of(request))(
        "unavailable"))


EXCEPTION_HANDLERS = {HTTPException: on_http_error, AuditUnavailable: on_unavailable,
                      BrokerUnavailable: on_unavailable, Exception: on_unexpected}
