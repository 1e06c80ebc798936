"""Every exception -> RFC 9457 problem details, in one place. Never a 500 for what a client sent."""

from __future__ import annotations

import re
import traceback
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from api.audited import negotiated
from domain.model import FieldProblem, InputRejected
from domain.validation import problems, undecodable
from infra.audit import AuditUnavailable
from infra.broker import BrokerUnavailable
from infra.problems import problem_body

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("bonemets.api")

def problem(status: int, detail: str, *, errors: list[FieldProblem] | None = None,
            headers: dict[str, str] | None = None, instance: str | None = None, slug: str | None = None,
            title: str | None = None, extra: dict[str, Any] | None = None,
            language: str = "en") -> Response[dict[str, Any]]:
    """A problem document in `language` (fr/en): its title, detail and field messages (infra.problems)."""
    body = problem_body(status, detail, errors=errors, instance=instance, slug=slug, title=title, language=language)
    return Response({**body, **(extra or {})}, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _lang(request: Request) -> str:
    return negotiated(request.scope)


def on_input_rejected(request: Request, exc: InputRejected) -> Response:
    if exc.contradiction:
        return problem(422, "The values are each valid but contradict each other.", errors=exc.problems,
                       instance=request.url.path, language=_lang(request))
    return problem(400, "The request does not match the input schema.", errors=exc.problems,
                   instance=request.url.path, language=_lang(request))


def on_validation(request: Request, exc: ValidationException) -> Response:
    """Litestar's decoder stops at the first error; re-check the decoded body to report every field."""
    kind = request.route_handler.opt.get("input_type")
    body = request._connection_state.json  # decoded by Litestar before it failed; Empty if it was not JSON
    if kind is not None and (body is None or isinstance(body, dict | list | str | int | float | bool)):
        found = problems(body, kind)
        if found:
            return problem(400, "The request does not match the input schema.", errors=found,
                           instance=request.url.path, language=_lang(request))
    if kind is not None and not request._connection_state.body:  # no body at all: 'data', Litestar's name for it
        return problem(400, "The request body cannot be read.", errors=[FieldProblem(
            field="$", message="the body is empty: a JSON object is expected")], instance=request.url.path,
            language=_lang(request))
    messages = exc.extra if isinstance(exc.extra, list) else []
    errors = [FieldProblem(field=str(m.get("key", "$")), message=str(m.get("message", exc.detail)))
              for m in messages if isinstance(m, dict)]
    if missing := MISSING_PARAMETER.match(str(exc.detail)):
        errors = [FieldProblem(field=missing["name"], message="required")]
    if errors:  # a query, path or header parameter: Litestar's own detail names the URL, ours names the fields
        return problem(400, "The request's parameters are not valid.", errors=errors, instance=request.url.path,
                       language=_lang(request))
    return problem(400, "The request body cannot be read.", errors=[FieldProblem(
        field="$", message="the body is not valid JSON")], instance=request.url.path, language=_lang(request))


MISSING_PARAMETER = re.compile(r"Missing required (?:query |path |header |cookie )?parameter '(?P<name>[^']+)'")


def on_http(request: Request, exc: HTTPException) -> Response:
    headers = dict(exc.headers or {})
    # A 400 that Litestar raised itself (the body is not JSON at all) still lists what was wrong.
    errors = [FieldProblem(field="$", message=str(exc.detail))] if exc.status_code == 400 else None
    detail = str(exc.detail)
    if exc.status_code == 400 and isinstance(body := request._connection_state.body, bytes) and _past_floats(body):
        # msgspec stopped at a number no float holds (1e400), which it places at `$[...]`: its field, or what else
        # is wrong with the body's form
        found = undecodable(body, request.route_handler.opt.get("input_type"))
        return problem(400, "The request body cannot be read." if found.field == "$" else
                       "The request does not match the input schema.", errors=[found], instance=request.url.path,
                       language=_lang(request))
    if exc.status_code == 413 and (limit := body_limit(request)) is not None:  # Litestar's says only the title
        detail = too_large(limit)
    return problem(exc.status_code, detail, errors=errors, headers=headers or None,
                   instance=request.url.path, language=_lang(request))


def too_large(limit: int) -> str:
    return f"the body exceeds {limit} bytes"


def parameter_refused(name: str, message: str) -> ValidationException:
    """A query parameter a route's own checks refuse: a 400 naming it, as Litestar's refusals of parameters do."""
    return ValidationException(detail=message, extra=[{"key": name, "message": message}])


def _past_floats(body: bytes) -> bool:
    """Whether reading `body` as JSON stops at a number no float holds (msgspec's one ValidationError untyped)."""
    try:
        msgspec.json.decode(body)
    except msgspec.ValidationError:
        return True
    except (msgspec.DecodeError, RecursionError):
        return False
    return False


def body_limit(request: Request) -> int | None:
    """The body limit of the route the request reached (its own, or the application's BONEMETS_MAX_BODY_BYTES)."""
    try:
        return request.route_handler.resolve_request_max_body_size()
    except Exception:  # no route was matched: no limit to name
        return None


AUDIT_UNAVAILABLE = "The audit trail cannot be written; no recommendation is given. Retry later."


def on_broker_unavailable(request: Request, exc: BrokerUnavailable) -> Response:
    log.error("broker.unavailable", path=request.url.path, error=exc.cause)
    return problem(503, "The task queue cannot be reached; nothing was queued and nothing was kept. Retry later.",
                   headers={"Retry-After": "5"}, instance=request.url.path, slug="broker-unavailable",
                   title="Task queue unavailable" if _lang(request) == "en" else "File de tâches indisponible",
                   language=_lang(request))


def database_unreachable(exc: BaseException) -> bool:
    """The database could not be reached or its connection broke mid-request (never the client's doing): a
    connection-level error of SQLAlchemy, psycopg or sqlite3 ("database is locked" past its timeout)."""
    from infra.audit import connection_lost

    seen: BaseException | None = exc
    while seen is not None:
        names = {cls.__name__ for cls in type(seen).__mro__}
        if connection_lost(seen) or names & {"DisconnectionError"} or (
                "TimeoutError" in names and type(seen).__module__.startswith("sqlalchemy")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def frames(exc: BaseException) -> list[str]:
    """Where an exception was raised, without its message (which may carry a query's parameters or a line's
    content): file, line and function of each frame."""
    return [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)]


def failure(exc: Exception, path: str, language: str) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """A failure of ours, logged, as (status, problem document, header fields): the audit trail or the database
    unreachable is a 503 with Retry-After (an outage, not a bug: retry later), anything else a 500. The full
    application's handlers and the direct path (api.direct) both answer with it."""
    if isinstance(exc, AuditUnavailable):
        log.error("audit.unavailable", path=path)
        return 503, problem_body(503, AUDIT_UNAVAILABLE, instance=path, language=language), {"Retry-After": "5"}
    if database_unreachable(exc):
        log.error("database.unavailable", path=path, error=type(exc).__name__, where=frames(exc))
        return 503, problem_body(503, "The database cannot be reached; nothing was kept. Retry later.",
                                 instance=path, slug="database-unavailable", language=language,
                                 title="Database unavailable" if language == "en" else
                                 "Base de données indisponible"), {"Retry-After": "5"}
    log.error("request.unexpected_error", path=path, error=type(exc).__name__, where=frames(exc))
    return 500, problem_body(HTTP_500_INTERNAL_SERVER_ERROR, "An unexpected error occurred; it has been logged.",
                             instance=path, language=language), None


def on_unexpected(request: Request, exc: Exception) -> Response:
    status, body, headers = failure(exc, request.url.path, _lang(request))
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def on_undecodable(request: Request, exc: Exception) -> Response:
    """A body nested too deeply to decode, or not UTF-8: the client's input, so a 400, never a 500."""
    message = ("the body is nested too deeply" if isinstance(exc, RecursionError)
               else "the body is not valid UTF-8 text")
    return problem(400, "The request body cannot be read.", errors=[FieldProblem(field="$", message=message)],
                   instance=request.url.path, language=_lang(request))


# Identifiers this service issues (jobs, reports, audit records): anything else is unknown (404) or invalid,
# and never reaches a query (a NUL or a huge value would be a database error, not the client's).
ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_id(value: str) -> bool:
    return ID_PATTERN.fullmatch(value) is not None


EXCEPTION_HANDLERS = {
    RecursionError: on_undecodable,
    UnicodeDecodeError: on_undecodable,
    InputRejected: on_input_rejected,
    ValidationException: on_validation,
    AuditUnavailable: on_unexpected,
    BrokerUnavailable: on_broker_unavailable,
    HTTPException: on_http,
    Exception: on_unexpected,
}
