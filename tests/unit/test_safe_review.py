"""Whole cases an independent clinical review sent (issue 9), each once unsafe or self-contradicting, now
answered safely or refused naming both fields (clinical-rules.md section 4)."""

import msgspec
import pytest
from msgspec import inspect as mi

from domain.evaluation import Case, evaluate
from domain.model import InputRejected
from domain.pathways import PATHWAYS
from domain.validation import decode

D = "2025-10-06"
TOK = {"extraspinal_bone_metastases": 0, "vertebral_body_metastases": 1, "visceral_metastases": "none",
       "primary": "lung", "frankel": "D"}


def whole(**fields):
    return evaluate(msgspec.convert({"evaluation_date": D, **fields}, Case))


def path(name, **fields):
    module = PATHWAYS[name]
    return module.evaluate(msgspec.convert(fields, module.Inputs))


def acts(result):
    return {(r.rule_id, r.action) for r in result.recommendations}


def held(result):
    return {(w.rule_id, w.action, w.withheld_by) for w in result.withheld}


def refused(fields, fields_named):
    with pytest.raises(InputRejected) as err:
        whole(**fields)
    problem = err.value.problems[0]
    assert err.value.contradiction and problem.field == fields_named[0] and fields_named[1] in problem.message
    return problem


@pytest.mark.parametrize(("case", "named"), [
    ({"surgery": {"life_expectancy_weeks": 3}, "cord_compression": {"life_expectancy_months": 24}},
     ("surgery.life_expectancy_weeks", "cord_compression.life_expectancy_months")),
    ({"cord_compression": {"karnofsky": 80}, "surgery": {"tokuhashi": {"karnofsky": 30, **TOK}}},
     ("surgery.tokuhashi.karnofsky", "cord_compression.karnofsky")),
    ({"cord_compression": {"age": 85}, "surgery": {"age": 60}}, ("surgery.age", "cord_compression.age")),
    ({"lesions": [{"id": "T4", "kind": "spine", "radiotherapy": {"visceral_metastases": False}}],
      "surgery": {"tokuhashi": {**TOK, "karnofsky": 60, "visceral_metastases": "unremovable"}}},
     ("surgery.tokuhashi.visceral_metastases", "lesions[0].radiotherapy.visceral_metastases")),
    ({"surgery": {"tokuhashi": {**TOK, "karnofsky": 60}, "tomita": {"growth": "rapid", "visceral_metastases": "none",
                                                                     "bone_metastases": "multiple"}}},
     ("surgery.tomita.bone_metastases", "surgery.tokuhashi")),
    ({"lesions": [{"id": "F", "kind": "long_bone", "long_bone": {"location": "femoral_shaft"}}],
      "surgery": {"tokuhashi": {**TOK, "karnofsky": 60}}}, ("lesions", "surgery.tokuhashi.extraspinal")),
    ({"disease": {"metastatic_sites": 6}, "lesions": [{"id": "T4", "kind": "spine",
                                                       "radiotherapy": {"sbrt_sites": 2}}]},
     ("lesions[0].radiotherapy.sbrt_sites", "disease.metastatic_sites")),
    ({"lesions": [{"id": "T5", "kind": "spine", "spine": {"cord_compression": True},
                   "radiotherapy": {"symptomatic_cord_compression": False}}]},
     ("lesions[0].radiotherapy.symptomatic_cord_compression", "lesions[0].spine.cord_compression")),
    ({"lesions": [{"id": "F", "kind": "spine", "long_bone": {"pathological_fracture": True}}]},
     ("lesions[0].long_bone", "spine")),
    ({"lesions": [{"id": "L1", "kind": "spine", "spine": {"uncontrolled_sepsis": True}},
                  {"id": "L3", "kind": "spine", "interventional": {"uncontrolled_sepsis": False}}]},
     ("lesions[1].interventional.uncontrolled_sepsis", "lesions[0].spine.uncontrolled_sepsis")),
])
def test_safe_10_a_fact_stated_twice_in_any_two_blocks_must_agree(case, named):
    refused(case, named)


def test_safe_10_the_same_fact_in_another_unit_is_the_same_fact():
    result = whole(patient={"life_expectancy_months": 6, "creatinine": {"value": 1.0, "unit": "mg_dl"}},
                   antiresorptive={"life_expectancy_weeks": 26, "creatinine": {"value": 88, "unit": "umol_l"}})
    assert result.recommendations is not None  # 6 months and 26 weeks (0.6 day apart); 1 mg/dL and 88 umol/L
    with pytest.raises(InputRejected):  # a week apart is another estimate
        whole(patient={"life_expectancy_months": 6}, antiresorptive={"life_expectancy_weeks": 25})


def test_safe_2_an_uncontrolled_sepsis_forbids_cementoplasty_at_every_lesion():
    fracture = {"compression_fracture": True, "lesion": "lytic", "posterior_wall_retropulsion": False,
                "pain_uncontrolled": True, "cord_threat": False, "puncture_site_infection": False}
    result = whole(patient={"life_expectancy_months": 8}, lesions=[
        {"id": "L1", "kind": "spine", "spine": {**fracture, "uncontrolled_sepsis": True}},
        {"id": "L3", "kind": "spine", "spine": fracture,
         "interventional": {"pain_poorly_controlled": True, "puncture_site_infection": False}}])
    assert not {("SP-2", "cementoplasty"), ("IR-1", "cementoplasty")} & acts(result)
    assert {w.lesion for w in result.withheld if w.withheld_by == "SAFE-2"} == {"L1", "L3"}


def test_a_compression_on_a_lesion_alone_brings_the_cord_compression_pathway_and_forbids_sbrt_there():
    result = whole(patient={"age": 60, "karnofsky": 80, "life_expectancy_months": 24},
                   disease={"metastatic_sites": 1, "bone_metastases": 1, "visceral_metastases": False,
                            "disease_stabilised": True},
                   lesions=[{"id": "T5", "kind": "spine", "spine": {"cord_compression": True},
                             "radiotherapy": {"well_delimited": True, "metabolic_radiotherapy": False,
                                              "rt_same_site_within_3_months": False, "canal_narrowing_percent": 10,
                                              "cord_distance_mm": 8}}])
    assert ("MSCC-1", "emergency_radiotherapy") in acts(result) and result.recommendations[0].rule_id == "MSCC-1"
    assert ("RT-4", "not_eligible_sbrt") in acts(result) and ("RT-4", "sbrt_candidate") not in acts(result)
    assert ("TRIAL-2", "consider_trial_inclusion", "RT-4") in held(result)


def test_the_cord_compression_pathway_never_offers_surgery_beside_exclusive_radiotherapy():
    rades = {"primary": "nsclc", "interval_months": 4, "visceral_metastases": True, "deficit_onset_days": 2}
    favoured = {"cord_compression": True, "operated": False, "age": 60, "karnofsky": 80, "deficit_hours": 6}
    group_1 = path("cord-compression", **favoured, rades={**rades, "motor_function": "paraplegic"})
    assert ("MSCC-5", "rcp_discussion") in acts(group_1) and ("MSCC-5", "surgery_favoured") not in acts(group_1)
    group_2 = path("cord-compression", **favoured, life_expectancy_weeks=4,
                   rades={**rades, "motor_function": "ambulatory_with_aid", "deficit_onset_days": 1})
    mscc3 = next(r for r in group_2.recommendations if r.rule_id == "MSCC-3")
    assert mscc3.text.endswith("Here without surgery: radiotherapy alone.")
    surgery_first = path("cord-compression", **favoured)
    assert next(r for r in surgery_first.recommendations if r.rule_id == "MSCC-1").rcp_required


def test_systemic_and_local_lines_follow_life_expectancy():
    result = whole(patient={"life_expectancy_weeks": 4}, disease={"bone_metastases": 4, "metastatic_sites": 1})
    assert ("SYS-1", "systemic_antiresorptive", "AR-1") in held(result)
    sys2 = next(r for r in result.recommendations if r.rule_id == "SYS-2")
    assert "Not surgery here" in sys2.text


def test_resection_reconstruction_is_withheld_when_the_scores_predict_a_short_survival():
    result = whole(patient={"age": 60, "karnofsky": 40, "life_expectancy_months": 18},
                   disease={"bone_metastases": 5, "visceral_metastases": True},
                   surgery={"tokuhashi": {"karnofsky": 40, "extraspinal_bone_metastases": 3,
                                          "vertebral_body_metastases": 2, "visceral_metastases": "unremovable",
                                          "primary": "lung", "frankel": "E"}})
    assert ("SURG-3", "resection_reconstruction", "SURG-4") in held(result)
    assert "life_expectancy_disagrees_with_scores" in [w.code for w in result.warnings]


def test_no_thermal_ablation_at_a_compressed_cord():
    r = path("interventional", oligometastatic=True, pain_score=6, cord_compression=True)
    assert ("IR-3", "thermal_ablation") not in acts(r) and ("IR-3", "thermal_ablation", "MSCC-1") in held(r)


def test_safe_2_cementoplasty_at_a_vertebra_needs_every_contraindication_known():
    sp2 = path("spine", compression_fracture=True, lesion="lytic", posterior_wall_retropulsion=False,
               pain_uncontrolled=True, cord_threat=False)
    assert ("SP-2", "cementoplasty") not in acts(sp2)
    assert ("SP-2", ("puncture_site_infection", "uncontrolled_sepsis")) in [(n.rule_id, n.missing)
                                                                          for n in sp2.not_evaluable]
    result = whole(lesions=[{"id": "L1", "kind": "spine", "interventional": {
        "pain_poorly_controlled": True, "puncture_site_infection": False, "uncontrolled_sepsis": False}}])
    assert ("IR-1", "cementoplasty") not in acts(result)  # the cord and the posterior wall not known


@pytest.mark.parametrize(("extra", "action", "reason"), [
    ({"dialysis": True}, "zoledronic_acid_not_given", "dialysis"),
    ({"age": 30, "weight_kg": 90, "creatinine": {"value": 0.35, "unit": "mg_dl"}}, "zoledronic_acid_not_dosed",
     "implausible_clearance")])
def test_safe_4_no_zoledronic_acid_dose_from_an_untrustworthy_clearance(extra, action, reason):
    base = {"life_expectancy_months": 6, "age": 40, "sex": "male", "weight_kg": 80, "urgent": True,
            "creatinine": {"value": 1.0, "unit": "mg_dl"}}
    r = path("antiresorptive", **{**base, **extra})
    ar2 = next(x for x in r.recommendations if x.rule_id == "AR-2")
    assert (ar2.action, ar2.reasons[0].code) == (action, reason)


def test_treatment_history_is_read_before_advising_a_start():
    r = path("antiresorptive", life_expectancy_months=30, age=60, sex="male", weight_kg=70, urgent=False,
             creatinine={"value": 250, "unit": "umol_l"}, baseline_creatinine={"value": 150, "unit": "umol_l"},
             dental_assessment_done=True, months_on_treatment=30, prolonged_bone_remission=True,
             stopping_denosumab=True, denosumab_months=12)
    assert not {a for a in acts(r) if a[0] in ("AR-1", "AR-3", "AR-4")}  # on treatment: no start advice
    assert {("AR-7", "discuss_stopping"), ("AR-6", "relay_needs_specialist_opinion")} <= acts(r)
    assert ("AR-3", "denosumab") not in acts(r)
    started = path("antiresorptive", life_expectancy_months=30, urgent=True, stopping_denosumab=True,
                   denosumab_months=12)
    assert ("AR-3", "denosumab", "AR-6") in held(started)


@pytest.mark.parametrize(("pathway", "raw"), [
    ("imaging", b'{"last_gcsf_date":"9999-12-25","planned_pet_date":"9999-12-31"}'),
    ("radiotherapy", b'{"evaluation_date":"9999-12-31","surgery_date":"9999-12-20","operated_site":"spine",'
                     b'"skin_healed":true}')])
def test_far_future_dates_are_refused_not_a_server_error(pathway, raw):
    with pytest.raises(InputRejected) as err:
        decode(raw, PATHWAYS[pathway].Inputs)
    assert "from 1900-01-01 to 2199-12-31" in err.value.problems[0].message and not err.value.contradiction


@pytest.mark.parametrize("creatinine", [{"value": 0, "unit": "mg_dl"}, {"value": 6000, "unit": "umol_l"}])
def test_any_impossible_creatinine_gets_the_one_bound_and_check_the_unit(creatinine):
    with pytest.raises(InputRejected) as err:
        decode(msgspec.json.encode({"creatinine": creatinine}), PATHWAYS["antiresorptive"].Inputs)
    assert "check the unit" in err.value.problems[0].message


def test_a_pelvic_lesion_without_fracture_is_not_silent():
    r = path("long-bone", pathological_fracture=False, location="acetabulum", lesion="lytic")
    assert [w.code for w in r.warnings] == ["flat_bone_no_mirels"]


def _holds_date(info) -> bool:
    """msgspec's own description of a type, walked for a date (independent of domain.model's annotation walk)."""
    if isinstance(info, mi.DateType | mi.AnyType):
        return True
    if isinstance(info, mi.Metadata):
        return _holds_date(info.type)
    if isinstance(info, mi.UnionType):
        return any(_holds_date(t) for t in info.types)
    if isinstance(info, mi.ListType | mi.TupleType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return any(_holds_date(t) for t in getattr(info, "item_types", None) or (info.item_type,))
    return False


def test_the_date_bound_reads_every_field_that_can_hold_a_date():
    """SAFE-11's bound is checked only on the fields that can hold a date (issue 14: a whole case builds dozens of
    blocks); every Inputs class's date-holding fields, as msgspec describes them, are among them."""
    import domain.evaluation  # noqa: F401  (every Inputs class defined)
    from domain.model import Inputs, _date_fields

    def subclasses(kind):
        for sub in kind.__subclasses__():
            yield sub
            yield from subclasses(sub)

    checked = 0
    for kind in set(subclasses(Inputs)):
        info = mi.type_info(kind)
        expected = {f.name for f in info.fields if _holds_date(f.type)}
        assert expected == set(_date_fields(kind)), kind
        checked += bool(expected)
    assert checked >= 4  # the case, imaging, radiotherapy, trials


def test_a_far_future_date_in_a_whole_case_block_is_refused():
    with pytest.raises(InputRejected) as err:
        decode(b'{"evaluation_date":"2026-01-05","imaging":{"planned_pet_date":"9999-12-31"},"lesions":[]}', Case)
    assert "from 1900-01-01 to 2199-12-31" in err.value.problems[0].message
