"""The service's answers as FHIR R4 resources (infra/fhir_results.py): every resource it emits validates with
fhir.resources (R4B models), every code it uses is in its published CodeSystem, and a score's Observation carries
the score's total, band and one component per item."""

import msgspec
import pytest
from fhir.resources.R4B import get_fhir_model_class

from domain.evaluation import EXAMPLE, Case, evaluate
from domain.kinds import KINDS
from infra import fhir_results as fr

ISSUED = "2025-06-01T09:30:00Z"


def valid(resource):
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def codes_of(concepts):
    for concept in concepts:
        yield concept["code"]
        yield from codes_of(concept.get("concept", []))


def used_codes(value):
    if isinstance(value, dict):
        if value.get("system") == fr.SYSTEM and "code" in value:
            yield value["code"]
        for child in value.values():
            yield from used_codes(child)
    elif isinstance(value, list):
        for child in value:
            yield from used_codes(child)


def test_the_code_system_and_value_set_validate_and_hold_every_code_once():
    system = valid(fr.code_system())
    valid(fr.value_set())
    codes = list(codes_of(system["concept"]))
    assert len(codes) == len(set(codes)) and {"sins", "sins.pain", "sins.pain.mechanical", "sins.unstable",
                                              "SP-3", "action.surgical_opinion"} <= set(codes)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_answer_as_fhir_validates_and_uses_only_published_codes(name):
    kind = KINDS[name]
    output = msgspec.to_builtins(kind.compute(msgspec.convert(kind.example, kind.inputs), "en"))
    bundle = valid(fr.answer(output, issued=ISSUED, patient_hash="ab" * 32))
    for entry in bundle["entry"]:
        valid(entry["resource"])
    published = set(codes_of(fr.code_system()["concept"]))
    assert set(used_codes(bundle)) <= published


def test_a_score_observation_has_its_total_band_and_a_component_per_item():
    output = msgspec.to_builtins(evaluate(msgspec.convert(EXAMPLE, Case), "fr"))
    bundle = fr.answer(output, issued=ISSUED, patient_hash=None)
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(observations) == len(output["scores"])  # one each, a lesion's score not twice
    sins = next(o for o in observations if o["code"]["coding"][0]["code"] == "sins")
    scored = next(s for lesion in output["lesions"] for s in lesion["scores"] if s["score"] == "sins")
    assert sins["valueInteger"] == scored["total"] and len(sins["component"]) == len(scored["items"])
    assert sins["interpretation"][0]["coding"][0]["code"] == f"sins.{scored['band']}"
    assert "rules" in sins["method"]["text"]
    prognostic = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RiskAssessment"]
    assert [r["code"]["coding"][0]["code"] for r in prognostic] == ["tomita"]
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert prognostic[0]["basis"][0]["reference"] in full_urls  # resolves inside the Bundle
    guidance = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "GuidanceResponse"]
    assert len([g for g in guidance if g["status"] == "success"]) == len(output["recommendations"]) + len(
        output["withheld"])
