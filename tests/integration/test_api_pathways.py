"""Pathway and whole-case endpoints through HTTP, each response audited with every rule id it fired."""

import json

import pytest
from sqlalchemy import select

from infra.tables import AuditRecord
from tests.conftest import Keys
from tests.unit.pathway_cases import CASES

FIRST_CASE_OF = {}
for (_rule_id, _action), (pathway, fires, _near) in CASES.items():
    FIRST_CASE_OF.setdefault(pathway, fires)

STORY = {
    "evaluation_date": "2025-06-01",
    "patient": {"age": 58, "sex": "female", "weight_kg": 62, "creatinine": {"value": 70, "unit": "umol_l"},
                "karnofsky": 80, "life_expectancy_months": 24},
    "disease": {"bone_metastases": 2, "metastatic_sites": 1, "visceral_metastases": False},
    "lesions": [{"id": "femur-R", "kind": "long_bone", "long_bone": {
        "pathological_fracture": False,
        "mirels": {"site": "peritrochanteric", "pain": "functional", "lesion": "lytic", "size": "one_to_two_thirds"}}}],
    "patient_ref": "IPP-777",
}


def record(engine, audit_id):
    with engine.connect() as conn:
        return conn.execute(select(AuditRecord).where(AuditRecord.id == audit_id)).one()._mapping


@pytest.mark.parametrize("pathway", sorted(FIRST_CASE_OF))
def test_each_pathway_endpoint_answers_and_audits_every_rule_it_fired(client, keys, engine, pathway):
    r = client.post(f"/v1/pathways/{pathway}", json=FIRST_CASE_OF[pathway], headers=Keys.header(keys.scoring))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pathway"] == pathway and body["recommendations"]
    for rec in body["recommendations"]:
        assert {"rule_id", "action", "text", "citations", "rcp_required", "triggered_by"} <= set(rec)
    stored = record(engine, body["audit_id"])
    fired = list(dict.fromkeys(rec["rule_id"] for rec in body["recommendations"]))
    assert stored["rule_ids"] == ",".join(fired) and stored["action"] == "pathway.evaluated"
    assert json.loads(stored["output_json"]) == {k: v for k, v in body.items() if k != "audit_id"}


def test_whole_case_evaluation_is_audited_once_with_all_rule_ids(client, keys, engine):
    r = client.post("/v1/evaluations", json=STORY, headers={**Keys.header(keys.scoring), "Accept-Language": "fr"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["recommendations"][0]["rule_id"] == "LB-4" and body["recommendations"][0]["lesion"] == "femur-R"
    assert body["recommendations"][0]["text"].startswith("Risque fracturaire élevé")
    stored = record(engine, body["audit_id"])
    assert stored["rule_ids"].split(",") == body["rule_ids"] and stored["action"] == "evaluation.computed"
    assert "IPP-777" not in stored["input_json"] and stored["patient_hash"]


def test_nested_bad_fields_are_named_by_their_path(client, keys):
    bad = {**STORY, "lesions": [{"id": "x", "kind": "spine", "spine": {"sins": {"level": "T13"}}}]}
    r = client.post("/v1/evaluations", json=bad, headers=Keys.header(keys.scoring))
    assert r.status_code == 400
    fields = {e["field"] for e in r.json()["errors"]}
    assert "lesions[0].spine.sins.level" in fields and "lesions[0].spine.sins.pain" in fields


def test_frankel_against_the_motor_status_is_a_422(client, keys):
    case = {"evaluation_date": "2025-01-01", "frankel": "D", "cord_compression": {
        "rades": {"primary": "nsclc", "interval_months": 4, "visceral_metastases": True,
                  "motor_function": "paraplegic", "deficit_onset_days": 3}}}
    r = client.post("/v1/evaluations", json=case, headers=Keys.header(keys.scoring))
    assert r.status_code == 422  # SAFE-10: both fields named
    (error,) = r.json()["errors"]
    assert error["field"] == "cord_compression.rades.motor_function" and "frankel" in error["message"]
    assert error["allowed"] == ["ambulatory_with_aid", "ambulatory_without_aid"]


def test_a_missing_evaluation_date_is_a_400(client, keys):
    r = client.post("/v1/evaluations", json={"lesions": []}, headers=Keys.header(keys.scoring))
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "evaluation_date"


def test_pathways_need_the_scoring_role(client, keys):
    assert client.post("/v1/pathways/spine", json={}, headers=Keys.header(keys.registry)).status_code == 403
    assert client.post("/v1/evaluations", json=STORY).status_code == 401


def test_catalogue_lists_every_pathway_with_rule_ids_and_inputs(client, keys):
    catalogue = client.get("/v1/catalogue", headers=Keys.header(keys.scoring)).json()
    pathways = {p["pathway"]: p for p in catalogue["pathways"]}
    assert set(pathways) == set(FIRST_CASE_OF)
    assert pathways["antiresorptive"]["rule_ids"] == ["AR-1", "AR-2", "AR-3", "AR-4", "AR-5", "AR-6", "AR-7"]
    assert catalogue["evaluation"]["endpoint"] == "/v1/evaluations"


def test_openapi_documents_pathway_inputs_with_descriptions(client):
    doc = client.get("/schema/openapi.json").json()
    assert {f"/v1/pathways/{p}" for p in FIRST_CASE_OF} <= set(doc["paths"]) and "/v1/evaluations" in doc["paths"]
    text = json.dumps(doc)
    assert "Retropulsion of the posterior wall" in text and "Cockcroft" in text


def test_every_documented_example_is_a_valid_request_that_recommends(client, keys):
    doc = client.get("/schema/openapi.json").json()
    posts = {path: item["post"] for path, item in doc["paths"].items()
             if "post" in item and path.startswith(("/v1/scores/", "/v1/pathways/", "/v1/evaluations"))}
    assert len(posts) == 16
    for path, operation in posts.items():
        example = operation["requestBody"]["content"]["application/json"]["schema"]["examples"][0]
        r = client.post(path, json=example, headers=Keys.header(keys.scoring))
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        assert body.get("recommendation") or body.get("recommendations"), path
