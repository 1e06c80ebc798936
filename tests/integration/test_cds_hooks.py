"""CDS Hooks 2.0.1 as an EHR calls it (issue 13): discovery, then `patient-view` and `order-select` calls built
from FHIR R4 resources, signed with the EHR's key (a test JWK Set), each answer audited; the clinician's feedback.
Three clinical stories, card by card."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import replace

import jwt
import msgspec
import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import text

from domain.texts import labels
from infra import cds_models
from infra.cds_auth import Issuer
from infra.db import make_engine
from tests import fhir_fixtures as f
from tests.cds_fixtures import BASE, EHR, Ehr
from tests.conftest import Keys

SHARED_SECRET = "a-shared-secret-of-48-bytes-for-hs384-signing!!!"  # a symmetric key: CDS Hooks forbids it


def call(client, ehr, service, body, **kw):
    path = f"/cds-services/{service}"
    return client.post(path, json=body, headers={**ehr.headers(path), **kw.pop("headers", {})}, **kw)


def hook_request(hook: str, prefetch: dict, **context) -> dict:
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "fhirServer": "https://ehr.example-hospital.fr/fhir",
            "context": {"userId": "Practitioner/dr-martin", "patientId": f.PATIENT_ID, **context},
            "prefetch": prefetch}


def cards_of(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return msgspec.to_builtins(msgspec.convert(response.json(), cds_models.Response))["cards"]


def audit_rows(client, action):
    engine = make_engine(client.app.state.settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, patient_hash, input_json, output_json, client FROM audit_record "
                                 "WHERE action = :a ORDER BY seq"), {"a": action}).mappings().all()
    engine.dispose()
    return rows


# A man of 71 with a bone metastasis of a lung cancer, weight 60 kg, creatinine 2.5 mg/dL three days ago:
# Cockcroft-Gault (140 - 71) x 60 / (72 x 2.5) = 23.0 mL/min (clinical-rules.md AR-2).
RENAL = dict(observations=(f.creatinine(2.5), f.weight(60), f.karnofsky(70)),
             conditions=(f.condition(*f.BONE_METASTASIS), f.condition(*f.LUNG_CANCER)))
BORN = (dt.date.today() - dt.timedelta(days=71 * 365 + 30)).isoformat()


def test_discovery_lists_both_services_with_their_prefetch_templates(cds_client, ehr):
    answer = cds_client.get("/cds-services", headers=ehr.headers("/cds-services"))
    services = msgspec.convert(answer.json(), cds_models.Services).services
    assert answer.status_code == 200 and {s.hook for s in services} == {"patient-view", "order-select"}
    for service in services:
        assert service.prefetch["creatinine"].startswith("Observation?patient={{context.patientId}}")
        assert "http://loinc.org|89243-0" in service.prefetch["performance"]


@pytest.mark.parametrize("wrong", ["none", "api_key", "audience", "expired", "issuer", "kid", "algorithm", "typ",
                                   "signature", "long_lived"])
def test_a_call_without_a_valid_ehr_token_is_401_and_says_nothing_of_why(cds_client, ehr, wrong, log_stream):
    path = "/cds-services/bonemets-patient-view"
    body = hook_request("patient-view", f.prefetch(**RENAL))
    token = {
        "audience": lambda: ehr.token(path, aud=f"{BASE}/cds-services/bonemets-order-select"),
        "expired": lambda: ehr.token(path, exp=int(time.time()) - 120),
        "issuer": lambda: ehr.token(path, iss="https://intruder.example/"),
        "kid": lambda: ehr.token(path, kid="unknown-kid"),
        "algorithm": lambda: jwt.encode({"iss": EHR, "aud": f"{BASE}{path}", "exp": int(time.time()) + 60,
                                         "iat": int(time.time()), "jti": "x"}, SHARED_SECRET,
                                        algorithm="HS384", headers={"kid": ehr.kid, "typ": "JWT"}),
        "typ": lambda: jwt.encode({"iss": EHR, "aud": f"{BASE}{path}", "exp": int(time.time()) + 60,
                                   "iat": int(time.time()), "jti": "y"}, ehr.key, algorithm="ES384",
                                  headers={"kid": ehr.kid, "typ": "at+jwt"}),
        "signature": lambda: ehr.token(path)[:-8] + "AAAAAAAA",
        "long_lived": lambda: ehr.token(path, exp=int(time.time()) + 86400),
        "api_key": lambda: cds_client.keys.everything,
    }.get(wrong)
    headers = {} if token is None else {"Authorization": f"Bearer {token()}"}
    answer = cds_client.post(path, json=body, headers=headers)
    assert answer.status_code == 401 and answer.json()["detail"] == "The CDS client's token is not accepted."
    assert "token" not in log_stream.getvalue().lower().replace("cds.token_refused", "")
    assert audit_rows(cds_client, "cds.answered") == []


def test_a_replayed_token_is_refused(cds_client, ehr):
    path = "/cds-services/bonemets-patient-view"
    headers = ehr.headers(path)
    first = cds_client.post(path, json=hook_request("patient-view", f.prefetch(**RENAL)), headers=headers)
    again = cds_client.post(path, json=hook_request("patient-view", f.prefetch(**RENAL)), headers=headers)
    assert (first.status_code, again.status_code) == (200, 401)


def test_a_missing_prefetch_the_service_cannot_read_is_412_with_an_operation_outcome(cds_client, ehr):
    body = hook_request("patient-view", f.prefetch(**RENAL))
    del body["prefetch"]["creatinine"], body["prefetch"]["medications"]
    answer = call(cds_client, ehr, "bonemets-patient-view", body)
    assert answer.status_code == 412 and answer.headers["content-type"].startswith("application/fhir+json")
    outcome = get_fhir_model_class("OperationOutcome").model_validate(answer.json())
    assert sorted(i.expression[0] for i in outcome.issue) == ["prefetch.creatinine", "prefetch.medications"]
    # a key sent as null is "no data", not missing
    body["prefetch"].update(creatinine=None, medications=None)
    assert call(cds_client, ehr, "bonemets-patient-view", body).status_code == 200


def test_a_number_no_float_holds_in_a_prefetch_is_a_400_naming_where_not_a_500(cds_client, ehr):
    """`1e400` in an Observation: the hook's body cannot be read, and the answer says where (it was a 500)."""
    body = hook_request("patient-view", f.prefetch(observations=(f.creatinine(-12345.5), f.weight(60)),
                                                   conditions=RENAL["conditions"]))
    raw = json.dumps(body).replace("-12345.5", "1e400").encode()
    assert b"1e400" in raw
    path = "/cds-services/bonemets-patient-view"
    answer = cds_client.post(path, content=raw, headers={**ehr.headers(path), "content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    [problem] = answer.json()["errors"]
    assert problem["field"].startswith("prefetch.") and problem["field"].endswith(".valueQuantity.value"), problem
    assert problem["message"] == "Number out of range"


def test_story_1_patient_view_says_what_is_recommended_and_what_is_missing(cds_client, ehr, log_stream):
    """The renal patient in the chart: the summary card gives the guideline's answers from the EHR's data
    (clearance 23 mL/min: zoledronic acid contraindicated, denosumab) and a second card lists what only the
    clinician can give (life expectancy, lesion findings...), in French when asked."""
    body = hook_request("patient-view", f.prefetch(patient_resource=f.patient(BORN), **RENAL))
    answer = call(cds_client, ehr, "bonemets-patient-view", body, headers={"Accept-Language": "fr"})
    summary, missing = cards_of(answer)
    # a warning: the engine warns that zoledronic acid is contraindicated at this clearance
    assert summary["indicator"] == "warning" and summary["summary"].startswith("Métastases osseuses")
    # the clearance given for information (AR-2, no dose) is not counted as advice, and says so
    assert summary["summary"].endswith("(1 pour information seulement)"), summary["summary"]
    assert "AR-2" in summary["detail"] and "23" in summary["detail"]
    # the basis, traced to its resources
    assert "Créatininémie : 2,5 mg/dL (Observation/" in summary["detail"] and "Âge : 71 ans" in summary["detail"]
    assert summary["source"]["label"].startswith("OncoBFC / NEON / ONCORIF")
    assert "Espérance de vie" in missing["detail"] and missing["links"][0]["type"] == "absolute"
    # audited: the cards and the evaluation, the patient as a keyed hash only; the same hookInstance answered again
    (row,) = audit_rows(cds_client, "cds.answered")
    assert row["patient_hash"] and f.PATIENT_ID not in row["input_json"] + row["output_json"]
    assert row["client"] == f"cds:{EHR}#chu-besancon"  # the issuer and the tenant it speaks for
    spelt_otherwise = json.dumps(body, indent=2)  # a retry: the same call however its JSON is spelt
    again = cds_client.post("/cds-services/bonemets-patient-view", content=spelt_otherwise, headers={
        **ehr.headers("/cds-services/bonemets-patient-view"), "Content-Type": "application/json",
        "Accept-Language": "fr"})
    assert again.json() == answer.json() and len(audit_rows(cds_client, "cds.answered")) == 1
    assert again.headers["content-language"] == "fr"
    # the same hookInstance asked in another language is another call (its cards would be other words)
    assert call(cds_client, ehr, "bonemets-patient-view", body).status_code == 422
    assert f.PATIENT_ID not in log_stream.getvalue()
    # what the clinician adds through the call's extension (a SMART app's form): life expectancy and the count of
    # bone metastases decide the start of an inhibitor, and the kidney decides which one (AR-1..3, SYS-1)
    body = {**body, "hookInstance": str(uuid.uuid4()), "extension": {"fr.bonemets.findings": {
        "patient": {"life_expectancy_months": 12}, "disease": {"bone_metastases": 3},
        "antiresorptive": {"urgent": False, "dental_assessment_done": True}}}}
    summary, *_ = cards_of(call(cds_client, ehr, "bonemets-patient-view", body))
    for rule in ("SYS-1", "AR-1", "AR-2", "AR-3"):
        assert f"**{rule}**" in summary["detail"]
    assert "zoledronic" in summary["detail"].lower() and "denosumab" in summary["detail"].lower()
    bad = {**body, "hookInstance": str(uuid.uuid4()), "extension": {"fr.bonemets.findings": {
        "patient": {"life_expectancy_months": -1}}}}
    refused = call(cds_client, ehr, "bonemets-patient-view", bad)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "extension.fr.bonemets.findings.patient.life_expectancy_months"


def test_story_2_zoledronic_acid_ordered_at_23_ml_min_is_critical_with_denosumab_suggested(cds_client, ehr):
    order = f.medication("M05BA08", "zoledronic acid", days=0, status="draft", rid="zol-1")
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **RENAL),
                        selections=["MedicationRequest/zol-1"], draftOrders=f.bundle(order))
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    # the start not decided (no life expectancy, AR-1): contraindicated all the same, cancel it; nothing in its place
    assert card["indicator"] == "critical" and "contraindicated" in card["summary"] and "23" in card["summary"]
    (cancel,) = card["suggestions"]
    assert [(a["type"], a["resourceId"]) for a in cancel["actions"]] == [("delete", "MedicationRequest/zol-1")]
    body = {**body, "hookInstance": str(uuid.uuid4()), "extension": {"fr.bonemets.findings": {
        "patient": {"life_expectancy_months": 12}, "disease": {"bone_metastases": 3},
        "antiresorptive": {"urgent": False, "dental_assessment_done": True}}}}
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    assert card["indicator"] == "critical" and "contraindicated" in card["summary"] and "denosumab" in card["summary"]
    assert "23" in card["summary"] and card["selectionBehavior"] == "at-most-one"
    delete, create = card["suggestions"][0]["actions"]
    assert (delete["type"], delete["resourceId"]) == ("delete", "MedicationRequest/zol-1")
    created = get_fhir_model_class("MedicationRequest").model_validate(create["resource"])
    assert created.medicationCodeableConcept.coding[0].code == "M05BX04"
    # with a normal kidney (creatinine 0.9 mg/dL): the dose for the clearance, as an update of the order
    normal = dict(RENAL, observations=(f.creatinine(0.9), f.weight(60)))
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **normal),
                        selections=["MedicationRequest/zol-1"], draftOrders=f.bundle(order))
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    # the start is not decided without a life expectancy (AR-1): the clearance for information, and no dose
    assert card["indicator"] == "warning" and "suggestions" not in card and "not decided" in card["summary"]
    assert "**AR-1** — missing" in card["detail"]  # what the start waits for, said
    body = {**body, "hookInstance": str(uuid.uuid4()), "extension": {"fr.bonemets.findings": {
        "patient": {"life_expectancy_months": 12},
        "antiresorptive": {"urgent": False, "dental_assessment_done": True}}}}
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    assert card["indicator"] == "info" and "mg" in card["summary"]
    updated = card["suggestions"][0]["actions"][0]["resource"]
    get_fhir_model_class("MedicationRequest").model_validate(updated)


def test_story_3_a_pet_planned_within_15_days_of_g_csf_is_postponed(cds_client, ehr):
    """G-CSF five days ago: a PET today must wait until day 15 (IMG-2); two PETs selected are each judged on their
    own date (the second one too, planned in 5 days, inside the window); a PET scheduled as a period is moved as a
    period (one occurrence[x], its length kept)."""
    gcsf = f.medication("L03AA13", "pegfilgrastim", days=5)
    today = dt.date.today()
    pet = f.service_request("82918005", "PET scan", rid="pet-1", when=today.isoformat())
    body = hook_request("order-select", f.prefetch(medications=(gcsf,), **RENAL),
                        selections=["ServiceRequest/pet-1"], draftOrders=f.bundle(pet))
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    expected = today + dt.timedelta(days=10)
    assert card["indicator"] == "warning" and labels.date(expected, "en") in card["summary"]
    moved = card["suggestions"][0]["actions"][0]["resource"]
    assert get_fhir_model_class("ServiceRequest").model_validate(moved).occurrenceDateTime.isoformat()[:10] == \
        expected.isoformat()
    later = f.service_request("82918005", "PET scan", rid="pet-2", when=(today + dt.timedelta(days=30)).isoformat())
    period = f.valid({**f.service_request("82918005", "PET scan", rid="pet-3"), "occurrencePeriod": {
        "start": (today + dt.timedelta(days=5)).isoformat(), "end": (today + dt.timedelta(days=6)).isoformat()}})
    body = hook_request("order-select", f.prefetch(medications=(gcsf,), **RENAL),
                        selections=["ServiceRequest/pet-2", "ServiceRequest/pet-3"],
                        draftOrders=f.bundle(later, period))
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body, headers={"Accept-Language": "fr"}))
    assert labels.date(expected, "fr") in card["summary"] and expected.isoformat() not in card["summary"]
    moved = card["suggestions"][0]["actions"][0]["resource"]
    assert moved["id"] == "pet-3" and "occurrenceDateTime" not in moved
    assert moved["occurrencePeriod"] == {"start": expected.isoformat(),
                                         "end": (expected + dt.timedelta(days=1)).isoformat()}
    get_fhir_model_class("ServiceRequest").model_validate(moved)


def test_feedback_is_idempotent_audited_and_counted_for_auditors(cds_client, ehr):
    body = hook_request("patient-view", f.prefetch(**RENAL))
    summary, _ = cards_of(call(cds_client, ehr, "bonemets-patient-view", body))
    feedback = {"feedback": [{"card": summary["uuid"], "outcome": "accepted", "acceptedSuggestions": [],
                              "outcomeTimestamp": "2026-11-27T10:05:31Z"}]}
    path = "/cds-services/bonemets-patient-view/feedback"
    first = cds_client.post(path, json=feedback, headers=ehr.headers(path))
    again = cds_client.post(path, json=feedback, headers=ehr.headers(path))
    assert (first.status_code, first.json()["recorded"], again.status_code, again.json()["recorded"]) == \
        (200, 1, 200, 0)
    assert len(audit_rows(cds_client, "cds.feedback")) == 1
    unknown = {"feedback": [{**feedback["feedback"][0], "card": str(uuid.uuid4())}]}
    assert cds_client.post(path, json=unknown, headers=ehr.headers(path)).status_code == 404
    counts = cds_client.get("/v1/audit/cds-feedback", headers=Keys.header(cds_client.keys.auditor)).json()["cards"]
    (row,) = [r for r in counts if r["accepted"]]
    assert row["service"] == "bonemets-patient-view" and row["served"] >= 1 and "AR-2" in row["rule_ids"]


class EhrServer:
    """The EHR's own HTTP side, for real: its JWK Set at a URL, and a FHIR server answering the services' prefetch
    queries when the call leaves keys out (with the access token the call gave), recording what it was asked."""

    def __init__(self, ehr: Ehr, resources: dict[str, dict]):
        import http.server
        import threading

        self.asked: list[tuple[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.asked.append((self.path, self.headers.get("Authorization", "")))
                if self.path == "/jwks.json":
                    body = ehr.jwks.read_bytes()
                else:
                    kind = self.path.removeprefix("/fhir/").split("?", 1)[0].split("/", 1)[0]
                    if self.headers.get("Authorization") != "Bearer ehr-access-token" or kind not in resources:
                        self.send_response(401 if kind in resources else 404)
                        self.end_headers()
                        return
                    body = json.dumps(resources[kind]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_missing_prefetch_is_read_from_the_ehr_fhir_server_and_keys_come_from_a_jwks_url(settings, keys, ehr,
                                                                                            log_stream):
    from litestar.testing import TestClient

    from api.app import create_app

    server = EhrServer(ehr, {"Observation": f.bundle(f.creatinine(2.5), f.weight(60))})
    try:
        configured = replace(settings, cds_issuers={EHR: Issuer(jwks_url=f"{server.url}/jwks.json",
                                                                fhir_servers=(f"{server.url}/fhir",))},
                             public_url=BASE)
        with TestClient(create_app(configured, configure_logs=False), raise_server_exceptions=False) as client:
            body = hook_request("patient-view", f.prefetch(patient_resource=f.patient(BORN), **RENAL))
            for key in ("creatinine", "weight", "performance"):
                del body["prefetch"][key]
            body["fhirServer"] = f"{server.url}/fhir"
            body["fhirAuthorization"] = {"access_token": "ehr-access-token", "token_type": "Bearer",
                                         "expires_in": 300, "scope": "user/Observation.read", "subject": "bonemets"}
            summary, _ = cards_of(call(client, ehr, "bonemets-patient-view", body))
            assert "23" in summary["detail"] and "AR-2" in summary["detail"]
            reads = [path for path, auth in server.asked if path.startswith("/fhir/")]
            assert len(reads) == 3 and all(auth == "Bearer ehr-access-token" for path, auth in server.asked
                                           if path.startswith("/fhir/"))
            assert f"patient={f.PATIENT_ID}" in reads[0] and "2160-0" in reads[0]
            assert ("/jwks.json", "") in server.asked  # the key found at the issuer's JWK Set URL
            # the access token is used, never kept: not in the log, not in the audit trail
            (row,) = audit_rows(client, "cds.answered")
            assert "ehr-access-token" not in log_stream.getvalue() + row["input_json"] + row["output_json"]
            # a FHIR server that refuses the token: the keys stay missing, 412
            body = {**body, "hookInstance": str(uuid.uuid4()),
                    "fhirAuthorization": {**body["fhirAuthorization"], "access_token": "expired"}}
            assert call(client, ehr, "bonemets-patient-view", body).status_code == 412
            # a fhirServer the issuer's configuration does not list is never read: the call names it, not us
            asked = len(server.asked)
            body = {**body, "hookInstance": str(uuid.uuid4()), "fhirServer": f"{server.url}/elsewhere",
                    "fhirAuthorization": {**body["fhirAuthorization"], "access_token": "ehr-access-token"}}
            assert call(client, ehr, "bonemets-patient-view", body).status_code == 412
            assert len(server.asked) == asked
    finally:
        server.close()
