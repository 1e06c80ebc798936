"""clinical-rules.md section 4, the rules about a case as a whole: asked means answered (SAFE-8), one case, one
truth (SAFE-10), one definition per bound (SAFE-11) and the complete antiresorptive start (SAFE-12)."""

import msgspec
import pytest
from msgspec import inspect as mi

from domain import safety
from domain.bulk import Rejected, evaluate_line
from domain.catalogue import catalogue
from domain.evaluation import Case, evaluate
from domain.kinds import KINDS
from domain.model import InputRejected
from domain.pathways import PATHWAYS
from domain.validation import decode
from tests.unit.pathway_cases import AR_BASE, CASES, TOKU_8


def whole(**fields):
    return evaluate(msgspec.convert({"evaluation_date": "2025-06-01", **fields}, Case))


def acts(result):
    return [(r.rule_id, r.action) for r in result.recommendations]


# SAFE-8 -- asked means answered
@pytest.mark.parametrize("negative", sorted(safety.NEGATIVE_ACTIONS), ids=lambda n: f"{n[0]}:{n[1]}")
def test_safe_8_every_no_is_a_recommendation_with_its_reasons_and_in_the_catalogue(negative):
    pathway, fires, _ = CASES[negative]
    module = PATHWAYS[pathway]
    rec = next(r for r in module.evaluate(msgspec.convert(fires, module.Inputs)).recommendations
               if (r.rule_id, r.action) == negative)
    assert rec.reasons and all(reason.text in rec.text for reason in rec.reasons) and not rec.rcp_required
    listed = {(a["rule_id"], a["action"]) for p in catalogue("en")["pathways"] for a in p["actions"] if a["negative"]}
    assert negative in listed


# SAFE-10 -- one case, one truth
@pytest.mark.parametrize(("case", "fields"), [
    ({"patient": {"karnofsky": 40}, "surgery": {"tokuhashi": {**TOKU_8, "karnofsky": 90}}},
     ["surgery.tokuhashi.karnofsky", "patient.karnofsky"]),
    ({"disease": {"bone_metastases": 3}, "surgery": {"tomita": {"growth": "rapid", "visceral_metastases": "none",
                                                                 "bone_metastases": "solitary"}}},
     ["surgery.tomita.bone_metastases", "disease.bone_metastases"]),
    ({"disease": {"visceral_metastases": False}, "surgery": {"tokuhashi": {**TOKU_8,
                                                                           "visceral_metastases": "removable"}}},
     ["surgery.tokuhashi.visceral_metastases", "disease.visceral_metastases"]),
    ({"disease": {"bone_metastases": 2}, "surgery": {"tokuhashi": TOKU_8}},  # 2 extraspinal + a vertebral one
     ["surgery.tokuhashi.extraspinal_bone_metastases", "disease.bone_metastases"]),
    ({"disease": {"bone_metastases": 1}, "lesions": [{"id": "a", "kind": "spine"}, {"id": "b", "kind": "spine"}]},
     ["lesions", "disease.bone_metastases"]),
    ({"frankel": "E", "cord_compression": {"deficit_hours": 12}}, ["cord_compression.deficit_hours", "frankel"]),
    ({"frankel": "C", "cord_compression": {"rades": {"primary": "nsclc", "interval_months": 4,
                                                     "visceral_metastases": True, "deficit_onset_days": 3,
                                                     "motor_function": "ambulatory_with_aid"}}},
     ["cord_compression.rades.motor_function", "frankel"]),
    ({"frankel": "B", "surgery": {"tokuhashi": TOKU_8}}, ["surgery.tokuhashi.frankel", "frankel"]),
    ({"patient": {"age": 64}, "cord_compression": {"age": 65}}, ["cord_compression.age", "patient.age"]),
    ({"cord_compression": {"cord_compression": False},
      "lesions": [{"id": "T4", "kind": "spine", "spine": {"cord_compression": True, "cord_threat": True}}]},
     ["lesions[0].spine.cord_compression", "cord_compression.cord_compression"]),
])
def test_safe_10_a_fact_given_twice_must_agree_and_the_refusal_names_both_fields(case, fields):
    with pytest.raises(InputRejected) as err:
        whole(**case)
    problem = err.value.problems[0]
    assert err.value.contradiction and problem.field == fields[0] and fields[1] in problem.message


@pytest.mark.parametrize(("motor", "grade"), [("paraplegic", "A"), ("paraplegic", "B"), ("not_ambulatory", "C"),
                                              ("ambulatory_with_aid", "D"), ("ambulatory_without_aid", "D")])
def test_safe_10_each_frankel_grade_accepts_its_motor_status(motor, grade):
    rades = {"primary": "nsclc", "interval_months": 4, "visceral_metastases": True, "deficit_onset_days": 3,
             "motor_function": motor}
    assert whole(frankel=grade, cord_compression={"cord_compression": True, "rades": rades}).scores


@pytest.mark.parametrize(("pathway", "fields", "field"), [
    ("radiotherapy", {"evaluation_date": "2025-06-01", "surgery_date": "2025-06-02"}, "surgery_date"),
    ("imaging", {"evaluation_date": "2025-06-01", "last_gcsf_date": "2025-06-02"}, "last_gcsf_date"),
    ("imaging", {"evaluation_date": "2025-06-01", "effective_treatment_start": "2025-06-02"},
     "effective_treatment_start"),
])
def test_safe_10_no_event_of_the_case_follows_its_evaluation(pathway, fields, field):
    module = PATHWAYS[pathway]
    with pytest.raises(InputRejected) as err:
        module.evaluate(msgspec.convert(fields, module.Inputs))
    assert err.value.contradiction and err.value.problems[0].field == field
    day_of = {**fields, field: fields["evaluation_date"]}
    module.evaluate(msgspec.convert(day_of, module.Inputs))  # the same day is allowed


def test_safe_10_a_g_csf_dose_after_the_planned_pet_does_not_postpone_it():
    module = PATHWAYS["imaging"]
    r = module.evaluate(msgspec.convert({"last_gcsf_date": "2025-01-20", "planned_pet_date": "2025-01-10"},
                                        module.Inputs))
    assert acts(r) == []


# SAFE-11 -- one definition per bound
BAD = {"karnofsky": 55, "age": 17, "weight_kg": 20, "creatinine": {"value": 0.1, "unit": "mg_dl"}}


def places(kind, name, prefix=()):
    """Every path (tuple of field names) under the Struct `kind` to a field called `name`."""
    for f in mi.type_info(kind).fields:
        info = f.type
        while isinstance(info, mi.UnionType | mi.Metadata):
            info = next(t for t in info.types if not isinstance(t, mi.NoneType)) \
                if isinstance(info, mi.UnionType) else info.type
        if f.name == name:
            yield (*prefix, f.name)
        elif isinstance(info, mi.StructType):
            yield from places(info.cls, name, (*prefix, f.name))


def nest(path, value):
    return {path[0]: value if len(path) == 1 else nest(path[1:], value)}


@pytest.mark.parametrize("name", sorted(BAD))
def test_safe_11_the_same_bad_value_is_refused_identically_by_every_entry_point(name):
    refusals = {}
    for kind in KINDS.values():
        for where in places(kind.inputs, name):
            body = {**({"evaluation_date": "2025-06-01"} if kind.name == "evaluation" else {}),
                    **nest(where, BAD[name])}
            with pytest.raises(InputRejected) as err:  # the API's decoder
                decode(msgspec.json.encode(body), kind.inputs)
            line = evaluate_line(msgspec.json.encode({"kind": kind.name, **body}), "en")  # a bulk line
            assert isinstance(line, Rejected)
            for problems in (err.value.problems, line.problems):
                (problem,) = [p for p in problems if p.field == ".".join(where)]
                refusals[(kind.name, ".".join(where))] = (problem.message, str(problem.allowed))
    assert len(refusals) >= {"karnofsky": 5, "age": 5, "weight_kg": 2, "creatinine": 2}[name], refusals
    assert len(set(refusals.values())) == 1, refusals


# SAFE-12 -- antiresorptive start, completely
@pytest.mark.parametrize(("urgent", "dental", "action"), [
    (True, None, "start_antiresorptive"), (None, True, "start_antiresorptive"), (True, False, "start_antiresorptive"),
    (False, False, "start_after_dental_assessment"), (False, True, "start_antiresorptive"), (False, None, None)])
def test_safe_12_the_start_waits_for_the_dental_assessment_unless_urgent(urgent, dental, action):
    module = PATHWAYS["antiresorptive"]
    fields = {"life_expectancy_months": 6, "urgent": urgent, "dental_assessment_done": dental}
    r = module.evaluate(msgspec.convert({k: v for k, v in fields.items() if v is not None}, module.Inputs))
    assert [a for rule, a in acts(r) if rule == "AR-1"] == ([action] if action else [])
    if action:
        assert "2 years" in r.recommendations[0].text  # AR-5's minimum duration
    else:
        assert ("AR-1", ("dental_assessment_done",)) in [(n.rule_id, n.missing) for n in r.not_evaluable]


def test_safe_12_renal_dosing_is_information_when_the_start_is_not_indicated():
    module = PATHWAYS["antiresorptive"]
    r = module.evaluate(msgspec.convert({**AR_BASE, "life_expectancy_months": 2}, module.Inputs))
    assert acts(r) == [("AR-1", "antiresorptive_not_indicated"), ("AR-2", "renal_dosing_information")]
    info = r.recommendations[1]
    assert info.values == {"creatinine_clearance_ml_min": 60.0, "dose_mg": 3.5} and "not a dose to give" in info.text
