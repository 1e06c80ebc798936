"""The synchronous compute endpoints: scores, pathways and whole-case evaluations.

Each is the same thin edge: decode into the domain's input Struct, compute in the caller's language,
audit (committed before the answer), answer with the result and its audit id.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import MediaType, Request, Response, post
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Example
from litestar.params import Body

from api.audited import FHIR_JSON, audit, header, language, ranked
from api.auth import requires
from api.openapi import problems
from api.responses import RESPONSE_TYPES
from domain.kinds import KINDS, Kind
from domain.model import FieldProblem, InputRejected
from domain.validation import problems as schema_problems
from domain.validation import top_level_patient_ref
from infra import fhir_results
from infra.audit import pseudonymise
from infra.jobs import now as now_iso

TAGS = {"score.computed": "scores", "pathway.evaluated": "pathways", "evaluation.computed": "evaluations"}


def log_fields(result: Any) -> dict[str, Any]:
    if hasattr(result, "total"):
        return {"score": result.score, "total": result.total, "band": result.band}
    return {"rule_ids": list(result.rule_ids)}


def wants_fhir(request: Request) -> bool:
    """FHIR when the Accept header asks for application/fhir+json (q > 0) at least as much as application/json:
    `application/fhir+json;q=0` refuses it (RFC 9110, 12.5.1), and a client preferring plain JSON gets it."""
    weights = ranked(header(request.scope, b"accept"))
    fhir = weights.get(FHIR_JSON, 0.0)
    return fhir > 0 and fhir >= weights.get("application/json", 0.0)


def fhir_answer(request: Request, result: Any, patient_ref: str | None, audit_id: str) -> bytes:
    """A FHIR Bundle of the answer (infra.fhir_results), naming its audit record and the patient by keyed hash."""
    patient_hash = pseudonymise(request.app.state.settings.pseudonym_key, patient_ref)
    bundle = fhir_results.answer(msgspec.to_builtins(result), issued=now_iso(), patient_hash=patient_hash)
    bundle["identifier"] = {"system": "urn:bonemets:audit-record", "value": audit_id}
    return msgspec.json.encode(bundle)


# What each operation does, said as an integrator reads an operation list (the module's doc says the rest).
SUMMARIES = {
    "mirels": "Compute the Mirels score: the risk of fracture of a long-bone metastasis, and its advice",
    "sins": "Compute the SINS: the spinal instability of a vertebral metastasis, and its advice",
    "rades": "Compute the Rades score: the chance to walk after radiotherapy for cord compression",
    "tokuhashi": "Compute the revised Tokuhashi score: the expected survival with spinal metastases",
    "tomita": "Compute the Tomita score: the surgical strategy for spinal metastases",
    "evaluation": "Evaluate a whole case: every applicable score and pathway, composed into one safe answer",
}


def summary_of(kind: Kind) -> str:
    """What the operation does: a score's or the whole case's own line; for a pathway, its name and what its
    module's documentation says first (`Evaluate the spine pathway: whole-spine MRI, ...`)."""
    if kind.name in SUMMARIES:
        return SUMMARIES[kind.name]
    first = kind.description.strip().split("\n\n")[0].replace("\n", " ").split(". ")[0].rstrip(".")
    what = first.split(": ", 1)[1] if ": " in first else first
    summary = f"Evaluate the {kind.name.replace('-', ' ')} pathway: {what}"
    return summary if len(summary) <= 160 else summary[:160].rsplit(" ", 1)[0] + "…"


# Each kind's body read with msgspec's strict types: by the route (strictly) and by the direct path (api.direct)
DECODERS = {kind.path: msgspec.json.Decoder(kind.inputs) for kind in KINDS.values()}


def strictly(kind: Kind, decoder: msgspec.json.Decoder, body: bytes) -> None:
    """The body read with msgspec's strict types, as a bulk line, the direct path (api.direct) and the OpenAPI
    document read it: Litestar's own decoding converts leniently (a number or a boolean sent as a string, 0 or 1 as
    a boolean), which made one contract here and another in bulk. 400 naming each field (domain.validation)."""
    try:
        decoder.decode(body)
    except msgspec.ValidationError as exc:
        found = schema_problems(msgspec.json.decode(body), kind.inputs)
        raise InputRejected(found or [FieldProblem(field="$", message=str(exc))]) from None


def compute_route(kind: Kind) -> HTTPRouteHandler:
    response_type = RESPONSE_TYPES[kind.action]
    decoder = DECODERS[kind.path]

    async def handler(request: Request, data: Any) -> Any:
        strictly(kind, decoder, await request.body())
        top_level_patient_ref(data)
        result = kind.compute(data, language(request))
        audited = await audit(request, action=kind.action, inputs=data, output=result,
                              rule_ids=kind.rule_ids(result))
        request.scope["bonemets"]["log"].update(log_fields(result))
        if wants_fhir(request):  # the same answer, audited the same way, as FHIR R4 resources
            return Response(fhir_answer(request, result, data.patient_ref, audited.id), media_type=FHIR_JSON)
        return Response(audited.body(), media_type=MediaType.JSON)

    # The request and response schemas are the domain's Structs: set them for Litestar and OpenAPI.
    example = Example(summary="A typical request", value=kind.example)
    body = Body(media_type=RequestEncodingType.JSON, examples=[example])
    handler.__annotations__ = {"request": Request, "data": Annotated[kind.inputs, body],
                               "return": Response[response_type]}
    return post(kind.path, status_code=200, opt={"input_type": kind.inputs, **requires("scoring")},
                operation_id=f"{TAGS[kind.action]}_{kind.name.replace('-', '_')}", summary=summary_of(kind),
                tags=[TAGS[kind.action]], responses=problems(400, 401, 403, 413, 422, 503),
                description=kind.description + "\n\nThe response is returned only after its audit record is "
                "committed; its `audit_id` names that record.")(handler)


ROUTES = [compute_route(kind) for kind in KINDS.values()]
# each kind with its route, for the direct path (api.direct)
KIND_ROUTES = list(zip(KINDS.values(), ROUTES, strict=True))
