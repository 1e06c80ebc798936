"""Three whole cases of the kind that made section 4 of clinical-rules.md necessary -- a dying patient, a frail
one, a contradictory one -- asserted line by line: what is recommended, in which order, what is withheld and why.
Scores cite their tables (clinical-rules.md section 1)."""

import msgspec
import pytest

from domain.evaluation import Case, evaluate
from domain.model import InputRejected

DYING = {
    "evaluation_date": "2025-10-06",
    "patient": {"age": 71, "sex": "male", "weight_kg": 58, "creatinine": {"value": 1.2, "unit": "mg_dl"},
                "karnofsky": 30, "life_expectancy_weeks": 3},
    "disease": {"bone_metastases": 6, "metastatic_sites": 3, "visceral_metastases": True},
    "lesions": [
        {"id": "femur-L", "kind": "long_bone",
         "long_bone": {"pathological_fracture": True, "location": "femoral_neck", "lesion": "lytic"}},
        {"id": "T10", "kind": "spine",
         "spine": {"vertebral_involvement": True, "compression_fracture": True, "lesion": "lytic",
                   "posterior_wall_retropulsion": True, "pain_uncontrolled": True, "cord_threat": True,
                   "sins": {"level": "T10", "pain": "mechanical", "lesion": "lytic", "alignment": "de_novo_deformity",
                            "collapse": "over_50", "posterolateral": "unilateral"}}},
    ],
    "surgery": {"tomita": {"growth": "rapid", "visceral_metastases": "untreatable", "bone_metastases": "multiple"}},
    "antiresorptive": {"urgent": False, "dental_assessment_done": False},
}
FRAIL = {
    "evaluation_date": "2025-11-03",
    "patient": {"age": 84, "sex": "female", "weight_kg": 42, "creatinine": {"value": 141, "unit": "umol_l"},
                "karnofsky": 40, "life_expectancy_months": 4},
    "disease": {"bone_metastases": 3, "metastatic_sites": 2, "visceral_metastases": False},
    "frankel_findings": {"motor": "useless", "sensory": "preserved"},
    "cord_compression": {"cord_compression": True, "operated": False, "deficit_hours": 36,
                         "rades": {"primary": "nsclc", "interval_months": 20, "visceral_metastases": False,
                                   "motor_function": "not_ambulatory", "deficit_onset_days": 10}},
    "lesions": [
        {"id": "L1", "kind": "spine", "spine": {"vertebral_involvement": True, "cord_threat": True,
                                                "cord_compression": True}},
        {"id": "humerus-R", "kind": "long_bone",
         "long_bone": {"pathological_fracture": False, "location": "humerus",
                       "mirels": {"site": "upper_limb", "pain": "functional", "lesion": "lytic",
                                  "size": "one_to_two_thirds"}}},
    ],
    "antiresorptive": {"urgent": False, "dental_assessment_done": False},
}


def run(case, lang="en"):
    return evaluate(msgspec.convert(case, Case), lang)


def lines(result):
    return [(str(r.urgency), r.rule_id, r.action, r.lesion) for r in result.recommendations]


def withheld(result):
    return [(w.rule_id, w.action, w.lesion, w.withheld_by, w.reason.code) for w in result.withheld]


def test_a_dying_patient_is_offered_radiotherapy_and_comfort_never_an_operation():
    """A 71-year-old man, Karnofsky 30, three weeks to live: a lytic fracture of the left femoral neck, a lytic T10
    compression fracture threatening the cord with posterior-wall retropulsion. Before section 4 the answer
    ranked fracture surgery, screw fixation and a surgical opinion above "no benefit of surgery"."""
    result = run(DYING)
    assert lines(result) == [
        ("emergency", "SURG-1", "radiotherapy_instead_of_surgery", "femur-L"),  # fractured: emergency (SAFE-7)
        ("urgent", "SURG-1", "radiotherapy_instead_of_surgery", "T10"),     # radiotherapy leads (SAFE-1)
        ("urgent", "SP-1", "whole_spine_mri", "T10"),                       # a threatened cord: urgent
        ("urgent", "SP-2", "cementoplasty_contraindicated", "T10"),         # SAFE-2: the findings named
        ("routine", "SURG-1", "no_surgery", None),                          # 3 weeks < 6 weeks
        ("routine", "SURG-5", "supportive_care", None),                     # Tomita 4+4+2 = 10: supportive care
        ("routine", "AR-1", "antiresorptive_not_indicated", None),          # SAFE-8: the "no" is said
        ("routine", "AR-2", "renal_dosing_information", None),              # SAFE-12: information, not a dose
    ]
    assert withheld(result) == [
        ("LB-1", "surgery_then_adjuvant_rt", "femur-L", "SURG-1", "life_expectancy_under_6_weeks"),
        ("LB-5", "percutaneous_screw_fixation", "femur-L", "SURG-1", "life_expectancy_under_6_weeks"),
        ("SP-3", "surgical_opinion", "T10", "SURG-1", "life_expectancy_under_6_weeks"),
        ("SP-2", "cementoplasty_of_the_fracture", "T10", "SAFE-2", "cord_threat"),
        ("SYS-1", "systemic_antiresorptive", None, "AR-1", "antiresorptive_not_indicated"),  # SAFE-12
    ]
    # the scores keep their totals and bands (SAFE rules withhold recommendations only): SINS at T10, semi-rigid
    # 1 + mechanical 3 + lytic 2 + de novo deformity 2 + collapse >= 50 % 3 + unilateral 1 = 12 (table 1.2)
    assert [(s.score, s.total, s.band) for s in result.scores] == [("sins", 12, "potentially_unstable"),
                                                                  ("tomita", 10, "supportive_care")]
    assert all(r.rcp_required is False for r in result.recommendations if r.rule_id != "SURG-5")
    radiotherapy = result.recommendations[0].text
    assert "8 Gy" in radiotherapy and "supportive care" in radiotherapy
    fr = run(DYING, "fr")
    assert fr.withheld[0].reason.text.startswith("Espérance de vie inférieure à 6 semaines (3 semaines)")
    sins = next(score for score in result.scores if score.score == "sins")
    assert sins.recommendation.withheld_by == "SURG-1"  # the score's own advice says it was withheld


def test_a_frail_patient_with_cord_compression_gets_exclusive_radiotherapy_and_safe_drugs():
    """An 84-year-old woman of 42 kg, Karnofsky 40, creatinine 141 umol/L, four months to live, no longer walking
    for 36 hours from an L1 cord compression (findings: motor useless, sensation preserved = Frankel C), and a
    painful lytic lesion of the right humerus."""
    result = run(FRAIL)
    assert lines(result) == [
        ("emergency", "MSCC-1", "exclusive_emergency_radiotherapy", None),  # SAFE-7: never beside "surgery favoured"
        ("emergency", "MSCC-3", "rt_20gy_5fr_or_30gy_10fr_with_or_without_surgery", None),  # Rades 5+8+8+3+7 = 31
        ("emergency", "MSCC-5", "exclusive_radiotherapy", None),            # 84 > 80, Karnofsky 40, 36 h
        ("emergency", "SP-1", "whole_spine_mri", "L1"),                     # a compressing lesion: emergency
        ("urgent", "LB-4", "prophylactic_surgery", "humerus-R"),            # Mirels 1+3+3+2 = 9
        ("urgent", "LB-5", "percutaneous_fixation_option", "humerus-R"),
        ("routine", "SURG-2", "stabilisation", None),                       # 4 months: 6 weeks to 1 year
        ("routine", "SYS-1", "systemic_antiresorptive", None),
        ("routine", "SYS-2", "local_treatment_options", None),
        ("routine", "AR-1", "start_after_dental_assessment", None),         # SAFE-12
        ("routine", "AR-2", "zoledronic_acid_not_given", None),             # 17.4 mL/min < 30
        ("routine", "AR-3", "denosumab", None),
        ("routine", "AR-4", "pretreatment_checklist", None),
        ("routine", "TRIAL-2", "consider_trial_inclusion", None),
    ]
    assert withheld(result) == [("SP-3", "surgical_opinion", "L1", "MSCC-5", "surgery_disfavoured_mscc_5")]
    assert [w.code for w in result.warnings] == ["zoledronic_acid_renal_contraindication",
                                                 "denosumab_severe_hypocalcaemia_risk"]  # SAFE-5
    by_rule = {r.rule_id: r for r in result.recommendations}
    assert "Age 84 > 80. Karnofsky 40 < 50. Deficit for 36 h > 24 h." in by_rule["MSCC-5"].text
    assert "17.4 mL/min" in by_rule["AR-2"].text and "hypocalcaemia" in by_rule["AR-3"].text
    assert "(SURG-2)" in by_rule["LB-4"].text  # the less aggressive modality is named
    assert "humerus" not in {w.code for w in result.warnings}  # no weight-bearing warning on an upper limb
    assert all(r.rule_id != "AR-2" or r.action != "zoledronic_acid" for r in result.recommendations)


CONTRADICTORY = {
    "evaluation_date": "2025-05-12",
    "patient": {"age": 66, "karnofsky": 40, "life_expectancy_months": 8},
    "disease": {"bone_metastases": 3, "visceral_metastases": True},
    "frankel": "E",
    "cord_compression": {"cord_compression": True, "operated": False, "deficit_hours": 12},
    "lesions": [{"id": "T5", "kind": "spine", "spine": {"cord_threat": True},
                 "radiotherapy": {"surgery_date": "2025-05-20", "operated_site": "spine", "skin_healed": True}}],
    "surgery": {"tokuhashi": {"karnofsky": 90, "extraspinal_bone_metastases": 1, "vertebral_body_metastases": 1,
                              "visceral_metastases": "none", "primary": "lung", "frankel": "E"},
                "tomita": {"growth": "rapid", "visceral_metastases": "untreatable", "bone_metastases": "solitary"}},
}


def test_a_contradictory_case_is_refused_naming_both_sides_of_every_contradiction():
    """A case as a busy form fills it: Karnofsky 40 for the patient but 90 in Tokuhashi, no visceral metastasis in
    Tokuhashi beside visceral metastases, a solitary bone metastasis in Tomita beside three, Frankel E beside a
    deficit of 12 hours, and a spinal operation dated after the evaluation. Refused whole, nothing recommended."""
    with pytest.raises(InputRejected) as err:
        run(CONTRADICTORY)
    assert err.value.contradiction
    assert [(p.field, p.message.split(" contradicts ")[1].split(" (")[0]) for p in err.value.problems] == [
        ("surgery.tokuhashi.karnofsky", "patient.karnofsky"),
        ("surgery.tokuhashi.visceral_metastases", "disease.visceral_metastases"),
        ("surgery.tomita.bone_metastases", "disease.bone_metastases"),
        ("surgery.tomita.bone_metastases", "surgery.tokuhashi extraspinal and vertebral counts"),
        ("cord_compression.deficit_hours", "frankel"),
    ]
    corrected = {**CONTRADICTORY, "frankel": "D",
                 "surgery": {"tokuhashi": {**CONTRADICTORY["surgery"]["tokuhashi"], "karnofsky": 40,
                                           "visceral_metastases": "unremovable", "frankel": "D"},
                             "tomita": {**CONTRADICTORY["surgery"]["tomita"], "bone_metastases": "multiple"}}}
    with pytest.raises(InputRejected) as err:  # the dates are checked where they are used, once the rest agrees
        run(corrected)
    assert [p.field for p in err.value.problems] == ["lesions[0].radiotherapy.surgery_date"] and "evaluation_date" in \
        err.value.problems[0].message
    # the clinician corrects the last one: there was no operation, and T5 is the compressing level
    corrected["lesions"] = [{"id": "T5", "kind": "spine", "spine": {"cord_threat": True, "cord_compression": True}}]
    result = run(corrected)
    assert lines(result) == [
        ("emergency", "MSCC-1", "exclusive_emergency_radiotherapy", None),
        ("emergency", "MSCC-5", "exclusive_radiotherapy", None),  # Karnofsky 40 < 50 decides, and says so
        ("emergency", "SP-1", "whole_spine_mri", "T5"),           # the compressing level: emergency
        ("routine", "SURG-2", "stabilisation", None),             # 8 months
        ("routine", "SURG-4", "conservative_treatment", None),    # Tokuhashi 0+1+2+0+0+1 = 4 (table 1.4)
        ("routine", "SURG-5", "supportive_care", None),           # Tomita 4+4+2 = 10 (table 1.5)
        ("routine", "SURG-6", "favourable_functional_prognosis", None),  # age 66 < 70, informational
        ("routine", "SYS-1", "systemic_antiresorptive", None),
        ("routine", "TRIAL-2", "consider_trial_inclusion", None),
    ]
    assert withheld(result) == [("SP-3", "surgical_opinion", "T5", "MSCC-5", "surgery_disfavoured_mscc_5")]
    assert result.recommendations[1].reasons[0].text == "Karnofsky 40 < 50."
