"""The audit trail for compliance reviewers (role auditor): query, export, verify, checkpoints.

Every reviewer query is itself audited (`audit.queried`: who asked, with which filters).
"""

from __future__ import annotations

import base64
import datetime as dt
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


def _cursor(value: str | None) -> int:
    if value is None:
        return 0
    try:
        seq = int(base64.urlsafe_b64decode(value.encode()).decode())
    except ValueError:
        raise ClientException("cursor is not one this service issued") from None
    if not 0 <= seq < 2**63:
        raise ClientException("cursor is not one this service issued")
    return seq


def _next(seq: int | None) -> str | None:
    return None if seq is None else base64.urlsafe_b64encode(str(seq).encode()).decode()


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
        if value is not None and ("\x00" in value or len(value) > 256):
            raise ClientException(f"{name} must be text of at most 256 characters, without NUL")
    filters = audit_review.Filters(
        since=_instant(since, "since"), until=_instant(until, "until"), client=client,
        patient_hash=pseudonymise(state.settings.pseudonym_key, patient_ref), rule_id=rule_id, endpoint=endpoint,
        action=action, job_id=job_id)
    asked = {**{k: v for k, v in msgspec.structs.asdict(filters).items() if v is not None}, "format": format}
    if format in ("ndjson", "csv"):
        await record_query(request, asked, {"streamed": True})
        batches = audit_review.export(state.engine, filters)
        lines = audit_review.ndjson_lines(batches) if format == "ndjson" else audit_review.csv_lines(batches)
        media = "application/x-ndjson" if format == "ndjson" else "text/csv"
        return Stream(lines, media_type=media,
                      headers={"Content-Disposition": f'attachment; filename="bonemets-audit.{format}"'})
    records, after = await anyio.to_thread.run_sync(
        lambda: audit_review.page(state.engine, filters, after=_cursor(cursor), limit=limit))
    await record_query(request, {**asked, "cursor": cursor}, {"records": len(records)})
    if format == "fhir":
        link = None if after is None else f"{request.url.path}?format=fhir&cursor={_next(after)}"
        return Response(fhir.bundle(records, link), media_type="application/fhir+json")
    return {"records": records, "next_cursor": _next(after)}


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
