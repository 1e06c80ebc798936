"""The one path by which a recommendation leaves the API: audit it, wait for the commit, then answer."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from domain.model import Inputs, Language
from infra.audit import entry as audit_record
from infra.audit import pseudonymise

_encode = msgspec.json.Encoder().encode
FHIR_JSON = "application/fhir+json"


def header(scope: Any, name: bytes) -> str:
    """A request header's value straight from the ASGI scope ('' when absent): on the hot path, without building
    Litestar's Headers for one lookup."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def language(request: Request) -> Language:
    """`fr` or `en` from Accept-Language, by quality; `en` when neither is asked for."""
    return negotiated(request.scope)


def negotiated(scope: Any) -> Language:
    """The request's language, negotiated once and kept with the request (the handler's text and the
    Content-Language header read the same answer)."""
    meta = scope.get("bonemets")
    if meta is None:
        return negotiate(header(scope, b"accept-language"))
    if (lang := meta.get("lang")) is None:
        lang = meta["lang"] = negotiate(header(scope, b"accept-language"))
    return lang


def ranked(value: str) -> dict[str, float]:
    """The items of an Accept-style header (`application/fhir+json`, `fr-CA`), lowercased, in the order first
    named, each with its weight: `q`, 1 when absent, 0 when it is not a number from 0 to 1 (RFC 9110, 12.4.2); the
    highest where an item is named twice."""
    weights: dict[str, float] = {}
    for part in value.split(","):
        item, has_params, params = part.partition(";")
        item = item.strip().lower()
        if not item:
            continue
        q = 1.0
        if has_params:
            for param in params.split(";"):
                param = param.strip()
                if param[:2].lower() == "q=":
                    try:
                        q = float(param[2:])
                    except ValueError:
                        q = 0.0
                    if not 0.0 <= q <= 1.0:  # also NaN
                        q = 0.0
        if q > weights.get(item, -1.0):
            weights[item] = q
    return weights


def negotiate(accept_language: str) -> Language:
    """`fr` or `en`, whichever Accept-Language weighs more (`fr-CA` counts as `fr`; `q=0` refuses); `en` when neither
    is acceptable."""
    best, best_q = "en", 0.0
    for tag, q in ranked(accept_language).items():
        primary = tag.split("-", 1)[0]
        if primary in ("en", "fr") and q > best_q:
            best, best_q = primary, q
    return best  # type: ignore[return-value]


class Audited(msgspec.Struct, frozen=True):
    """A committed audit record: its id, and the answer's JSON as recorded, reused for the response body."""

    id: str
    output_json: bytes

    def body(self) -> bytes:
        """The recorded answer with its audit id, encoded once for the record and the response alike."""
        return self.output_json[:-1] + b',"audit_id":"' + self.id.encode() + b'"}'


async def audit(request: Request, *, action: str, inputs: Inputs, output: Any,
                rule_ids: tuple[str, ...]) -> Audited:
    """Append the audit record of this response; return it once committed (AuditUnavailable if not)."""
    return await audit_for(request.app.state, request.user, request.scope, action=action, inputs=inputs,
                           output=output, rule_ids=rule_ids)


async def audit_for(app_state: Any, principal: Any, scope: Any, *, action: str, inputs: Inputs, output: Any,
                    rule_ids: tuple[str, ...]) -> Audited:
    """`audit`, from the application's state, the caller and the ASGI scope (api.direct has no Request)."""
    output_json = _encode(output)
    receipt_id = await record_for(app_state, principal, scope, action=action, input_json=_encode(
        msgspec.structs.replace(inputs, patient_ref=None)), output_json=output_json, patient_ref=inputs.patient_ref,
        rule_ids=rule_ids, versions=output)
    return Audited(id=receipt_id, output_json=output_json)


async def record(request: Request, *, action: str, input_json: bytes, output_json: bytes, patient_ref: str | None,
                 rule_ids: tuple[str, ...], versions: Any, audit_id: str | None = None) -> str:
    """Append one audit record for this request (the patient reference stored as its keyed hash only) and wait
    for its commit; its id (`audit_id`, when the answer must name its record before it is written). `versions`
    carries the guideline, engine and rules versions of the answer."""
    return await record_for(request.app.state, request.user, request.scope, action=action, input_json=input_json,
                            output_json=output_json, patient_ref=patient_ref, rule_ids=rule_ids, versions=versions,
                            audit_id=audit_id)


async def record_for(app_state: Any, principal: Any, scope: Any, *, action: str, input_json: bytes,
                     output_json: bytes, patient_ref: str | None, rule_ids: tuple[str, ...], versions: Any,
                     audit_id: str | None = None) -> str:
    """`record`, from the application's state, the caller and the ASGI scope (api.direct has no Request)."""
    meta = scope.get("bonemets", {})
    entry = audit_record(
        client=principal.client, roles=principal.roles, endpoint=f"{scope['method']} {scope['path']}",
        action=action, request_id=meta.get("request_id", ""), inputs=input_json, output=output_json,
        patient_hash=pseudonymise(app_state.settings.pseudonym_key, patient_ref), rule_ids=rule_ids,
        versions=versions, record_id=audit_id)
    receipt = await app_state.audit_writer.append(entry)
    meta.setdefault("log", {})["audit_id"] = receipt.id
    return receipt.id
