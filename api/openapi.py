"""The OpenAPI document, made to tell the truth (issue 12): every status code an operation can send with the problem
document it sends, every media type, unique schema titles, `anyOf` where a value may match several branches,
one operationId convention, real examples, and no security on the health and schema routes.

Litestar generates the document from the routes; the routes declare their problem answers with `problems()`;
`polish()` then adds what Litestar cannot express (several media types for one status, overlapping unions, the
titles client generators name their classes after) to the generated document, once, before it is served.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from api.responses import Problem
from infra.cds import SERVICE_HOOKS

PROBLEM_JSON = "application/problem+json"
FHIR_JSON = "application/fhir+json"

# What each status means here, and a real problem document this service sends for it.
_PROBLEMS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("Malformed JSON, a schema violation or a bad parameter: one entry per bad field, with what it accepts", {
        "type": "/problems/invalid-input", "title": "Invalid request", "status": 400,
        "detail": "The request does not match the input schema.", "instance": "/v1/scores/sins",
        "errors": [{"field": "lesion", "message": "Invalid enum value 'osteolytic'",
                    "allowed": ["lytic", "mixed", "blastic"]}]}),
    401: ("No API key, or one that is unknown, revoked or expired", {
        "type": "/problems/authentication-required", "title": "Authentication required", "status": 401,
        "detail": "An API key is required: Authorization: Bearer <key>.", "instance": "/v1/scores/sins"}),
    403: ("The key lacks the role this operation needs", {
        "type": "/problems/forbidden", "title": "Forbidden", "status": 403,
        "detail": "This endpoint needs the 'auditor' role; the key has scoring.", "instance": "/v1/audit"}),
    404: ("No such resource for this client (another client's is not found either)", {
        "type": "/problems/not-found", "title": "Not found", "status": 404,
        "detail": "No bulk job 0b7e5c1e-6a7d-4a8e-9a53-0f4d2c1b9e11.",
        "instance": "/v1/bulk-jobs/0b7e5c1e-6a7d-4a8e-9a53-0f4d2c1b9e11"}),
    409: ("The resource is not in a state that allows this (yet)", {
        "type": "/problems/conflict", "title": "Conflict", "status": 409,
        "detail": "Job 0b7e5c1e-6a7d-4a8e-9a53-0f4d2c1b9e11 is running; its summary can be made once it has finished.",
        "instance": "/v1/bulk-jobs/0b7e5c1e-6a7d-4a8e-9a53-0f4d2c1b9e11/report"}),
    410: ("A link that was valid has expired: ask the EHR for a new card", {
        "type": "/problems/gone", "title": "Gone", "status": 410,
        "detail": "This report link has expired; open the patient's chart again for a new one.",
        "instance": "/v1/report-links"}),
    413: ("The body (or one bulk line) is larger than the configured limit", {
        "type": "/problems/request-body-too-large", "title": "Request body too large", "status": 413,
        "detail": "the body exceeds 1048576 bytes", "instance": "/v1/evaluations"}),
    415: ("The body's media type is not one this operation reads", {
        "type": "/problems/unsupported-media-type", "title": "Unsupported media type", "status": 415,
        "detail": "Send application/x-ndjson or application/json (an array), not text/plain.",
        "instance": "/v1/bulk-jobs"}),
    422: ("Values valid one by one that contradict each other", {
        "type": "/problems/contradictory-input", "title": "Contradictory input", "status": 422,
        "detail": "The values are each valid but contradict each other.", "instance": "/v1/scores/sins",
        "errors": [{"field": "level", "message": "level L2 is not in the junctional location (C7-T2, T11-L1)",
                    "allowed": ["C7", "T1", "T2", "T11", "T12", "L1"]}]}),
    429: ("Polled faster than the documented interval: wait Retry-After seconds", {
        "type": "/problems/too-many-requests", "title": "Too many requests", "status": 429,
        "detail": "Poll this job at most every 1 s (Retry-After says when to come back); it is running, 40.0% done.",
        "instance": "/v1/bulk-jobs/0b7e5c1e-6a7d-4a8e-9a53-0f4d2c1b9e11"}),
    503: ("The audit trail, the database or the task queue cannot serve: nothing was given or kept; retry later", {
        "type": "/problems/audit-unavailable", "title": "Service unavailable", "status": 503,
        "detail": "The audit trail cannot be written; no recommendation is given. Retry later.",
        "instance": "/v1/scores/sins"}),
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem answers an operation can send, each with its meaning and a real example."""
    return {status: ResponseSpec(data_container=Problem, description=_PROBLEMS[status][0], media_type=PROBLEM_JSON,
                                 generate_examples=False,  # the real example below, not random strings
                                 examples=[Example(summary=_PROBLEMS[status][1]["title"],
                                                   value=_PROBLEMS[status][1])])
            for status in statuses}


AUTHENTICATED = (401, 403)


def _title(key: str) -> str:
    """scores_sins_Inputs -> ScoresSinsInputs: the component's own name, unique, as generators want a title."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-\s\[\],]+", key) if part)


def _types(branches: list[dict]) -> set[str]:
    return {b.get("type") for b in branches if isinstance(b.get("type"), str)}


def _any_of(node: Any) -> None:
    """oneOf -> anyOf where one value can match two branches (30.0 is an integer and a number)."""
    if isinstance(node, dict):
        branches = node.get("oneOf")
        if isinstance(branches, list) and {"integer", "number"} <= _types(branches):
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _any_of(value)
    elif isinstance(node, list):
        for value in node:
            _any_of(value)


def _content(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    return {"schema": schema, **({"example": example} if example is not None else {})}


def polish(doc: dict[str, Any], extra_responses: dict[str, dict[str, dict[str, Any]]],
           examples: dict[str, Any]) -> dict[str, Any]:
    """The generated document, corrected. `extra_responses`: operationId -> status -> {media type: content} that
    Litestar cannot declare; `examples`: operationId -> a real 200 answer."""
    for key, schema in doc.get("components", {}).get("schemas", {}).items():
        schema["title"] = _title(key)
    _any_of(doc)
    for item in doc.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            tags = operation.get("tags", [])
            if "health" in tags or "fhir" in tags or operation.get("operationId") in PUBLIC_OPERATIONS:
                operation["security"] = []  # probes and terminology readers call these without a key
            if "cds-hooks" in tags:
                operation["security"] = [{"cdsJwt": []}]  # the EHR's signed JWT, never an API key
                for parameter in operation.get("parameters", []):
                    if parameter.get("name") == "service_id":
                        parameter["schema"] = {"type": "string", "enum": list(SERVICE_HOOKS)}
            if {"scores", "pathways", "evaluations"} & set(tags) and "200" in operation.get("responses", {}):
                operation["responses"]["200"].setdefault("content", {})[FHIR_JSON] = _content(
                    {"type": "object", "description": "With Accept: application/fhir+json: a FHIR R4 Bundle "
                     "(collection) of the score Observations, prognostic RiskAssessments and GuidanceResponses, "
                     "coded with GET /fhir/CodeSystem/bonemets; `identifier` names the audit record"})
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.startswith(("4", "5")) and content and PROBLEM_JSON not in content:
                    # Litestar's own 400 for parameters: what is sent is the problem document, like every error
                    response["content"] = {PROBLEM_JSON: _content(_ref("Problem"), _PROBLEMS[400][1])}
                    response["description"] = _PROBLEMS[400][0]
            op_id = operation.get("operationId", "")
            for status, contents in extra_responses.get(op_id, {}).items():
                response = operation.setdefault("responses", {}).setdefault(status, {"description": ""})
                if isinstance(contents, str):
                    response["description"] = contents
                    continue
                response.setdefault("content", {}).update(contents)
            if op_id in examples:
                for content in operation["responses"].get("200", {}).get("content", {}).values():
                    content["example"] = examples[op_id]
            _headers(operation, tags)
    _problem_examples(doc)
    return doc


_STRING = {"type": "string"}
ACCEPT_LANGUAGE = {"name": "Accept-Language", "in": "header", "required": False, "schema": _STRING,
                   "description": "fr or en (default en): the language of texts, labels and problem details"}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                   "description": "The same key with the same body returns the same job; with another body, 422"}
# Response headers by operation and status: what a client reads besides the body.
RESPONSE_HEADERS: dict[str, dict[str, dict[str, str]]] = {
    "bulk_jobs_create": {"202": {"Location": "The job's status URL", "Content-Location": "The job's status URL"}},
    "bulk_jobs_get": {"202": {"X-Progress": "e.g. 40.0% (400 of 1000 lines)", "Retry-After": "Seconds to wait "
                              "before polling again"},
                      "200": {"Expires": "When the outputs are deleted (HTTP date)"},
                      "429": {"Retry-After": "Seconds to wait before polling again"}},
    "bulk_jobs_get_results": {"409": {"Retry-After": "Seconds to wait before polling the status again"}},
    "reports_create": {"202": {"Location": "The report's URL"}},
    "report_links_open": {"202": {"Retry-After": "Seconds to wait before asking again"}},
    "reports_get": {"202": {"Retry-After": "Seconds to wait before asking again"},
                    "200": {"ETag": "The PDF's SHA-256, quoted"}},
}
TEXT_TAGS = {"scores", "pathways", "evaluations", "catalogue", "reports", "bulk-jobs", "cds-hooks"}


def _headers(operation: dict[str, Any], tags: list[str]) -> None:
    """The request headers an operation reads and the response headers it sends, documented."""
    params = operation.setdefault("parameters", [])
    if TEXT_TAGS & set(tags) and not any(p.get("name") == "Accept-Language" for p in params):
        params.append(ACCEPT_LANGUAGE)
    if operation.get("operationId") == "bulk_jobs_create":
        params.append(IDEMPOTENCY_KEY)
    if not params:
        operation.pop("parameters")
    for status, headers in RESPONSE_HEADERS.get(operation.get("operationId", ""), {}).items():
        response = operation.get("responses", {}).get(status)
        if response is not None:
            response.setdefault("headers", {}).update(
                {name: {"description": text, "schema": _STRING} for name, text in headers.items()})
    for status, response in operation.get("responses", {}).items():
        if status.startswith(("2", "4", "5")) and TEXT_TAGS & set(tags):
            response.setdefault("headers", {}).update({
                "Content-Language": {"description": "The language of the texts (fr or en)", "schema": _STRING},
                "Vary": {"description": "Accept-Language", "schema": _STRING}})


QUOTA_EXCEEDED = {
    "type": "/problems/quota-exceeded", "title": "Too many requests", "status": 429,
    "detail": "This client has used its 600 requests per 60 s for api calls; retry in 1 s.",
    "instance": "/v1/scores/sins", "violated-policies": ["api"]}
_RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": "The budget this operation draws from, per client (draft-ietf-httpapi-ratelimit-headers): "
                        '"api";q=600;w=60 is a bucket of 600 requests refilled at 600 per 60 s',
    "RateLimit": 'What is left of it for this client: "api";r=599;t=1 is 599 requests, the next one added within '
                 "1 s",
}


def rate_limited(doc: dict[str, Any], policies: dict[str, Any]) -> None:
    """Every authenticated operation whose budget is limited (api.ratelimit.policy_for, `policies`: the names in
    force) answers 429 with Retry-After once its client's budget is spent, and states its budget on every answer past
    authentication (a 401 or 403 spends nothing and says nothing of it)."""
    from api.ratelimit import policy_for

    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or operation.get("security") == [] or \
                    policy_for(method.upper(), path) not in policies:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status not in ("401", "403"):  # every answer past authentication: its token was taken
                    response.setdefault("headers", {}).update(
                        {name: {"description": text, "schema": _STRING} for name, text in _RATE_LIMIT_HEADERS.items()})
            quota = {"summary": "Quota exceeded", "value": {**QUOTA_EXCEEDED, "instance": path}}
            response = responses.setdefault("429", {"description": "", "content": {
                PROBLEM_JSON: {"schema": _ref("Problem"), "examples": {}}}})
            described = response["description"]
            response["description"] = ("This client's budget for the operation is spent (RateLimit-Policy): wait "
                                       "Retry-After seconds" + (f"; or: {described}" if described else ""))
            response["content"][PROBLEM_JSON].setdefault("examples", {})["quota-exceeded"] = quota
            response.setdefault("headers", {}).update({
                "Retry-After": {"description": "Seconds to wait before calling again", "schema": _STRING},
                **{name: {"description": text, "schema": _STRING} for name, text in _RATE_LIMIT_HEADERS.items()}})


REQUEST_ID = {"description": "The request's id: the caller's own X-Request-ID when it is safe (1 to 128 of "
              "A-Z a-z 0-9 . _ : -), one made for it otherwise; in the service's log line and the answer's audit "
              "record", "schema": _STRING}


def request_ids(doc: dict[str, Any]) -> None:
    """Every answer of every operation carries X-Request-ID (api.observability)."""
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                for response in operation.get("responses", {}).values():
                    response.setdefault("headers", {})["X-Request-ID"] = REQUEST_ID


def _problem_examples(doc: dict[str, Any]) -> None:
    """The problem components' own examples: real ones, not Litestar's random text."""
    schemas = doc.get("components", {}).get("schemas", {})
    if "Problem" in schemas:
        schemas["Problem"]["examples"] = [_PROBLEMS[400][1]]
    if "FieldError" in schemas:
        schemas["FieldError"]["examples"] = [_PROBLEMS[400][1]["errors"][0]]


def example_answers() -> dict[str, Any]:
    """The real answer of every compute operation to its documented request example (with an audit id)."""
    from domain.kinds import KINDS

    tags = {"score.computed": "scores", "pathway.evaluated": "pathways", "evaluation.computed": "evaluations"}
    answers = {}
    for kind in KINDS.values():
        result = kind.compute(msgspec.convert(kind.example, kind.inputs), "en")
        answers[f"{tags[kind.action]}_{kind.name.replace('-', '_')}"] = {
            **msgspec.to_builtins(result), "audit_id": "5f0c6b1e-2d4a-4c8e-9b1a-7e3d2c1f0a9b"}
    return answers


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_TEXT = {"type": "string"}

# What Litestar cannot declare: more than one media type for a status, and bodies read as a stream.
EXTRA_RESPONSES: dict[str, dict[str, Any]] = {
    "audit_query": {"200": {
        "application/fhir+json": _content({"type": "object", "description": "format=fhir: a FHIR R4 Bundle "
                                           "(searchset) of AuditEvent, with a `next` link carrying the cursor"}),
        "application/x-ndjson": _content({**_TEXT, "description": "format=ndjson: one audit record per line, then "
                                          "its signed manifest as the last line: {\"manifest\": {...}}"}),
        "text/csv": _content({**_TEXT, "description": "format=csv: a header line, then one audit record per line; "
                              "the signed manifest is at the Link header's URL"}),
    }},
    "reports_get": {
        "200": {"application/pdf": _content({"type": "string", "format": "binary"})},
        "202": {"application/json": _content(_ref("ReportStatus"))},
    },
    "bulk_jobs_create": {"202": {"application/json": _content(_ref("JobStatus"))}},
    "bulk_jobs_get_results": {"200": {"application/fhir+ndjson": _content(
        {"type": "string", "description": "format=fhir: FHIR NDJSON, a Bundle per line (an OperationOutcome for a "
         "line in error), id line-<n>"})}},
    "cds_hooks_call": {"412": {"application/fhir+json": _content(
        {"type": "object", "description": "A FHIR OperationOutcome naming each prefetch key the service needs and "
         "could not read (CDS Hooks 2.0.1: 412 Precondition Failed)"})}},
    "bulk_jobs_get": {"202": {"application/json": _content(_ref("JobStatus"))}},
    "report_links_open": {
        "200": {"application/pdf": _content({"type": "string", "format": "binary"})},
        "202": {"text/html": _content({**_TEXT, "description": "A page that reloads itself every second while the "
                                       "report renders (the link is opened by a browser)"})},
    },
}
PUBLIC_OPERATIONS = {"report_links_open"}  # the signed link is the permission: no key, no token

EXTRA_REQUEST_BODIES: dict[str, dict[str, Any]] = {
    "bulk_jobs_create": {"required": True, "description": "The cases, each as its compute endpoint's body plus "
                         "`kind` (a score, a pathway or `evaluation`) and an optional `line_id`; streamed, up to "
                         "BONEMETS_BULK_MAX_BYTES.", "content": {
                             "application/x-ndjson": {"schema": {**_TEXT, "description": "one case per line"},
                                                      "example": '{"kind": "sins", "line_id": "A-1", "location": '
                                                      '"junctional", "pain": "mechanical", "lesion": "lytic", '
                                                      '"alignment": "normal", "collapse": "none", '
                                                      '"posterolateral": "none"}\n'},
                             "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
}


CDS_PREFIX = "CDSHooks"
def _empty() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": 0}


CDS_CALL_EXAMPLE = {
    "hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "fhirServer": "https://ehr.example-hospital.fr/fhir",
    "context": {"userId": "Practitioner/dr-martin", "patientId": "1288992"},
    "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992", "gender": "male", "birthDate": "1955-01-15"},
                 **{key: _empty() for key in ("creatinine", "weight", "performance", "conditions", "medications",
                                              "procedures")}}}


def _cds_name(name: str) -> str:
    return name if name.startswith(CDS_PREFIX) else f"{CDS_PREFIX}{name}"


def _prefix_refs(schema: Any) -> None:
    """The CDS Hooks components' references, renamed with them (CDSHooks...: no clash with the REST components)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("$ref"), str):
            schema["$ref"] = "#/components/schemas/" + _cds_name(schema["$ref"].rsplit("/", 1)[1])
        for value in schema.values():
            _prefix_refs(value)
    elif isinstance(schema, list):
        for value in schema:
            _prefix_refs(value)


def _cds_request_bodies(doc: dict[str, Any]) -> dict[str, Any]:
    """The CDS Hooks request and feedback bodies (the handlers read them raw, so Litestar does not see them), from
    the same msgspec Structs that decode them (infra.cds_models), their components prefixed CDSHooks."""
    from infra.cds_models import FeedbackRequest
    from infra.cds_models import Request as HookRequest

    (call, feedback), components = msgspec.json.schema_components(
        [HookRequest, FeedbackRequest], ref_template="#/components/schemas/{name}")
    for schema in (call, feedback, *components.values()):
        _prefix_refs(schema)
    doc.setdefault("components", {}).setdefault("schemas", {}).update(
        {_cds_name(name): {**schema, "title": f"CDS Hooks {name.removeprefix(CDS_PREFIX)}"}
         for name, schema in components.items()})
    return {
        "cds_hooks_call": {"required": True, "description": "A CDS Hooks 2.0.1 request (CDSHooksRequest): the hook, "
                           "its hookInstance (the idempotency key), context, and the prefetch the discovery "
                           "document asks for", "content": {"application/json": {"schema": call,
                                                                                 "example": CDS_CALL_EXAMPLE}}},
        "cds_hooks_feedback": {"required": True, "description": "CDS Hooks 2.0.1 feedback (CDSHooksFeedback): what "
                               "the clinician did with each card", "content": {"application/json": {
                                   "schema": feedback, "example": {"feedback": [{
                                       "card": "9368d37b-283f-44a0-93ea-547cebab93ed", "outcome": "accepted",
                                       "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                                       "outcomeTimestamp": "2026-11-27T14:12:00Z"}]}}}},
    }


def polish_request_bodies(doc: dict[str, Any]) -> None:
    bodies = {**EXTRA_REQUEST_BODIES, **_cds_request_bodies(doc)}
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") in bodies:
                operation["requestBody"] = bodies[operation["operationId"]]


def keep_zero_bounds() -> None:
    """Litestar (2.x) drops a bound of 0 from the schema (`ge=0` is falsy where it copies the field's metadata), so
    the document accepted -5 where the server refuses it. Copy the numeric bounds it skipped, once, at import of
    the app: the wrapped method is Litestar's own, and only zero bounds are added."""
    from litestar._openapi.schema_generation import schema as generation

    creator = generation.SchemaCreator
    if getattr(creator, "_bonemets_zero_bounds", False):
        return
    original = creator._apply_kwarg_definition_metadata

    def apply(self: Any, field: Any, schema: Any) -> None:
        original(self, field, schema)
        for key, schema_key in (("ge", "minimum"), ("gt", "exclusive_minimum"), ("le", "maximum"),
                                ("lt", "exclusive_maximum"), ("min_length", "min_length"),
                                ("min_items", "min_items")):
            value = getattr(field.kwarg_definition, key, None) if field.kwarg_definition else None
            if value == 0 and not isinstance(value, bool) and getattr(schema, schema_key, None) is None:
                setattr(schema, schema_key, value)

    creator._apply_kwarg_definition_metadata = apply  # type: ignore[method-assign]
    creator._bonemets_zero_bounds = True  # type: ignore[attr-defined]
