"""The audit trail for compliance reviewers (role auditor): query, export, verify, checkpoints.

Every reviewer query is itself audited (`audit.queried`: who asked, with which filters).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import anyio.to_thread
import msgspec
from litestar import Request, Response, Router, get
from litestar.exceptions import ClientException
from litestar.params import QueryParameter

from api.auth import requires
from api.errors import parameter_refused
from api.openapi import problems
from api.responses import TypedStream
from infra import audit, audit_review, fhir
from infra.audit import entry as audit_record
from infra.audit import pseudonymise
from infra.signing import Signer, file_path, key_id_of, read_sink

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
        raise parameter_refused(name, f"{name} must be an ISO 8601 date or date-time from year 1 to 9999") from None


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
        raise parameter_refused("cursor", "cursor is not one this service issued") from None
    if not 0 <= page.after < 2**63:
        raise parameter_refused("cursor", "cursor is not one this service issued")
    return page


async def record_query(request: Request, what: dict[str, Any], outcome: dict[str, Any]) -> None:
    entry = audit_record(client=request.user.client, roles=request.user.roles, endpoint=f"GET {request.url.path}",
                         action="audit.queried", request_id=request.scope["bonemets"]["request_id"], inputs=what,
                         output=outcome, patient_hash=what.get("patient_hash"))
    await request.app.state.audit_writer.append(entry)


class Query(msgspec.Struct, frozen=True):
    """The filters of a review as a client gives them (the patient reference still in clear)."""

    since: str | None
    until: str | None
    client: str | None
    patient_ref: str | None
    rule_id: str | None
    endpoint: str | None
    action: str | None
    job_id: str | None

    def filters(self, key: bytes) -> audit_review.Filters:
        for name, value in msgspec.structs.asdict(self).items():  # text a database cannot hold is no filter
            if value is not None and ("\x00" in value or len(value) > 256):
                raise parameter_refused(name, f"{name} must be text of at most 256 characters, without NUL")
        return audit_review.Filters(
            since=_instant(self.since, "since"), until=_instant(self.until, "until"), client=self.client,
            patient_hash=pseudonymise(key, self.patient_ref), rule_id=self.rule_id, endpoint=self.endpoint,
            action=self.action, job_id=self.job_id)

    def given(self) -> bool:
        return any(v is not None for v in msgspec.structs.asdict(self).values())


Since = Annotated[str | None, QueryParameter(description="From this instant (ISO 8601), inclusive")]
Until = Annotated[str | None, QueryParameter(description="Until this instant (ISO 8601), exclusive")]
Client = Annotated[str | None, QueryParameter(description="The calling system")]
PatientRef = Annotated[str | None, QueryParameter(description="Hashed with the service's key to search")]
RuleId = Annotated[str | None, QueryParameter(description="A rule id fired, e.g. SP-3")]
Endpoint = Annotated[str | None, QueryParameter(description="Prefix, e.g. 'POST /v1/scores'")]
Action = Annotated[str | None, QueryParameter(description="e.g. score.computed, job.submitted")]
JobId = Annotated[str | None, QueryParameter(description="A bulk job")]


@get("/", summary="Audit records, filtered, cursor-paginated; ?format=ndjson|csv streams every match",
     operation_id="audit_query", responses=problems(400, 401, 403, 503))
async def query(
    request: Request,
    format: Annotated[Format, QueryParameter(description=FORMATS)] = "json",
    since: Since = None, until: Until = None, client: Client = None, patient_ref: PatientRef = None,
    rule_id: RuleId = None, endpoint: Endpoint = None, action: Action = None, job_id: JobId = None,
    cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=audit_review.MAX_PAGE)] = 100,
) -> Any:
    state = request.app.state
    asked = Query(since=since, until=until, client=client, patient_ref=patient_ref, rule_id=rule_id,
                  endpoint=endpoint, action=action, job_id=job_id)
    if cursor is not None and ("\x00" in cursor or len(cursor) > 2048):
        raise parameter_refused("cursor", "cursor must be text of at most 2048 characters, without NUL")
    filters = asked.filters(state.settings.pseudonym_key)
    after = 0
    if cursor is not None:  # the cursor's own query: other filters or another limit beside it are refused
        page_of = _cursor(cursor, state.settings.pseudonym_key)
        if (asked.given() and page_of.filters != filters) or (
                "limit" in request.query_params and page_of.limit != limit):
            raise ClientException("this cursor belongs to another query: send it alone (it carries its filters "
                                  "and limit), or the same filters and limit")
        filters, limit, after = page_of.filters, page_of.limit, page_of.after
    recorded = {**{k: v for k, v in msgspec.structs.asdict(filters).items() if v is not None}, "format": format}
    if format in ("ndjson", "csv") and cursor is not None:
        raise ClientException("an export streams every match: send its filters, not a cursor (cursors page "
                              "format=json and format=fhir)")
    if format in ("ndjson", "csv"):
        return await _export(request, filters, format, recorded)
    records, last = await anyio.to_thread.run_sync(
        lambda: audit_review.page(state.engine, filters, after=after, limit=limit))
    await record_query(request, {**recorded, "cursor": cursor}, {"records": len(records)})
    token = _next(None if last is None else Page(after=last, filters=filters, limit=limit),
                  state.settings.pseudonym_key)
    if format == "fhir":
        link = None if token is None else f"{request.url.path}?format=fhir&cursor={token}"
        return Response(fhir.bundle(records, link), media_type="application/fhir+json")
    return {"records": records, "next_cursor": token}


async def _export(request: Request, filters: audit_review.Filters, format: str, recorded: dict) -> TypedStream:
    """Every match up to the head as it stands now, streamed in bounded memory; an NDJSON export ends with its
    signed manifest, and both formats link to it (GET /v1/audit/manifest with the same filters)."""
    state = request.app.state
    through, _ = await anyio.to_thread.run_sync(audit_review.head_of, state.engine)
    await record_query(request, {**recorded, "through_seq": through}, {"streamed": True})
    builder = audit_review.ManifestBuilder(filters, through)
    batches = (builder.add(records) for records in audit_review.export(state.engine, filters, through))
    signer = Signer(state.settings.audit_signing_key)
    if format == "ndjson":
        lines = audit_review.ndjson_lines(
            batches, lambda: audit_review.signed_manifest(state.engine, builder, signer))
    else:
        lines = audit_review.csv_lines(batches)
    # the query as a signed token (the patient's keyed hash inside, never the reference in a URL)
    query = _next(Page(after=0, filters=filters, limit=1), state.settings.pseudonym_key)
    manifest = f"/v1/audit/manifest?{urlencode([('query', query), ('through_seq', through)])}"
    media = "application/x-ndjson" if format == "ndjson" else "text/csv"  # Litestar adds "; charset=utf-8"
    return TypedStream(lines, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="bonemets-audit-through-{through}.{format}"',
        "Audit-Through-Seq": str(through), "Link": f'<{manifest}>; rel="describedby"'})


@get("/manifest", summary="The signed manifest of an export: its filters, records, count, digest, checkpoints",
     operation_id="audit_get_manifest", responses=problems(400, 401, 403, 503))
async def manifest(
    request: Request,
    through_seq: Annotated[int, QueryParameter(ge=0, le=2**63 - 1,
                                               description="The export's Audit-Through-Seq header")],
    token: Annotated[str | None, QueryParameter(name="query", max_length=2048, description="The export's query, as "
                                           "its Link header gives it (instead of the filters)")] = None,
    since: Since = None, until: Until = None, client: Client = None, patient_ref: PatientRef = None,
    rule_id: RuleId = None, endpoint: Endpoint = None, action: Action = None, job_id: JobId = None,
) -> dict[str, Any]:
    state = request.app.state
    asked = Query(since=since, until=until, client=client, patient_ref=patient_ref, rule_id=rule_id,
                  endpoint=endpoint, action=action, job_id=job_id)
    filters = asked.filters(state.settings.pseudonym_key)
    if token is not None:
        if asked.given():
            raise ClientException("send the export's query token or its filters, not both")
        filters = _cursor(token, state.settings.pseudonym_key).filters
    head, _ = await anyio.to_thread.run_sync(audit_review.head_of, state.engine)
    if through_seq > head:
        raise ClientException(f"through_seq {through_seq} is past the chain head ({head})")
    signed = await anyio.to_thread.run_sync(
        audit_review.manifest_for, state.engine, filters, through_seq, Signer(state.settings.audit_signing_key))
    recorded = {k: v for k, v in msgspec.structs.asdict(filters).items() if v is not None}
    await record_query(request, {**recorded, "manifest": True, "through_seq": through_seq},
                       {"records": signed["count"], "digest": signed["digest"]})
    return signed


@get("/verify", summary="Walk the hash chain in one snapshot; check checkpoints, their density and the sink",
     operation_id="audit_verify", responses=problems(401, 403, 503))
async def verify(request: Request) -> audit.Verification:
    state = request.app.state
    settings = state.settings
    result = await anyio.to_thread.run_sync(_verify, state.engine, settings)
    await record_query(request, {"verify": True}, {"intact": result.intact, "records": result.records})
    return result


def _verify(engine: Any, settings: Any) -> audit.Verification:
    """The database's chain, and the checkpoints published to the file sink when there is one."""
    path = file_path(settings.audit_checkpoint_sink)
    published = read_sink(path, settings.keyring) if path is not None and os.path.exists(path) else None
    return audit.verify(engine, settings.keyring, coverage=settings.coverage, published=published)


@get("/checkpoints", summary="The signed checkpoints, and the current and retired keys that verify them",
     operation_id="audit_get_checkpoints", responses=problems(401, 403, 503))
async def checkpoints(request: Request) -> dict[str, Any]:
    state = request.app.state
    found = await anyio.to_thread.run_sync(audit.checkpoints_of, state.engine)
    await record_query(request, {"checkpoints": True}, {"checkpoints": len(found)})
    current = state.settings.public_key
    keys = [{"key_id": key_id_of(k), "public_key": k, "status": "current" if k == current else "retired"}
            for k in dict.fromkeys([current, *state.settings.audit_retired_public_keys])]
    return {"public_key": current, "keys": keys, "algorithm": "Ed25519",
            "message": "bonemets-audit-checkpoint:v1:{seq}:{hash}:{created_at}", "checkpoints": found,
            "trust": "the service's own word: check these keys against the ones your organisation pinned, or the "
                     "checkpoints against the external sink's copy (bonemets audit verify --against-checkpoints)"}


router = Router(path="/v1/audit", route_handlers=[query, manifest, verify, checkpoints], opt=requires("auditor"),
                tags=["audit"])
