"""CDS Hooks 2.0.1 (issue 13): discovery, the `patient-view` and `order-select` services, and feedback.

The EHR calls with its signed JWT (api.auth); a call's FHIR resources become a case (infra.fhir_case), the case is
evaluated by the same domain code as `POST /v1/evaluations`, the cards (infra.cds) are audited before they are
sent, and the same hookInstance called again gets the same cards."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import urllib.parse
import urllib.request
from typing import Any
from zoneinfo import ZoneInfo

import anyio.to_thread
import msgspec
import structlog
from litestar import MediaType, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import ClientException, NotAuthorizedException, NotFoundException
from litestar.params import FromPath

from api.audited import language, record
from api.auth import CDS_CHALLENGE, CDS_REFUSED, JTI_IN_HANDLER, public_url, requires
from api.openapi import problems
from domain.model import FieldProblem, InputRejected
from domain.validation import problems as schema_problems
from domain.validation import undecodable
from infra import cds, cds_store, report_links
from infra.audit import current_versions, new_id
from infra.cds_auth import SeenTokens, TokenRefused, remember_jti
from infra.cds_models import FeedbackRequest, OrderSelectContext, PatientViewContext, Services
from infra.cds_models import Request as HookRequest
from infra.cds_models import Response as HookResponse

log = structlog.get_logger("bonemets.cds")
_encode = msgspec.json.Encoder().encode
CONTEXTS = {"patient-view": PatientViewContext, "order-select": OrderSelectContext}
FHIR_JSON = "application/fhir+json"
# A whole chart's prefetch (100 MedicationRequests, 50 Procedures, their Bundles) outgrows the REST body limit
CDS_MAX_BODY = 8 << 20


@get("/cds-services", tags=["cds-hooks"], operation_id="cds_hooks_discovery", opt=requires("cds"),
     summary="CDS Hooks discovery: the services this server offers, their hooks and prefetch templates",
     responses=problems(401))
async def discovery() -> Services:
    return Services(services=cds.SERVICES)


def decode(raw: bytes, kind: type, field_prefix: str = "") -> Any:
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError:
        try:
            found = schema_problems(msgspec.json.decode(raw), kind)
        except msgspec.DecodeError:  # a number no float holds (1e400): no field pass, the one problem placed
            found = [undecodable(raw, kind)]
        raise InputRejected([FieldProblem(field=f"{field_prefix}{p.field}", message=p.message, allowed=p.allowed)
                             for p in found]) from None
    except msgspec.DecodeError:
        raise InputRejected([undecodable(raw, kind)]) from None


class _Refuse(urllib.request.HTTPRedirectHandler):
    """A FHIR server's redirect is not followed: the access token would go wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


NO_REDIRECTS = urllib.request.build_opener(_Refuse)


def fetch_missing(hook: HookRequest, keys: list[str], allowed: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """What the prefetch lacks, read from the EHR's FHIR server with the access token it gave, if that server is one
    the issuer's configuration lists (`fhir_servers`), and why a key may still be missing; a key that cannot be read
    stays missing (the call is 412)."""
    if hook.fhir_server is msgspec.UNSET or hook.fhir_authorization is msgspec.UNSET:
        return {}, "no_server"
    server = str(hook.fhir_server).rstrip("/")
    if not any(server == p.rstrip("/") or server.startswith(p.rstrip("/") + "/") for p in allowed):
        log.warning("cds.fhir_server_not_allowed")  # not the URL: the caller's word, not ours to write down
        return {}, "not_allowed"
    fetched: dict[str, Any] = {}
    patient = urllib.parse.quote(str(hook.context.get("patientId", "")), safe="")
    for key in keys:
        url = f"{str(hook.fhir_server).rstrip('/')}/{cds.PREFETCH[key].replace('{{context.patientId}}', patient)}"
        asked = urllib.request.Request(url, headers={
            "Authorization": f"Bearer {hook.fhir_authorization.access_token}", "Accept": FHIR_JSON})
        try:
            with NO_REDIRECTS.open(asked, timeout=5) as answer:
                fetched[key] = json.loads(answer.read(8 << 20))
        except (OSError, ValueError) as exc:
            log.warning("cds.fetch_failed", key=key, error=type(exc).__name__)
    return fetched, "failed"


WHY_MISSING = {
    "no_server": {"en": "the call has no fhirServer and fhirAuthorization to read it with",
                  "fr": "l'appel n'a pas de fhirServer et fhirAuthorization pour le lire"},
    "not_allowed": {"en": "the call's fhirServer is not one this EHR (issuer) is configured with, so it is not read",
                    "fr": "le fhirServer de l'appel n'est pas l'un de ceux configurés pour cet EHR (émetteur) : il "
                          "n'est pas lu"},
    "failed": {"en": "reading it from the fhirServer failed", "fr": "sa lecture sur le fhirServer a échoué"},
}


def precondition_failed(missing: list[str], lang: str, why: str = "no_server") -> Response[dict[str, Any]]:
    """412 with an OperationOutcome naming each prefetch key the service needs and could not get, and why."""
    said = {"en": "prefetch {key!r} ({query}) is missing: {why}",
            "fr": "le prefetch {key!r} ({query}) manque : {why}"}[lang]
    return Response({"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "required", "expression": [f"prefetch.{key}"],
         "diagnostics": said.format(key=key, query=cds.PREFETCH[key], why=WHY_MISSING[why][lang])}
        for key in missing]}, status_code=412, media_type=FHIR_JSON, headers={"Content-Language": lang})


def today(request: Request) -> dt.date:
    return dt.datetime.now(ZoneInfo(request.app.state.settings.timezone)).date()


class Unanswered(Exception):
    """A call that ends without cards (412): its response, for it and for any twin that waited on it."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__("unanswered")
        self.response = response


@post("/cds-services/{service_id:str}", tags=["cds-hooks"], operation_id="cds_hooks_call", status_code=200,
      opt={"input_type": HookRequest, JTI_IN_HANDLER: True, **requires("cds")}, request_max_body_size=CDS_MAX_BODY,
      summary="A CDS Hooks service call: cards from the guideline for this patient or these selected orders",
      responses=problems(400, 401, 404, 409, 413, 422, 503))
async def call(request: Request, service_id: FromPath[str]) -> Response[HookResponse]:
    if service_id not in cds.SERVICE_HOOKS:
        raise NotFoundException(f"No CDS service {service_id}.")
    client = request.user.client
    state = request.app.state
    claims = request.scope["bonemets"]["cds_claims"]
    raw = await request.body()
    try:
        hook = decode(raw, HookRequest)
        answers = cds.SERVICE_HOOKS[service_id]
        if hook.hook != answers:
            raise InputRejected([FieldProblem(field="hook", message=f"this service answers {answers}",
                                              allowed=[answers])])
        context = decode(_encode(hook.context), CONTEXTS[hook.hook], "context.")
    except InputRejected:  # the token is spent all the same: it cannot be replayed with another body
        await anyio.to_thread.run_sync(lambda: remember(state.engine, claims, state.cds_seen_tokens))
        raise
    digest = cds_store.call_digest(hook, language(request))
    in_flight: cds_store.InFlight = state.cds_in_flight
    early: cds.Answered | InputRejected | None = None
    try:
        if state.cds_admission is None:  # SQLite (one process): memory and one WAL read, here — a thread hop would
            admitted = cds_store.admit(state.engine, claims, client, hook.hook_instance,  # cost more than the read
                                       state.cds_seen_tokens)
        else:  # PostgreSQL: one statement on the event loop; the cards are made while the database answers, and
            # nothing is recorded or sent before it has (a replay is refused, a retry gets the first answer)
            admission = asyncio.ensure_future(state.cds_admission.admit(claims, client, hook.hook_instance,
                                                                        service_id, digest))
            await asyncio.sleep(0)  # the statement goes out
            if in_flight.get(client, hook.hook_instance) is None:
                try:
                    early = cards_early(request, hook)
                except Exception:  # made again after the admission, where a failure releases the hookInstance
                    early = None
            admitted = await admission
    except TokenRefused as refused:
        log.warning("cds.token_refused", reason=refused.reason, path=request.url.path)
        raise NotAuthorizedException(CDS_REFUSED, headers=CDS_CHALLENGE) from None
    if (flight := in_flight.get(client, hook.hook_instance)) is not None:  # being answered here: its very answer
        same_call(flight[0], flight[1], service_id, digest)
        try:
            return Response(await asyncio.shield(flight[2]), media_type=MediaType.JSON)
        except Unanswered as unanswered:
            return unanswered.response
    if not admitted.claimed:  # made before, here or by another process: its stored answer
        same_call(admitted.service, admitted.request_sha256, service_id, digest)
        stored = admitted if admitted.response_json else await answered_elsewhere(state, client, hook.hook_instance)
        return Response(_encode(cds_store.unmasked(msgspec.json.decode(stored.response_json), context.patient_id)),
                        media_type=MediaType.JSON)
    in_flight.start(client, hook.hook_instance, service_id, digest)
    try:
        return await answer(request, service_id, hook, context, claims, digest, early)
    except BaseException as exc:  # no answer: the hookInstance is released, a twin that waited gets the same end
        in_flight.fail(client, hook.hook_instance, exc)
        await anyio.to_thread.run_sync(cds_store.release, state.cds_engine, client, hook.hook_instance)
        if isinstance(exc, Unanswered):
            return exc.response
        raise


def same_call(service: str | None, request_sha256: str | None, service_id: str, digest: str) -> None:
    """A retry sends the same call; the same hookInstance with anything else is another call (422)."""
    if service != service_id or request_sha256 != digest:
        raise InputRejected([FieldProblem(field="hookInstance", message="already used for another call")],
                            contradiction=True)


async def answered_elsewhere(state: Any, client: str, hook_instance: str) -> cds_store.Admitted:
    """The answer another API process is giving to this hookInstance, once it has kept it (polled: a call takes
    milliseconds); 409 if it has not within a few seconds (that process may have died: retry later)."""
    deadline = time.monotonic() + min(5.0, state.settings.audit_timeout_s)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.025)
        found = await anyio.to_thread.run_sync(cds_store.stored_call, state.cds_engine, client, hook_instance)
        if found is not None and found.response_json:
            return found
    raise ClientException(detail="A call with this hookInstance is still being answered; retry in a moment.",
                          status_code=409, headers={"Retry-After": "1"})


def cards_early(request: Request, hook: HookRequest) -> cds.Answered | InputRejected | None:
    """The cards of a call whose prefetch is complete, made before its admission is known (a bad finding is
    returned, to be raised once it is); None when the prefetch must first be completed."""
    prefetch = dict(hook.prefetch or {}) if hook.prefetch is not msgspec.UNSET else {}
    if any(key not in prefetch for key in cds.PREFETCH):
        return None
    try:
        return cds.answer(hook, prefetch, today(request), language(request))
    except InputRejected as rejected:
        return rejected


async def answer(request: Request, service_id: str, hook: HookRequest, context: Any, claims: dict[str, Any],
                 digest: str, early: cds.Answered | InputRejected | None = None) -> Response[Any]:
    """The call this request claimed: the prefetch completed (or 412), the cards (`early`, if made while it was
    admitted), their audit record; the call and its cards kept after the answer, for retries and feedback."""
    if isinstance(early, InputRejected):
        raise early
    state = request.app.state
    client = request.user.client
    prefetch = dict(hook.prefetch or {}) if hook.prefetch is not msgspec.UNSET else {}
    absent = [key for key in cds.PREFETCH if key not in prefetch]
    lang = language(request)
    if absent and early is None:
        issuer = state.cds_issuers.current().get(request.scope["bonemets"].get("cds_issuer"))
        allowed = issuer.fhir_servers if issuer is not None else ()
        fetched, why = await anyio.to_thread.run_sync(fetch_missing, hook, absent, allowed)
        prefetch.update(fetched)
        absent = [key for key in cds.PREFETCH if key not in prefetch]
        if absent:
            raise Unanswered(precondition_failed(absent, lang, why))
    answered = early or cds.answer(hook, prefetch, today(request), lang)
    case, result = answered.case, answered.result
    audit_id = new_id()  # the cards link to the report of their own audit record, signed before it is written
    link = report_links.grant_for(state.settings.pseudonym_key, audit_id=audit_id, client=client, language=lang,
                                  ttl_s=state.settings.report_link_ttl_s)
    served = cds.with_report_link(answered.served, f"{public_url(request)}/v1/report-links/{link}", lang)
    response = HookResponse(cards=[card for card, _ in served])
    response_json = _encode(response)
    await record(
        request, action="cds.answered", audit_id=audit_id,
        input_json=_encode({"hook": hook.hook, "hookInstance": hook.hook_instance, "service": service_id,
                            "selections": getattr(context, "selections", None), "case": case}),
        output_json=_encode({"cards": cds_store.masked(msgspec.to_builtins(response.cards)), "evaluation": result}),
        patient_ref=context.patient_id, rule_ids=result.rule_ids, versions=result)
    in_flight: cds_store.InFlight = state.cds_in_flight
    in_flight.get(client, hook.hook_instance)[2].set_result(response_json)

    async def keep() -> None:  # after the answer: the call by hookInstance and its cards, for retries and feedback
        try:
            await anyio.to_thread.run_sync(lambda: cds_store.keep_call(
                state.engine, client=client, service=service_id, hook_instance=hook.hook_instance,
                audit_id=audit_id, request_sha256=digest,
                response_json=_encode(cds_store.masked(msgspec.to_builtins(response))), cards=served, token=claims))
        except Exception as exc:  # answered and audited, but not kept: a retry will be a new call, not a wait
            log.error("cds.keep_failed", error=type(exc).__name__)
            await anyio.to_thread.run_sync(cds_store.release, state.cds_engine, client, hook.hook_instance)
        finally:
            in_flight.end(client, hook.hook_instance)

    request.scope["bonemets"]["log"].update({"service": service_id, "cards": len(served)})
    return Response(response_json, media_type=MediaType.JSON, background=BackgroundTask(keep))


def remember(engine: Any, claims: dict[str, Any], seen: SeenTokens) -> None:
    with contextlib.suppress(TokenRefused):
        remember_jti(engine, claims["iss"], str(claims["jti"]), claims["exp"], seen=seen)


@post("/cds-services/{service_id:str}/feedback", tags=["cds-hooks"], operation_id="cds_hooks_feedback",
      status_code=200, opt={"input_type": FeedbackRequest, **requires("cds")}, request_max_body_size=CDS_MAX_BODY,
      summary="CDS Hooks feedback: what the clinician did with each card (idempotent, audited)",
      responses=problems(400, 401, 404, 413, 503))
async def feedback(request: Request, service_id: FromPath[str]) -> FeedbackReceipt:
    if service_id not in cds.SERVICE_HOOKS:
        raise NotFoundException(f"No CDS service {service_id}.")
    sent = decode(await request.body(), FeedbackRequest)
    state = request.app.state
    client = request.user.client
    recorded = 0
    cards = []
    for i, item in enumerate(sent.feedback):  # every item checked before any is recorded
        card = await anyio.to_thread.run_sync(cds_store.card_of, state.engine, client, item.card)
        if card is None or card["service"] != service_id:
            raise NotFoundException(f"No card {item.card} served by {service_id} to this client.")
        offered = await anyio.to_thread.run_sync(cds_store.suggestions_of, state.engine, card)
        unknown = [j for j, s in enumerate(item.accepted_suggestions or []) if s.id not in offered]
        if unknown:
            raise InputRejected([FieldProblem(field=f"feedback[{i}].acceptedSuggestions[{j}].id",
                                              message="not a suggestion of this card", allowed=sorted(offered))
                                 for j in unknown])
        cards.append(card)
    for item, card in zip(sent.feedback, cards, strict=True):
        if await anyio.to_thread.run_sync(cds_store.already_given, state.engine, item):
            continue  # the same outcome reported again: nothing new to record or audit
        audit_id = await record(request, action="cds.feedback", input_json=_encode(item),
                                output_json=_encode({"card": item.card, "outcome": item.outcome,
                                                     "rule_ids": card["rule_ids"].split(",")}),
                                patient_ref=None, rule_ids=tuple(r for r in card["rule_ids"].split(",") if r),
                                versions=current_versions())
        kept = await anyio.to_thread.run_sync(lambda i=item, a=audit_id: cds_store.keep_feedback(
            state.engine, client=client, service=service_id, feedback=i, audit_id=a))
        recorded += kept
    return FeedbackReceipt(recorded=recorded, received=len(sent.feedback))


class FeedbackReceipt(msgspec.Struct):
    """How many outcomes were recorded now (an outcome reported again is not recorded twice) of those received."""

    recorded: int
    received: int


class CardCounts(msgspec.Struct):
    """The cards of one service speaking for the same rules with the same indicator: how many were served, and how
    many were last reported accepted or overridden."""

    service: str
    rule_ids: list[str]
    indicator: str
    served: int
    accepted: int
    overridden: int


class CardAcceptance(msgspec.Struct):
    cards: list[CardCounts]




@get("/v1/audit/cds-feedback", tags=["audit"], operation_id="audit_cds_feedback", opt=requires("auditor"),
     summary="Per CDS Hooks card (service, rules, indicator): how many were served, accepted and overridden",
     responses=problems(401, 403))
async def acceptance(request: Request) -> CardAcceptance:
    rows = await anyio.to_thread.run_sync(cds_store.acceptance, request.app.state.engine)
    return CardAcceptance(cards=[msgspec.convert(row, CardCounts) for row in rows])


ROUTES = [discovery, call, feedback, acceptance]
