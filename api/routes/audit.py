"""The audit trail for compliance reviewers (role auditor): query, export, verify, checkpoints.

Every reviewer query is itself audited (`audit.queried`: who asked, with which filters).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Annotated, Any, Literal

import anyio.to_thread
import msgspec
from litestar import Request, Response, Router, get
from litestar.exceptions import ClientException
from litestar.params import QueryParameter
from litestar.response import Stream

from api.auth import requires
from domain import version
from infra import audit, audit_review, fhir
from infra.audit import AuditEntry, new_id, pseudonymise

Format = Literal["json", "ndjson", "csv", "fhir"]
_encode = msgspec.json.Encoder(order="sorted").encode
FORMATS = "json (a page), fhir (a page as a Bundle of AuditEvent), ndjson or csv (every match, streamed)"


def _instant(value: str | None, name: str) -> str | None:
    """A date or an ISO 8601 instant -> the trail's own format, so that text comparison is time order."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (ValueError, OverflowError):  # not a date, or one that leaves the calendar once in UTC
        raise ClientException(f"{name} must be an ISO 8601 date or date-time from year 1 to 9999") from None


class Page(msgspec.Struct, frozen=True):
    """What a cursor carries: where the next page starts, and the query it belongs to (issue 11: a page never
    leaves its filters, and a cursor needs no patient reference in its URL: only the keyed hash, inside)."""

    after: int
    filters: audit_review.Filters
    limit: int


def _next(page: Page | None, key: bytes) -> str | None:
    if page is None:
        return None
    payload = msgspec.json.encode(page)
    mac = hmac.new(key, payload, hashlib.sha256).hexdigest()[:32]
    return f"{base64.urlsafe_b64encode(payload).decode()}.{mac}"


def _cursor(value: str, key: bytes) -> Page:
    """The page a cursor of this service stands for; anything else is a 400."""
    try:
        encoded, mac = value.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(encoded.encode())
        if not hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).hexdigest()[:32], mac):
            raise ValueError
        page = msgspec.json.decode(payload, type=Page)
    except (ValueError, msgspec.DecodeError):
        raise ClientException("cursor is not one this service issued") from None
    if not 0 <= page.after < 2**63:
        raise ClientException("cursor is not one this service issued")
    return page


async def record_query(request: Request, what: dict[str, Any], outcome: dict[str, Any]) -> None:
    entry = AuditEntry(
        id=new_id(), client=request.user.client, roles=",".join(sorted(request.user.roles)),
        endpoint=f"GET {request.url.path}", action="audit.queried", request_id=request.scope["bonemets"]["request_id"],
        patient_hash=what.get("patient_hash"), input_json=_encode(what).decode(), output_json=_encode(outcome).decode(),
        rule_ids=(), guideline_version=version.GUIDELINE_VERSION, engine_version=version.ENGINE_VERSION,
        rules_version=version.RULES_VERSION)
    await anyio.to_thread.run_sync(request.app.state.audit_writer.append, entry)


@get("/", summary="Audit records, filtered, cursor-paginated; ?format=ndjson|csv streams every match")
async def query(
    request: Request,
    format: Annotated[Format, QueryParameter(description=FORMATS)] = "json",
    since: Annotated[str | None, QueryParameter(description="From this instant (ISO 8601), inclusive")] = None,
    until: Annotated[str | None, QueryParameter(description="Until this instant (ISO 8601), exclusive")] = None,
    client: Annotated[str | None, QueryParameter(description="The calling system")] = None,
    patient_ref: Annotated[str | None, QueryParameter(description="Hashed with the service's key to search")] = None,
    rule_id: Annotated[str | None, QueryParameter(description="A rule id fired, e.g. SP-3")] = None,
    endpoint: Annotated[str | None, QueryParameter(description="Prefix, e.g. 'POST /v1/scores'")] = None,
    action: Annotated[str | None, QueryParameter(description="e.g. score.computed, job.submitted")] = None,
    job_id: Annotated[str | None, QueryParameter(description="A bulk job")] = None,
    cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=audit_review.MAX_PAGE)] = 100,
) -> Any:
    state = request.app.state
    given = {"since": since, "until": until, "client": client, "patient_ref": patient_ref, "rule_id": rule_id,
             "endpoint": endpoint, "action": action, "job_id": job_id, "cursor": cursor}
    for name, value in given.items():  # text a database cannot hold is no filter of ours (never a 500)
        if value is not None and ("\x00" in value or len(value) > (2048 if name == "cursor" else 256)):
            raise ClientException(f"{name} must be text of at most {2048 if name == 'cursor' else 256} characters, "
                                  "without NUL")
    filters = audit_review.Filters(
        since=_instant(since, "since"), until=_instant(until, "until"), client=client,
        patient_hash=pseudonymise(state.settings.pseudonym_key, patient_ref), rule_id=rule_id, endpoint=endpoint,
        action=action, job_id=job_id)
    after = 0
    if cursor is not None:  # the cursor's own query: other filters or another limit beside it are refused
        page_of = _cursor(cursor, state.settings.pseudonym_key)
        given_filters = any(v is not None for k, v in given.items() if k != "cursor")
        if (given_filters and page_of.filters != filters) or (
                "limit" in request.query_params and page_of.limit != limit):
            raise ClientException("this cursor belongs to another query: send it alone (it carries its filters "
                                  "and limit), or the same filters and limit")
        filters, limit, after = page_of.filters, page_of.limit, page_of.after
    asked = {**{k: v for k, v in msgspec.structs.asdict(filters).items() if v is not None}, "format": format}
    if format in ("ndjson", "csv"):
        await record_query(request, asked, {"streamed": True})
        batches = audit_review.export(state.engine, filters)
        lines = audit_review.ndjson_lines(batches) if format == "ndjson" else audit_review.csv_lines(batches)
        media = "application/x-ndjson" if format == "ndjson" else "text/csv; charset=utf-8"
        return Stream(lines, media_type=media,
                      headers={"Content-Disposition": f'attachment; filename="bonemets-audit.{format}"'})
    records, last = await anyio.to_thread.run_sync(
        lambda: audit_review.page(state.engine, filters, after=after, limit=limit))
    await record_query(request, {**asked, "cursor": cursor}, {"records": len(records)})
    token = _next(None if last is None else Page(after=last, filters=filters, limit=limit),
                  state.settings.pseudonym_key)
    if format == "fhir":
        link = None if token is None else f"{request.url.path}?format=fhir&cursor={token}"
        return Response(fhir.bundle(records, link), media_type="application/fhir+json")
    return {"records": records, "next_cursor": token}


@get("/verify", summary="Walk the hash chain end to end and check every signed checkpoint")
async def verify(request: Request) -> audit.Verification:
    state = request.app.state
    result = await anyio.to_thread.run_sync(audit.verify, state.engine, state.settings.public_key)
    await record_query(request, {"verify": True}, {"intact": result.intact, "records": result.records})
    return result


@get("/checkpoints", summary="The signed checkpoints, and the public key that verifies them")
async def checkpoints(request: Request) -> dict[str, Any]:
    state = request.app.state
    found = await anyio.to_thread.run_sync(audit.checkpoints_of, state.engine)
    await record_query(request, {"checkpoints": True}, {"checkpoints": len(found)})
    return {"public_key": state.settings.public_key, "algorithm": "Ed25519",
            "message": "bonemets-audit-checkpoint:v1:{seq}:{hash}:{created_at}", "checkpoints": found}


router = Router(path="/v1/audit", route_handlers=[query, verify, checkpoints], opt=requires("auditor"),
                tags=["audit"])
