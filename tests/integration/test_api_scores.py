"""The score endpoints through HTTP, on SQLite and on the real PostgreSQL (api-contract.md)."""

import json
import re

import msgspec
import pytest
from sqlalchemy import select

from infra.tables import AuditRecord
from tests.cases import EXPECTED, VALID
from tests.conftest import Keys

SCORES = sorted(VALID)
REQUIRED = ("score", "total", "band", "items", "recommendation", "warnings", "guideline_version",
            "engine_version", "audit_id")


def stored(engine, audit_id):
    with engine.connect() as conn:
        return conn.execute(select(AuditRecord).where(AuditRecord.id == audit_id)).one()._mapping


@pytest.mark.parametrize("score", SCORES)
def test_a_valid_request_gets_200_with_the_full_shape_and_a_committed_audit_record(client, keys, engine, score):
    r = client.post(f"/v1/scores/{score}", json=VALID[score], headers=Keys.header(keys.scoring))
    assert r.status_code == 200, r.text
    body = r.json()
    assert all(k in body for k in REQUIRED)
    assert (body["total"], body["band"], body["recommendation"]["rule_id"]) == EXPECTED[score]
    assert body["recommendation"]["action"] and body["recommendation"]["citations"]
    assert body["total"] == sum(i["points"] for i in body["items"])
    record = stored(engine, body["audit_id"])
    output = dict(body)
    del output["audit_id"]
    assert json.loads(record["output_json"]) == output
    given = {k: v for k, v in json.loads(record["input_json"]).items() if v is not None}
    assert given == VALID[score]
    assert record["client"] == "hospital-a" and record["action"] == "score.computed"
    assert record["endpoint"] == f"POST /v1/scores/{score}"
    assert record["rule_ids"] == EXPECTED[score][2]
    assert record["request_id"] == r.headers["x-request-id"]


def test_unknown_value_gets_400_naming_the_field_and_the_allowed_values(client, keys):
    r = client.post("/v1/scores/sins", json={**VALID["sins"], "lesion": "osteolytic"},
                    headers=Keys.header(keys.scoring))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["type"], body["status"]) == ("/problems/invalid-input", 400)
    assert body["errors"] == [{"field": "lesion", "message": "Invalid enum value 'osteolytic'",
                               "allowed": ["lytic", "mixed", "blastic"]}]


def test_every_bad_field_is_reported_at_once(client, keys):
    r = client.post("/v1/scores/tokuhashi", json={"karnofsky": 75, "primary": "lungs", "frankel": "F"},
                    headers=Keys.header(keys.scoring))
    assert r.status_code == 400
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"karnofsky", "primary", "frankel", "extraspinal_bone_metastases",
                      "vertebral_body_metastases", "visceral_metastases"}


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"sins"', b""])
def test_malformed_json_gets_400_problem_details(client, keys, body):
    r = client.post("/v1/scores/sins", content=body,
                    headers={**Keys.header(keys.scoring), "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["errors"]


def test_both_size_and_fraction_get_400(client, keys):
    r = client.post("/v1/scores/mirels", json={**VALID["mirels"], "cortical_destruction_fraction": 0.5},
                    headers=Keys.header(keys.scoring))
    assert r.status_code == 400
    assert r.json()["errors"][0]["allowed"] == ["size", "cortical_destruction_fraction"]


def test_level_contradicting_location_gets_422(client, keys, engine):
    r = client.post("/v1/scores/sins", json={**VALID["sins"], "level": "L3"}, headers=Keys.header(keys.scoring))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "location", "message": "level L3 is mobile, not junctional",
                                   "allowed": ["mobile"]}]


def test_a_body_over_the_limit_gets_413(client, keys):
    r = client.post("/v1/scores/sins", content=b" " * (65 * 1024) + msgspec.json.encode(VALID["sins"]),
                    headers={**Keys.header(keys.scoring), "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["status"] == 413
    assert r.json()["detail"] == "the body exceeds 65536 bytes"  # the limit (BONEMETS_MAX_BODY_BYTES), not the title
    fr = client.post("/v1/scores/sins", content=b" " * (65 * 1024) + msgspec.json.encode(VALID["sins"]),
                     headers={**Keys.header(keys.scoring), "content-type": "application/json", "accept-language": "fr"})
    assert fr.status_code == 413 and fr.json()["detail"] == "le corps dépasse 65536 octets"


def test_a_number_no_float_holds_is_a_400_at_its_field_not_at_the_body(client, keys):
    """`1e400` stops the JSON decode before any field is read; the answer still names the field and its range."""
    kept = client.app.direct
    try:
        for direct in (kept, None):  # the direct path declines it to the full application: the same answer
            client.app.direct = direct
            r = client.post("/v1/evaluations", content=b'{"evaluation_date": "2025-06-01", "patient": {"age": 1e400}}',
                            headers={**Keys.header(keys.scoring), "content-type": "application/json"})
            assert r.status_code == 400, r.text
            assert r.json()["errors"] == [{"field": "patient.age", "allowed": None,
                                           "message": "Number out of range (allowed: an integer >= 18 and <= 120)"}]
    finally:
        client.app.direct = kept


def test_no_key_gets_401_and_an_unknown_key_too(client):
    assert client.post("/v1/scores/sins", json=VALID["sins"]).status_code == 401
    r = client.post("/v1/scores/sins", json=VALID["sins"], headers=Keys.header("bm_nope_nope"))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


def test_a_key_without_the_scoring_role_gets_403(client, keys):
    for key in (keys.registry, keys.auditor):
        assert client.post("/v1/scores/sins", json=VALID["sins"], headers=Keys.header(key)).status_code == 403
    assert client.get("/v1/audit/verify", headers=Keys.header(keys.scoring)).status_code == 403


def test_unknown_route_gets_404_problem(client, keys):
    r = client.post("/v1/scores/frankel-bis", json={}, headers=Keys.header(keys.scoring))
    assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"


def test_french_texts_on_accept_language_fr_with_the_same_codes(client, keys):
    en = client.post("/v1/scores/sins", json=VALID["sins"], headers=Keys.header(keys.scoring)).json()
    fr = client.post("/v1/scores/sins", json=VALID["sins"],
                     headers={**Keys.header(keys.scoring), "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}).json()
    assert fr["recommendation"]["text"].startswith("Rachis potentiellement instable")
    assert en["recommendation"]["text"].startswith("Potentially unstable")
    assert (fr["band"], fr["recommendation"]["rule_id"], fr["recommendation"]["action"]) == (
        en["band"], en["recommendation"]["rule_id"], en["recommendation"]["action"])


def test_boundary_warning_travels_to_the_response(client, keys):
    body = {**VALID["rades"], "interval_months": 15}
    r = client.post("/v1/scores/rades", json=body, headers=Keys.header(keys.scoring)).json()
    assert [w["code"] for w in r["warnings"]] == ["boundary_rades_interval_15_months"]


def test_request_id_is_taken_from_the_header_or_made(client, keys):
    r = client.post("/v1/scores/sins", json=VALID["sins"],
                    headers={**Keys.header(keys.scoring), "X-Request-ID": "hosp-42.abc"})
    assert r.headers["x-request-id"] == "hosp-42.abc"
    r = client.post("/v1/scores/sins", json=VALID["sins"],
                    headers={**Keys.header(keys.scoring), "X-Request-ID": "bad id with spaces"})
    assert len(r.headers["x-request-id"]) == 32


def test_patient_ref_is_stored_only_as_a_keyed_hash_and_never_logged(client, keys, engine, log_stream):
    ref = "IPP-0042-DUPONT"
    r = client.post("/v1/scores/sins", json={**VALID["sins"], "patient_ref": ref}, headers=Keys.header(keys.scoring))
    assert r.status_code == 200 and ref not in r.text
    record = stored(engine, r.json()["audit_id"])
    assert record["patient_hash"] and len(record["patient_hash"]) == 64
    assert all(ref not in str(value) for value in record.values())
    logs = log_stream.getvalue()
    assert "http.request" in logs and r.json()["audit_id"] in logs
    assert ref not in logs


def test_one_canonical_log_line_per_request_with_the_score_fields(client, keys, log_stream):
    client.post("/v1/scores/tomita", json=VALID["tomita"], headers={**Keys.header(keys.scoring),
                                                                     "X-Request-ID": "line-check"})
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if "line-check" in line]
    assert len(lines) == 1
    assert {k: lines[0][k] for k in ("event", "status", "score", "total", "band", "client")} == {
        "event": "http.request", "status": 200, "score": "tomita", "total": 6, "band": "palliative_surgery",
        "client": "hospital-a"}


def test_catalogue_lists_every_score_with_inputs_bands_and_rule_ids(client, keys):
    r = client.get("/v1/catalogue", headers=Keys.header(keys.scoring))
    assert r.status_code == 200
    scores = {s["score"]: s for s in r.json()["scores"]}
    assert set(scores) == set(SCORES)
    assert [b["code"] for b in scores["sins"]["bands"]] == ["stable", "potentially_unstable", "unstable"]
    junctional = scores["sins"]["items"]["location"][0]
    assert (junctional["value"], junctional["points"], junctional["labels"]["fr"][:13]) == ("junctional", 3,
                                                                                          "Jonctionnelle")
    assert scores["mirels"]["bands"][1]["rule_id"] == "LB-3"


def test_openapi_31_and_a_self_hosted_ui(client):
    doc = client.get("/schema/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/v1/scores/sins" in doc["paths"]
    page = client.get("/schema/swagger").text
    assets = re.findall(r"(?:src|href)=[\"']([^\"']+)", page)
    assert assets and all(a.startswith("/static/") for a in assets), assets  # nothing from another host
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_health_needs_no_key(client):
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/health/ready").status_code == 200


@pytest.mark.parametrize(("field", "value", "message"), [
    ("interval_months", "8", "Expected `float`, got `str`"),
    ("visceral_metastases", "false", "Expected `bool`, got `str`"),
    ("visceral_metastases", 0, "Expected `bool`, got `int`"),
])
def test_a_number_or_boolean_sent_as_a_string_is_a_400_as_in_a_bulk_line(client, keys, engine, field, value,
                                                                         message):
    """The OpenAPI document says number and boolean, a bulk line refuses a string: the synchronous endpoint does
    too (Litestar's own decoding converted it), for a key's first call as for the next (api.direct)."""
    from domain.bulk import evaluate_line

    for _ in range(2):  # the key's first call (loaded), then cached
        r = client.post("/v1/scores/rades", json={**VALID["rades"], field: value}, headers=Keys.header(keys.scoring))
        assert r.status_code == 400, r.text
        [error] = r.json()["errors"]
        assert error["field"] == field and error["message"].startswith(message)
    bulk = evaluate_line(msgspec.json.encode({"kind": "rades", **VALID["rades"], field: value}).decode(), "en")
    assert [(p.field, p.message) for p in bulk.problems] == [(error["field"], error["message"])]


@pytest.mark.parametrize(("body", "message"), [
    (b"", "the body is empty: a JSON object is expected"),
    (b"null", "expected a JSON object"),
])
def test_an_empty_or_null_body_is_named_as_the_body_not_as_an_internal_parameter(client, keys, body, message):
    for language, expected in (("en", message), ("fr", None)):
        r = client.post("/v1/scores/sins", content=body, headers={**Keys.header(keys.scoring), "content-type":
                                                                 "application/json", "Accept-Language": language})
        assert r.status_code == 400
        [error] = r.json()["errors"]
        assert error["field"] == "$"
        assert error["message"] == expected if expected else error["message"] not in (message, "'data'")
