"""What an independent review of the CDS Hooks service found, each held by a test (issue 13): common charts answer
(no 500), an inhibitor order follows the whole pathway, patient references never reach what is stored, a
hookInstance is one call, a PET's date is its occurrence, the access token never follows a redirect, a replayed
token stays refused after a restart."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import replace

from sqlalchemy import text

from infra.cds_auth import Issuer
from infra.db import make_engine
from tests import fhir_fixtures as f
from tests.cds_fixtures import BASE, EHR
from tests.conftest import Keys
from tests.integration.test_cds_hooks import BORN, RENAL, EhrServer, audit_rows, call, cards_of, hook_request

# What the clinician adds that decides the start of an inhibitor (AR-1): a year to live, three bone metastases, the
# dental assessment done
DECIDED = {"patient": {"life_expectancy_months": 12}, "disease": {"bone_metastases": 3},
           "antiresorptive": {"urgent": False, "dental_assessment_done": True}}


def procedure(code: str, *, days: int, category: str | None = None) -> dict:
    resource = {"resourceType": "Procedure", "id": f"proc-{uuid.uuid4().hex[:6]}", "status": "completed",
                "subject": {"reference": f"Patient/{f.PATIENT_ID}"}, "performedDateTime": f.days_ago(days),
                "code": {"coding": [{"system": f.SNOMED, "code": code}]}}
    if category:
        resource["category"] = {"coding": [{"system": f.SNOMED, "code": category}]}
    return f.valid(resource)


def test_a_full_chart_answers_with_every_fact_in_words(cds_client, ehr):
    """ECOG, an inhibitor course, a radiotherapy and an operation in the chart: cards, each fact named (was a 500)."""
    chart = f.prefetch(patient_resource=f.patient(BORN), observations=(*RENAL["observations"], f.ecog(1)),
                       conditions=RENAL["conditions"],
                       medications=(f.medication("M05BX04", "denosumab", days=40),
                                    f.medication("M05BA08", "zoledronic acid", days=900, status="completed")),
                       procedures=(procedure("108290001", days=20),
                                   procedure("80146002", days=60, category="387713003")))
    for lang in ("en", "fr"):
        summary, *_ = cards_of(call(cds_client, ehr, "bonemets-patient-view", hook_request("patient-view", chart),
                                    headers={"Accept-Language": lang}))
        words = {"en": ("ECOG", "Denosumab, current course since", "Last radiotherapy", "Last surgery"),
                 "fr": ("ECOG", "Dénosumab, traitement en cours depuis", "Dernière radiothérapie",
                        "Dernière chirurgie")}[lang]
        assert all(w in summary["detail"] for w in words), summary["detail"]
        assert "zoledronic_since" not in summary["detail"]  # the completed course of 2024 is not the current one


def test_zoledronic_acid_for_a_dying_patient_is_not_dosed_but_questioned(cds_client, ehr):
    order = f.medication("M05BA08", "zoledronic acid", days=0, status="draft", rid="zol-9")
    normal = dict(RENAL, observations=(f.creatinine(0.9), f.weight(60)))
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **normal),
                        selections=["MedicationRequest/zol-9"], draftOrders=f.bundle(order))
    body["extension"] = {"fr.bonemets.findings": {"patient": {"life_expectancy_weeks": 4}}}
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    assert card["indicator"] == "warning" and "AR-1" in card["summary"] and "AR-1" in card["detail"]
    (action,) = card["suggestions"][0]["actions"]
    assert (action["type"], action["resourceId"]) == ("delete", "MedicationRequest/zol-9")
    assert "mg IV" not in json.dumps(card)  # no dose for an order that is not indicated
    # the same patient at 23 mL/min: contraindicated outranks not indicated — critical, cancel, nothing in its place
    body = {**body, "hookInstance": str(uuid.uuid4()), "prefetch": f.prefetch(patient_resource=f.patient(BORN),
                                                                              **RENAL)}
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    assert card["indicator"] == "critical" and "contraindicated" in card["summary"]
    assert [a["type"] for s in card["suggestions"] for a in s["actions"]] == ["delete"]
    # denosumab for that patient: not indicated either, a warning proposing to cancel it (was an info card)
    denosumab = f.medication("M05BX04", "denosumab", days=0, status="draft", rid="dmab-9")
    body = {**body, "hookInstance": str(uuid.uuid4()), "context": {**body["context"], "selections": [
        "MedicationRequest/dmab-9"], "draftOrders": f.bundle(denosumab)}}
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    assert card["indicator"] == "warning" and "AR-1" in card["summary"]
    assert card["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/dmab-9"


def test_a_radiotherapy_and_a_consult_for_a_dying_patient_say_each_thing_once(cds_client, ehr):
    """Three weeks to live, a fractured femur and a T10 threatening the cord (the README's dying story): a
    radiotherapy and a surgical consult selected together give each recommendation once, and the surgical opinion
    SURG-1 withholds proposes to cancel the consult."""
    radiotherapy = f.service_request("108290001", "Radiation oncology", rid="rt-1")
    consult = f.service_request("103696004", "Surgical consult", rid="surg-1")
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **RENAL),
                        selections=["ServiceRequest/rt-1", "ServiceRequest/surg-1"],
                        draftOrders=f.bundle(radiotherapy, consult))
    body["extension"] = {"fr.bonemets.findings": {
        "patient": {"karnofsky": 30, "life_expectancy_weeks": 3},
        "lesions": [{"id": "femur-L", "kind": "long_bone", "long_bone": {
            "pathological_fracture": True, "location": "femoral_neck", "lesion": "lytic"}},
            {"id": "T10", "kind": "spine", "spine": {
                "compression_fracture": True, "lesion": "lytic", "posterior_wall_retropulsion": True,
                "pain_uncontrolled": True, "cord_threat": True}}]}}
    cards = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    texts = [(c["summary"], c.get("detail")) for c in cards]
    assert len(texts) == len(set(texts)) and any("SURG-1" in c["summary"] for c in cards)
    withheld = [c for c in cards if "Surgical opinion" in c["summary"] and c["summary"].startswith("Not recommended")]
    assert withheld and all(c["suggestions"][0]["actions"][0]["resourceId"] == "ServiceRequest/surg-1"
                            for c in withheld)
    deletes = [a["resourceId"] for c in cards for s in c.get("suggestions", []) for a in s["actions"]
               if a["type"] == "delete"]
    assert deletes == ["ServiceRequest/surg-1"]  # one card proposes to cancel the consult, not two
    # findings that are not an object are refused where they were sent, not ignored
    body = {**body, "hookInstance": str(uuid.uuid4()), "extension": {"fr.bonemets.findings": [1]}}
    refused = call(cds_client, ehr, "bonemets-order-select", body)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "extension.fr.bonemets.findings"


def test_no_patient_reference_reaches_the_audit_trail_or_the_stored_calls(cds_client, ehr):
    order = f.medication("M05BA08", "zoledronic acid", days=0, status="draft", rid="zol-1")
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **RENAL),
                        selections=["MedicationRequest/zol-1"], draftOrders=f.bundle(order))
    body["extension"] = {"fr.bonemets.findings": DECIDED}  # the start decided: denosumab is proposed for this patient
    answer = call(cds_client, ehr, "bonemets-order-select", body)
    assert f"Patient/{f.PATIENT_ID}" in answer.text  # the EHR gets its own references back...
    (row,) = audit_rows(cds_client, "cds.answered")
    engine = make_engine(cds_client.app.state.settings.database_url)
    with engine.connect() as conn:
        stored = " ".join(conn.execute(text("SELECT response_json FROM cds_call")).scalars())
    engine.dispose()
    assert f.PATIENT_ID not in row["input_json"] + row["output_json"] + stored  # ...nothing stored holds them
    again = call(cds_client, ehr, "bonemets-order-select", body)
    assert again.json() == answer.json()  # the same call answered again, references restored
    findings = {**body, "hookInstance": str(uuid.uuid4()),
                "extension": {"fr.bonemets.findings": {"patient_ref": "IPP-998877"}}}
    refused = call(cds_client, ehr, "bonemets-order-select", findings)
    assert refused.status_code == 400 and "IPP-998877" not in json.dumps(audit_rows(cds_client, "cds.answered"),
                                                                        default=str)


def test_a_hook_instance_is_one_call_another_body_is_refused(cds_client, ehr):
    body = hook_request("patient-view", f.prefetch(patient_resource=f.patient(BORN), **RENAL))
    assert call(cds_client, ehr, "bonemets-patient-view", body).status_code == 200
    other = {**body, "context": {**body["context"], "patientId": "OTHER-111"}}
    refused = call(cds_client, ehr, "bonemets-patient-view", other)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "hookInstance"


def test_twins_and_retries_of_one_hook_instance_get_the_first_answer_and_one_audit_record(cds_client, ehr,
                                                                                       settings, keys):
    """The same call sent at once by several threads, and to a second API process on the same database (PostgreSQL:
    the hookInstance is claimed at admission), and retried at once: every answer is the first one, byte for byte
    where the same process answers, and there is one audit record."""
    from concurrent.futures import ThreadPoolExecutor

    from litestar.testing import TestClient

    from api.app import create_app

    body = hook_request("patient-view", f.prefetch(patient_resource=f.patient(BORN), **RENAL))
    clients = [cds_client]
    other = None
    if settings.database_url.startswith("postgresql"):  # two API processes share PostgreSQL; SQLite has one
        configured = replace(settings, cds_issuers={EHR: Issuer(jwks_file=str(ehr.jwks))}, public_url=BASE)
        other = TestClient(create_app(configured, configure_logs=False), raise_server_exceptions=False)
        other.__enter__()
        clients.append(other)
    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda i: call(clients[i % len(clients)], ehr, "bonemets-patient-view", body),
                                    range(6)))
        answers += [call(c, ehr, "bonemets-patient-view", body) for c in clients]  # retried at once
    finally:
        if other is not None:
            other.__exit__(None, None, None)
    assert [a.status_code for a in answers] == [200] * len(answers)
    uuids = {tuple(card["uuid"] for card in a.json()["cards"]) for a in answers}
    assert len(uuids) == 1
    assert len(audit_rows(cds_client, "cds.answered")) == 1


def test_a_pet_is_judged_on_its_occurrence_not_on_when_it_was_written(cds_client, ehr):
    gcsf = f.medication("L03AA13", "pegfilgrastim", days=7)
    later = (dt.date.today() + dt.timedelta(days=23)).isoformat()
    pet = f.valid({**f.service_request("82918005", "PET scan", rid="pet-2", when=later),
                   "authoredOn": dt.date.today().isoformat()})
    body = hook_request("order-select", f.prefetch(medications=(gcsf,), **RENAL),
                        selections=["ServiceRequest/pet-2"], draftOrders=f.bundle(pet))
    assert cards_of(call(cds_client, ehr, "bonemets-order-select", body)) == []  # day 30 after G-CSF: fine


def test_feedback_names_only_the_cards_suggestions_and_the_outcomes_own_fields(cds_client, ehr):
    """An accepted suggestion must be one the card offered; overrideReason goes with an overridden card and
    acceptedSuggestions with an accepted one (CDS Hooks 2.0.1 Feedback): anything else is 400, naming the field,
    and nothing of the request is recorded."""
    order = f.medication("M05BA08", "zoledronic acid", days=0, status="draft", rid="zol-1")
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **RENAL),
                        selections=["MedicationRequest/zol-1"], draftOrders=f.bundle(order))
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    offered = card["suggestions"][0]["uuid"]
    path = "/cds-services/bonemets-order-select/feedback"

    def send(*items):
        return cds_client.post(path, json={"feedback": list(items)}, headers=ehr.headers(path))

    accepted = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-27T10:05:31Z",
                "acceptedSuggestions": [{"id": offered}]}
    stranger = {**accepted, "acceptedSuggestions": [{"id": offered}, {"id": str(uuid.uuid4())}]}
    refused = send(accepted, stranger)
    assert refused.status_code == 400 and not audit_rows(cds_client, "cds.feedback")  # the good item waits too
    (error,) = refused.json()["errors"]
    assert error["field"] == "feedback[1].acceptedSuggestions[1].id" and error["allowed"] == [offered]
    reason = {"reason": {"system": "https://bonemets.org/fhir/override-reason", "code": "patient-refused",
                         "display": "Patient refused"}, "userComment": "wants to wait"}
    assert send({**accepted, "overrideReason": reason}).status_code == 400
    overridden = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-27T10:06:00Z"}
    assert send({**overridden, "acceptedSuggestions": [{"id": offered}]}).status_code == 400
    for when in ("yesterday", "2026-11-27", "2026-11-27T10:05:31"):  # a date and time, with its offset (UTC)
        assert send({**accepted, "outcomeTimestamp": when}).status_code == 400
    assert send(accepted).json()["recorded"] == 1 and send({**overridden, "overrideReason": reason}).json() == {
        "recorded": 1, "received": 1}
    # accepted, then overridden: the card counts once, as overridden (its last outcome)
    counts = cds_client.get("/v1/audit/cds-feedback", headers=Keys.header(cds_client.keys.auditor)).json()["cards"]
    (row,) = [r for r in counts if r["service"] == "bonemets-order-select"]
    assert (row["served"], row["accepted"], row["overridden"]) == (1, 0, 1)


def test_the_access_token_never_follows_a_redirect(settings, keys, ehr):
    from litestar.testing import TestClient

    from api.app import create_app

    target = EhrServer(ehr, {"Observation": f.bundle(f.creatinine(2.5))})
    origin = EhrServer(ehr, {})
    origin_handler = origin.server.RequestHandlerClass

    def redirect(self):
        origin.asked.append((self.path, self.headers.get("Authorization", "")))
        self.send_response(302)
        self.send_header("Location", f"{target.url}{self.path}")
        self.end_headers()

    origin_handler.do_GET = redirect
    try:
        configured = replace(settings, cds_issuers={EHR: Issuer(jwks_file=str(ehr.jwks),
                                                                fhir_servers=(f"{origin.url}/fhir",))},
                             public_url=BASE)
        with TestClient(create_app(configured, configure_logs=False), raise_server_exceptions=False) as client:
            body = hook_request("patient-view", f.prefetch(**RENAL))
            del body["prefetch"]["creatinine"]
            body.update(fhirServer=f"{origin.url}/fhir", fhirAuthorization={
                "access_token": "ehr-access-token", "token_type": "Bearer", "expires_in": 300,
                "scope": "user/Observation.read", "subject": "bonemets"})
            assert call(client, ehr, "bonemets-patient-view", body).status_code == 412
            assert origin.asked and target.asked == []  # asked once, redirected, not followed
    finally:
        origin.close()
        target.close()


def test_a_replayed_token_stays_refused_after_a_restart(settings, keys, ehr):
    from litestar.testing import TestClient

    from api.app import create_app

    configured = replace(settings, cds_issuers={EHR: Issuer(jwks_file=str(ehr.jwks))}, public_url=BASE)
    path = "/cds-services/bonemets-patient-view"
    headers = ehr.headers(path)
    with TestClient(create_app(configured, configure_logs=False), raise_server_exceptions=False) as client:
        body = hook_request("patient-view", f.prefetch(**RENAL))
        assert client.post(path, json=body, headers=headers).status_code == 200
    with TestClient(create_app(configured, configure_logs=False), raise_server_exceptions=False) as client:
        body = hook_request("patient-view", f.prefetch(**RENAL))
        assert client.post(path, json=body, headers=headers).status_code == 401


def test_a_call_after_the_database_dropped_the_kept_connections_is_answered(cds_client, ehr, settings):
    """PostgreSQL: the admission's kept connections closed by the server (a restart, a failover): the next call
    opens a new one and is answered, not a 503."""
    if not settings.database_url.startswith("postgresql"):
        return  # SQLite admits in memory and a file: no connection to lose
    body = hook_request("patient-view", f.prefetch(patient_resource=f.patient(BORN), **RENAL))
    assert call(cds_client, ehr, "bonemets-patient-view", body).status_code == 200
    engine = make_engine(settings.migration_database_url or settings.database_url)
    with engine.connect() as conn:
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                   "usename = 'bonemets_app' AND pid <> pg_backend_pid()")).scalar_one()
        conn.commit()
    engine.dispose()
    assert killed >= 1
    again = {**body, "hookInstance": str(uuid.uuid4())}
    assert call(cds_client, ehr, "bonemets-patient-view", again).status_code == 200


def test_second_review_denosumab_calcium_undated_g_csf_one_cancel_per_order_and_the_dental_check(cds_client, ehr):
    """What the second review found: denosumab at 23 mL/min carries the hypocalcaemia warning on its order card;
    a PET while a G-CSF has no date is a warning, not silence; the dental assessment not done means no denosumab
    yet; a zoledronic acid that cannot be dosed says what is missing; a retry with a refreshed access token is the
    same call."""
    decided = {"fr.bonemets.findings": DECIDED}
    denosumab = f.medication("M05BX04", "denosumab", days=0, status="draft", rid="dmab-1")
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **RENAL),
                        selections=["MedicationRequest/dmab-1"], draftOrders=f.bundle(denosumab))
    body["extension"] = decided
    cards = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    (calcium,) = [c for c in cards if "hypocalcaemia" in c["summary"]]
    assert calcium["indicator"] == "warning" and "calcium" in calcium["detail"]
    # the same call, its access token refreshed: the same answer
    retried = {**body, "fhirAuthorization": {"access_token": "refreshed", "token_type": "Bearer", "expires_in": 300,
                                             "scope": "patient/*.read", "subject": "bonemets"}}
    first = call(cds_client, ehr, "bonemets-order-select", {**body, "hookInstance": "h-refresh"})
    again = call(cds_client, ehr, "bonemets-order-select", {**retried, "hookInstance": "h-refresh"})
    assert again.status_code == 200 and again.json() == first.json()

    gcsf = f.medication("L03AA13", "pegfilgrastim", days=5)
    pet = f.service_request("82918005", "PET scan", rid="pet-1",
                            when=(dt.date.today() + dt.timedelta(days=2)).isoformat())
    data = f.prefetch(medications=(gcsf,), **RENAL)
    del gcsf["authoredOn"]  # valid FHIR, then undated
    body = hook_request("order-select", data, selections=["ServiceRequest/pet-1"], draftOrders=f.bundle(pet))
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    assert card["indicator"] == "warning" and "no date" in card["summary"]

    zol = f.medication("M05BA08", "zoledronic acid", days=0, status="draft", rid="zol-1")
    no_dental = {"fr.bonemets.findings": {**DECIDED, "antiresorptive": {"urgent": False,
                                                                        "dental_assessment_done": False}}}
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **RENAL),
                        selections=["MedicationRequest/zol-1"], draftOrders=f.bundle(zol))
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", {**body, "extension": no_dental}))
    assert card["indicator"] == "critical" and "dental" in card["summary"]
    assert [a["type"] for s in card["suggestions"] for a in s["actions"]] == ["delete"]
    no_weight = dict(RENAL, observations=(f.creatinine(2.5), f.karnofsky(70)))
    body = hook_request("order-select", f.prefetch(patient_resource=f.patient(BORN), **no_weight),
                        selections=["MedicationRequest/zol-1"], draftOrders=f.bundle(zol))
    (card,) = cards_of(call(cds_client, ehr, "bonemets-order-select", body))
    assert "weight" in card["summary"] and "creatinine" not in card["summary"].lower()
