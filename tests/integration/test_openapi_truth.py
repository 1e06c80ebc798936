"""The served OpenAPI document states every bound the server enforces (issue 12): each numeric field of every
compute request has the same minimum, maximum and exclusive bounds in the document as in the domain's Struct, a
bound of 0 included (Litestar drops it unless api.openapi.keep_zero_bounds runs)."""

import msgspec

from domain.kinds import KINDS

BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _bounds(schema: dict) -> dict:
    return {k: schema[k] for k in BOUNDS if k in schema}


def test_every_numeric_bound_of_every_compute_request_is_in_the_document(client):
    document = client.get("/schema/openapi.json").json()
    components = document["components"]["schemas"]
    checked = 0
    for kind in KINDS.values():
        (top,), defs = msgspec.json.schema_components([kind.inputs])
        own = defs[top["$ref"].rsplit("/", 1)[1]]
        body = document["paths"][kind.path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        served = components[body["allOf"][0]["$ref"].rsplit("/", 1)[1]]
        for name, prop in own["properties"].items():
            branches = prop.get("anyOf", [prop])
            expected = next((_bounds(b) for b in branches if _bounds(b)), {})
            if not expected:
                continue
            assert _bounds(served["properties"][name]) == expected, (kind.name, name)
            checked += 1
    assert checked > 20


def test_the_problem_schemas_show_real_examples_only_never_generated_strings(client):
    """Litestar generated a random example for every property of a response's schema ('DwEkQQHiBrmXZcSFtoJx',
    status 2562), which client generators and Swagger show to integrators; the problem documents carry their real
    examples instead (a user trying the service found them)."""
    schemas = client.get("/schema/openapi.json").json()["components"]["schemas"]
    for name in ("Problem", "FieldError"):
        assert all("examples" not in prop for prop in schemas[name]["properties"].values()), name
        assert schemas[name]["examples"]  # the real ones
    assert schemas["FieldError"]["examples"][0]["allowed"] == ["lytic", "mixed", "blastic"]


def test_the_document_declares_the_header_fields_every_answer_carries(client, keys):
    """X-Request-ID on every answer, the RateLimit fields on every answer past authentication (a 400 or 422 too,
    not a 401 or 403): as the server sends them."""
    from tests.cases import VALID
    from tests.conftest import Keys

    operation = client.get("/schema/openapi.json").json()["paths"]["/v1/scores/sins"]["post"]
    for status, response in operation["responses"].items():
        headers = response.get("headers", {})
        assert "X-Request-ID" in headers, status
        assert ("RateLimit" in headers) is (status not in ("401", "403")), status
    for body, status in (({**VALID["sins"], "pain": "sharp"}, "400"), ({**VALID["sins"], "level": "L3"}, "422")):
        sent = client.post("/v1/scores/sins", json=body, headers=Keys.header(keys.scoring))
        assert str(sent.status_code) == status
        assert {"x-request-id", "ratelimit", "ratelimit-policy"} <= set(sent.headers)
    refused = client.post("/v1/scores/sins", json=VALID["sins"])
    assert refused.status_code == 401 and "ratelimit" not in refused.headers and "x-request-id" in refused.headers
