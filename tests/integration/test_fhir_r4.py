"""Every kind of FHIR resource the service emits validates as FHIR R4 (4.0.1) with fhir.resources' R4 models
(issue 13): score Observations, RiskAssessments, GuidanceResponses and their Bundles for every compute operation,
the CodeSystem and ValueSet, bulk FHIR NDJSON lines (a Bundle, an OperationOutcome), the 412 OperationOutcome of a
CDS Hooks call, the resources the cards suggest (a denosumab MedicationRequest, a changed zoledronic acid order, a
moved PET ServiceRequest) and the audit trail's AuditEvents."""

import datetime as dt

import msgspec

from api.routes.cds_hooks import precondition_failed
from domain.evaluation import EXAMPLE, Case, evaluate
from domain.kinds import KINDS
from infra import cds, fhir, fhir_case, fhir_results
from tests import fhir_fixtures as f
from tests.fhir_r4 import r4_problems

ISSUED = "2025-06-01T09:30:00Z"


def emitted() -> list[dict]:
    found: list[dict] = []
    for kind in KINDS.values():
        output = msgspec.to_builtins(kind.compute(msgspec.convert(kind.example, kind.inputs), "fr"))
        bundle = fhir_results.answer(output, issued=ISSUED, patient_hash="ab" * 32)
        found += [bundle, *(e["resource"] for e in bundle["entry"])]
        line = {"line": 1, "line_id": "A", "ok": True, "result": {**output, "audit_id": "5f0c6b1e"}}
        found.append(fhir_results.bulk_line(line, ISSUED))
    found.append(fhir_results.bulk_line({"line": 2, "line_id": None, "ok": False, "error": {
        "status": 400, "detail": "This line cannot be evaluated.",
        "errors": [{"field": "pain", "message": "Invalid enum value 'x'"}]}}, ISSUED))
    found += [fhir_results.code_system(), fhir_results.value_set()]
    found += [precondition_failed(["creatinine", "weight"], lang).content for lang in ("en", "fr")]  # the 412s
    today = dt.date.today()
    for creatinine in (2.5, 0.9):  # contraindicated: delete and create denosumab; else: the dose, as an update
        facts = fhir_case.read(f.prefetch(patient_resource=f.patient("1955-01-01"),
                                          observations=(f.creatinine(creatinine), f.weight(60))), today)
        case = fhir_case.case_of(facts, today, {"patient": {"life_expectancy_months": 12},
                                                "disease": {"bone_metastases": 3},
                                                "antiresorptive": {"urgent": False, "dental_assessment_done": True}})
        result = msgspec.to_builtins(evaluate(msgspec.convert(case, Case), "en"))
        order = f.medication("M05BA08", "zoledronic acid", days=0, status="draft", rid="zol-1")
        for card, _ in cds.order_select(result, [order], "en"):
            found += [a.resource for s in card.suggestions or [] for a in s.actions or []
                      if a.resource is not msgspec.UNSET]
    pet = f.service_request("82918005", "PET scan", rid="pet-1", when=today.isoformat())
    period = f.valid({**f.service_request("82918005", "PET scan", rid="pet-2"), "occurrencePeriod": {
        "start": today.isoformat(), "end": (today + dt.timedelta(days=1)).isoformat()}})
    gcsf = f.medication("L03AA13", "pegfilgrastim", days=5)
    facts = fhir_case.read(f.prefetch(medications=(gcsf,)), today)
    case = fhir_case.case_of(facts, today, cds.order_findings([pet, period], today))
    result = msgspec.to_builtins(evaluate(msgspec.convert(case, Case), "en"))
    cards = cds.order_select(result, [pet, period], "en")
    assert len(cards) == 2, "both PET cards are among the resources checked (a date-time and a period moved)"
    found += [a.resource for card, _ in cards for s in card.suggestions or [] for a in s.actions or []]
    output = msgspec.to_builtins(evaluate(msgspec.convert(EXAMPLE, Case), "en"))
    found.append(fhir_results.answer(output, issued=ISSUED, patient_hash=None))
    record = {"id": "5f0c6b1e-2d4a-4c8e-9b1a-7e3d2c1f0a9b", "action": "cds.answered", "patient_hash": "ab" * 32,
              "request_id": "r-1", "endpoint": "POST /cds-services/bonemets-patient-view", "seq": 7,
              "hash": "cd" * 32, "prev_hash": "ef" * 32, "guideline_version": "g", "engine_version": "e",
              "rules_version": "r", "job_id": None, "created_at": ISSUED, "client": "cds:ehr", "roles": "cds",
              "rule_ids": "AR-2"}
    found.append(fhir.bundle([record], next_link=None))
    return found


def test_every_resource_the_service_emits_is_valid_fhir_r4():
    resources = emitted()
    kinds = {r["resourceType"] for r in resources}
    assert kinds >= {"Bundle", "Observation", "RiskAssessment", "GuidanceResponse", "CodeSystem", "ValueSet",
                     "OperationOutcome", "MedicationRequest", "ServiceRequest"}
    assert r4_problems(resources) == []


def test_the_r4_check_can_fail():
    assert r4_problems([{"resourceType": "Observation", "status": "final"}])  # code is required in R4
