"""clinical-rules.md section 4, "One case, one safe answer": each SAFE rule at its boundary, through the pathway
that holds the facts and through the whole-case evaluation."""

import msgspec
import pytest

from domain import safety
from domain.catalogue import catalogue
from domain.evaluation import Case, evaluate
from domain.model import InputRejected
from domain.pathways import PATHWAYS
from domain.scores import SCORES
from domain.texts import band_meaning
from domain.texts.pathways import PATHWAY_TEXTS
from domain.validation import convert
from tests.unit.pathway_cases import AR_BASE, MIRELS_8, MIRELS_9, SINS_7, TOKU_8

TOKU_12 = {**TOKU_8, "karnofsky": 80, "primary": "kidney"}  # 2+1+2+2+3+2 = 12: excisional surgery


def path(name, **fields):
    module = PATHWAYS[name]
    return module.evaluate(convert(fields, module.Inputs))


def whole(**fields):
    return evaluate(msgspec.convert({"evaluation_date": "2025-06-01", **fields}, Case))


def acts(result):
    return [(r.rule_id, r.action) for r in result.recommendations]


def held(result):
    return [(w.rule_id, w.action, w.withheld_by, w.reason.code) for w in result.withheld]


def codes(result):
    return [w.code for w in result.warnings]


# SAFE-1 -- life expectancy gates surgery
@pytest.mark.parametrize(("weeks", "fires"), [(5.9, False), (6, True)])
def test_safe_1_a_fracture_is_operated_only_from_6_weeks_of_life_expectancy(weeks, fires):
    r = path("long-bone", pathological_fracture=True, location="trochanteric", lesion="lytic",
             life_expectancy_weeks=weeks)
    surgical = [("LB-1", "surgery_then_adjuvant_rt"), ("LB-5", "percutaneous_screw_fixation")]
    if fires:
        assert acts(r)[:2] == surgical and r.withheld == ()
        assert all("SURG-2" in r.text for r in r.recommendations[:2])  # the less aggressive modality is named
    else:
        assert [(rule, action) for rule, action, *_ in held(r)] == surgical
        assert {reason for *_, by, reason in held(r)} == {"life_expectancy_under_6_weeks"}
        assert acts(r) == [("SURG-1", "radiotherapy_instead_of_surgery")]
        assert r.recommendations[0].urgency == "emergency"  # still about a fractured lesion


def test_safe_1_without_life_expectancy_surgery_stands_with_a_warning():
    r = path("long-bone", pathological_fracture=False, mirels=MIRELS_9)
    assert ("LB-4", "prophylactic_surgery") in acts(r) and "surgery_life_expectancy_not_given" in codes(r)


@pytest.mark.parametrize(("months", "withheld"), [(12, True), (12.01, False)])
def test_safe_1_resections_are_withheld_by_surg_2_up_to_one_year(months, withheld):
    r = path("surgery", life_expectancy_months=months, tokuhashi=TOKU_12,
             tomita={"growth": "slow", "visceral_metastases": "none", "bone_metastases": "solitary"})
    resections = [("SURG-4", "excisional_surgery", "SURG-2", "life_expectancy_6_weeks_to_1_year"),
                  ("SURG-5", "en_bloc_resection", "SURG-2", "life_expectancy_6_weeks_to_1_year")]
    assert held(r) == (resections if withheld else [])
    assert r.scores[0].band == "over_12_months"  # the score keeps its band whatever the rule does


def test_safe_1_cord_compression_under_6_weeks_is_exclusive_emergency_radiotherapy():
    favoured = {"cord_compression": True, "operated": False, "age": 60, "karnofsky": 80, "deficit_hours": 6}
    r = path("cord-compression", **favoured, life_expectancy_weeks=6)
    assert acts(r) == [("MSCC-1", "surgery_then_adjuvant_radiotherapy"), ("MSCC-5", "surgery_favoured")]
    r = path("cord-compression", **favoured, life_expectancy_weeks=5)
    assert acts(r) == [("MSCC-1", "exclusive_emergency_radiotherapy")]
    assert held(r) == [("MSCC-5", "surgery_favoured", "SURG-1", "life_expectancy_under_6_weeks")]


# SAFE-2 -- one set of cementoplasty contraindications
@pytest.mark.parametrize("finding", ["posterior_wall_retropulsion", "cord_threat", "cord_compression",
                                     "puncture_site_infection", "uncontrolled_sepsis"])
def test_safe_2_each_contraindication_withholds_spinal_cementoplasty(finding):
    fracture = {"compression_fracture": True, "lesion": "lytic", "posterior_wall_retropulsion": False,
                "pain_uncontrolled": True, "cord_threat": False, "puncture_site_infection": False,
                "uncontrolled_sepsis": False}
    r = path("spine", **{**fracture, finding: True, **({"cord_threat": True} if finding == "cord_compression" else {})})
    assert ("SP-2", "cementoplasty") not in acts(r) and ("SP-2", "cementoplasty_contraindicated") in acts(r)
    assert held(r)[0][:3] == ("SP-2", "cementoplasty_of_the_fracture", "SAFE-2")
    contraindicated = next(x for x in r.recommendations if x.action == "cementoplasty_contraindicated")
    assert finding in [reason.code for reason in contraindicated.reasons]
    assert ("SP-2", "cementoplasty") in acts(path("spine", **fracture))


def test_safe_2_a_lesions_spine_findings_withhold_interventional_cementoplasty_in_a_whole_case():
    result = whole(lesions=[{"id": "T9", "kind": "spine",
                             "spine": {"posterior_wall_retropulsion": True, "cord_threat": True},
                             "interventional": {"pain_poorly_controlled": True, "puncture_site_infection": False,
                                                "uncontrolled_sepsis": False}}])
    positive = {(r.rule_id, r.action) for r in result.recommendations} & {("IR-1", "cementoplasty")}
    assert not positive
    assert ("IR-1", "cementoplasty", "T9", "SAFE-2", "cord_threat") in [
        (w.rule_id, w.action, w.lesion, w.withheld_by, w.reason.code) for w in result.withheld]


def test_safe_2_lesion_findings_given_twice_must_agree():
    with pytest.raises(InputRejected) as err:
        whole(lesions=[{"id": "T9", "kind": "spine", "spine": {"cord_threat": True},
                        "interventional": {"cord_threat": False}}])
    assert err.value.contradiction and err.value.problems[0].field == "lesions[0].interventional.cord_threat"
    assert "lesions[0].spine.cord_threat" in err.value.problems[0].message


def test_safe_2_no_cement_as_an_adjunct_beside_an_infection():
    r = path("long-bone", pathological_fracture=False, mirels=MIRELS_8, puncture_site_infection=True)
    assert ("LB-5", "percutaneous_fixation_option_without_cementoplasty") in acts(r)
    assert held(r) == [("LB-5", "cementoplasty_adjunct", "SAFE-2", "puncture_site_infection")]


# SAFE-3 -- one answer per drug
def test_safe_3_a_withhold_supersedes_the_dose_and_states_the_resume_threshold_in_the_unit_given():
    r = path("antiresorptive", **{**AR_BASE, "creatinine": {"value": 133, "unit": "umol_l"},
                                  "baseline_creatinine": {"value": 88.4, "unit": "umol_l"}})  # +0.5 mg/dL
    assert ("AR-2", "withhold_zoledronic_acid") in acts(r) and ("AR-2", "zoledronic_acid") not in acts(r)
    assert held(r) == [("AR-2", "zoledronic_acid", "AR-2", "creatinine_rise")]
    withhold = next(x for x in r.recommendations if x.action == "withhold_zoledronic_acid")
    assert "97 µmol/L" in withhold.text and withhold.values["resume_at_or_below"] == "97 µmol/L"  # 88.4 × 1.1
    assert ("AR-3", "denosumab") in acts(r)  # the other drug stays


def test_safe_3_still_high_after_a_withhold_keeps_withholding():
    r = path("antiresorptive", **{**AR_BASE, "creatinine": {"value": 1.11, "unit": "mg_dl"},
                                  "baseline_creatinine": {"value": 1.0, "unit": "mg_dl"}, "zoledronic_withheld": True})
    assert ("AR-2", "withhold_zoledronic_acid") in acts(r) and ("AR-2", "zoledronic_acid") not in acts(r)
    assert "1.10 mg/dL" in next(x.text for x in r.recommendations if x.action == "withhold_zoledronic_acid")


# SAFE-4 -- implausible measurements (creatinine bounds: tests/unit/test_cockcroft_gault.py)
@pytest.mark.parametrize(("field", "bad", "good"), [("weight_kg", 29.9, 30), ("weight_kg", 250.1, 250),
                                                    ("age", 17, 18), ("age", 121, 120)])
def test_safe_4_weight_and_age_outside_their_bounds_are_refused(field, bad, good):
    with pytest.raises(InputRejected) as err:
        convert({field: bad}, PATHWAYS["antiresorptive"].Inputs)
    assert err.value.problems[0].field == field and not err.value.contradiction
    assert getattr(convert({field: good}, PATHWAYS["antiresorptive"].Inputs), field) == good


# SAFE-5 -- denosumab and calcium
@pytest.mark.parametrize(("extra", "warned"), [({}, False), ({"dialysis": True}, True),
                                               ({"creatinine": {"value": 2.01, "unit": "mg_dl"}}, True)])
def test_safe_5_denosumab_always_says_calcium_and_warns_on_severe_renal_failure(extra, warned):
    r = path("antiresorptive", **{**AR_BASE, **extra})
    denosumab = next(x for x in r.recommendations if x.rule_id == "AR-3")
    assert "hypocalcaemia" in denosumab.text and "monitor calcium" in denosumab.text
    assert ("denosumab_severe_hypocalcaemia_risk" in codes(r)) == warned


# SAFE-6 -- the RCP decides procedures
def test_safe_6_every_procedure_is_rcp_flagged_and_a_no_is_not():
    procedures = [("LB-1", "surgery_then_adjuvant_rt"), ("LB-4", "prophylactic_surgery"), ("SP-3", "surgical_opinion"),
                  ("SP-2", "cementoplasty"), ("IR-1", "cementoplasty"), ("IR-3", "thermal_ablation"),
                  ("RT-4", "sbrt_candidate"), ("SURG-2", "stabilisation"), ("MSCC-5", "exclusive_radiotherapy"),
                  ("IR-2", "percutaneous_ablation_preferred"), ("LB-5", "percutaneous_screw_fixation")]
    assert all(safety.rcp_required(*p) for p in procedures)
    assert not any(safety.rcp_required(*n) for n in safety.NEGATIVE_ACTIONS)


# SAFE-7 -- urgency is data, and the order follows it
def test_safe_7_every_rule_id_of_the_catalogue_has_an_urgency():
    rules = {rule for p in catalogue("en")["pathways"] for rule in p["rule_ids"]}
    rules |= {b["rule_id"] for s in catalogue("en")["scores"] for b in s["bands"]}
    assert rules - set(safety.RULE_URGENCY) == set()
    assert {a["urgency"] for p in catalogue("en")["pathways"] for a in p["actions"]} <= set(safety.Urgency)


@pytest.mark.parametrize(("score", "fields", "urgency"), [
    ("sins", {**SINS_7, "lesion": "lytic", "alignment": "de_novo_deformity", "collapse": "none_over_50_involved"},
     "routine"),
    ("sins", {**SINS_7, "lesion": "lytic", "alignment": "de_novo_deformity", "collapse": "under_50"}, "urgent"),
    ("mirels", MIRELS_8, "routine"), ("mirels", MIRELS_9, "urgent")])
def test_safe_7_sins_13_and_mirels_9_are_urgent(score, fields, urgency):
    result = SCORES[score].compute(convert(fields, SCORES[score].Inputs))
    assert result.recommendation.urgency == urgency and result.total in (8, 9, 12, 13)


def test_safe_7_a_threatened_cord_is_urgent_and_a_compressed_one_an_emergency():
    assert path("spine", cord_threat=True).recommendations[0].urgency == "urgent"
    r = path("spine", cord_threat=True, cord_compression=True, vertebral_involvement=True)
    assert {x.urgency for x in r.recommendations} == {"emergency"}  # the lesion's highest, inherited


# SAFE-9 -- Mirels is for long bones only
@pytest.mark.parametrize(("location", "site", "ok"), [
    ("humerus", "upper_limb", True), ("forearm", "lower_limb", False), ("femoral_neck", "peritrochanteric", True),
    ("trochanteric", "lower_limb", False), ("femoral_shaft", "peritrochanteric", False),
    ("tibia_fibula", "lower_limb", True), ("pelvis", "lower_limb", False), ("acetabulum", "peritrochanteric", False)])
def test_safe_9_the_mirels_site_must_agree_with_the_location(location, site, ok):
    fields = {"pathological_fracture": False, "location": location, "mirels": {**MIRELS_8, "site": site}}
    if ok:
        assert path("long-bone", **fields).scores[0].score == "mirels"
    else:
        with pytest.raises(InputRejected) as err:
            path("long-bone", **fields)
        assert err.value.contradiction and err.value.problems[0].field in ("mirels", "mirels.site")


def test_safe_9_the_weight_bearing_warning_is_for_the_lower_limb_only():
    humerus = path("long-bone", pathological_fracture=False, location="humerus",
                   mirels={**MIRELS_8, "site": "upper_limb", "pain": "functional"})  # 1+3+2+2 = 8
    assert "cementoplasty_long_bone_adjunct_only" not in codes(humerus)
    assert "cementoplasty_long_bone_adjunct_only" in codes(path("long-bone", pathological_fracture=False,
                                                                location="femoral_shaft", mirels=MIRELS_8))


# SAFE-13 -- Frankel from findings
@pytest.mark.parametrize(("motor", "sensory", "grade"), [
    ("none", "none", "A"), ("none", "preserved", "B"), ("useless", "preserved", "C"), ("useful", "none", "D"),
    ("normal", "normal", "E"), ("normal", "preserved", "D")])
def test_safe_13_findings_give_the_frankel_grade(motor, sensory, grade):
    fields = {k: v for k, v in TOKU_8.items() if k != "frankel"}
    result = SCORES["tokuhashi"].compute(convert({**fields, "frankel_findings": {"motor": motor, "sensory": sensory}},
                                                 SCORES["tokuhashi"].Inputs))
    assert result.items[-1].value == grade and result.items[-1].derived_from == f"motor {motor}, sensory {sensory}"


def test_safe_13_a_grade_and_findings_that_disagree_are_a_contradiction():
    with pytest.raises(InputRejected) as err:
        SCORES["tokuhashi"].compute(convert({**TOKU_8, "frankel_findings": {"motor": "useful", "sensory": "none"}},
                                            SCORES["tokuhashi"].Inputs))
    assert err.value.contradiction and err.value.problems[0].allowed == ["D"]


# SAFE-14 -- the whole guideline text
def test_safe_14_the_texts_the_guideline_prints():
    wait = path("radiotherapy", surgery_date="2025-03-01", operated_site="long_bone", skin_healed=False,
                evaluation_date="2025-03-20")
    rt2 = next(x for x in wait.recommendations if x.rule_id == "RT-2")
    assert "20 Mar 2025" in rt2.text and rt2.values["earliest_start"] == "2025-03-20"  # words; the value stays ISO
    assert "30 Gy in 10 fractions" in rt2.text and "organs at risk" in rt2.text
    assert "antiplatelet" in PATHWAY_TEXTS[("IR-1", "cementoplasty")]["en"]
    assert "antiagrégants" in PATHWAY_TEXTS[("IR-1", "cementoplasty")]["fr"]
    assert "nephrotoxic" in PATHWAY_TEXTS[("AR-2", "zoledronic_acid")]["en"]
    assert band_meaning("tomita", "supportive_care", "en") == "Supportive care"
    assert band_meaning("tomita", "supportive_care", "fr") == "Soins de support"
