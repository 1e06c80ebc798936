"""Three whole cases told as clinical stories, asserted recommendation by recommendation (rule id, action,
lesion), in the engine's order of urgency (clinical-rules.md SAFE-7: emergency, urgent, routine)."""

import msgspec

from domain.evaluation import EXAMPLE, Case, evaluate


def run(case):
    return evaluate(msgspec.convert(case, Case))


def story(result):
    return [(r.rule_id, r.action, r.lesion) for r in result.recommendations]


def urgencies(result):
    return [str(r.urgency) for r in result.recommendations]


def withheld(result):
    return [(w.rule_id, w.action, w.lesion, w.withheld_by, w.reason.code) for w in result.withheld]


def test_egfr_mutant_adenocarcinoma_with_a_peritrochanteric_lytic_lesion_and_a_t12_compression_fracture():
    """A 58-year-old woman with EGFR-mutant adenocarcinoma under TKI, bone-only disease: a painful lytic
    peritrochanteric lesion of the right femur and a lytic T12 compression fracture with uncontrolled pain and
    no retropulsion (30 % collapse). Her oncologist rates the tumour's growth moderate under TKI."""
    result = run(EXAMPLE)  # this story is the case the API documents as its example
    assert story(result) == [
        ("LB-4", "prophylactic_surgery", "femur-R"),      # Mirels 3+3+3+2 = 11: urgent (SAFE-7)
        ("LB-5", "percutaneous_fixation_option", "femur-R"),  # about an urgent lesion: urgent
        ("SP-3", "surgical_opinion", "T12"),              # SINS 3+3+2+0+2+0 = 10: routine (not >= 13, no threat)
        ("SP-1", "whole_spine_mri", "T12"),
        ("SP-2", "cementoplasty", "T12"),                 # lytic, no retropulsion, uncontrolled pain
        ("SURG-3", "resection_reconstruction", None),     # 24 months > 1 year
        ("SURG-5", "intralesional_resection", None),      # Tomita 2+0+2 = 4
        ("SURG-6", "favourable_functional_prognosis", None),
        ("SYS-1", "systemic_antiresorptive", None),       # two bone metastases
        ("SYS-2", "local_treatment_options", None),       # one metastatic site
        ("AR-1", "start_after_dental_assessment", None),  # not urgent, dental assessment not yet done (SAFE-12)
        ("AR-2", "zoledronic_acid", None),
        ("AR-3", "denosumab", None),
        ("AR-4", "pretreatment_checklist", None),
        ("TRIAL-2", "consider_trial_inclusion", None),    # STEREO-OS open until 2026-01-24, 2 bone metastases
    ]
    assert urgencies(result) == ["urgent"] * 2 + ["routine"] * 13
    assert withheld(result) == []  # 24 months to live, no contraindication: nothing withheld
    ar2 = next(r for r in result.recommendations if r.rule_id == "AR-2")
    # (140 - 58) × 62 / (72 × 70 / 88.4) × 0.85 = 75.8 mL/min -> 4 mg
    assert ar2.values == {"creatinine_clearance_ml_min": 75.8, "dose_mg": 4.0}
    assert "4 mg" in ar2.text and "75.8 mL/min" in ar2.text  # SAFE-3: a dose states its clearance
    assert {(s.score, s.total) for s in result.scores} == {("mirels", 11), ("sins", 10), ("tomita", 4)}
    assert [w.code for w in result.warnings] == ["cementoplasty_long_bone_adjunct_only"]


def test_cord_compression_in_a_non_ambulatory_patient():
    """A 76-year-old man with NSCLC diagnosed 4 months ago, liver metastases, Karnofsky 40, no longer walking
    (Frankel C) for 3 days after a T7 lesion compressed the cord; estimated life expectancy 4 weeks."""
    result = run({
        "evaluation_date": "2025-02-01",
        "patient": {"age": 76, "karnofsky": 40, "life_expectancy_weeks": 4},
        "disease": {"bone_metastases": 5, "metastatic_sites": 4, "visceral_metastases": True},
        "frankel": "C",
        "cord_compression": {"cord_compression": True, "operated": False, "deficit_hours": 72,
                             "rades": {"primary": "nsclc", "interval_months": 4, "visceral_metastases": True,
                                       "motor_function": "not_ambulatory", "deficit_onset_days": 3}},
        "lesions": [{"id": "T7", "kind": "spine", "spine": {
            "vertebral_involvement": True, "compression_fracture": True, "lesion": "lytic",
            "posterior_wall_retropulsion": True, "pain_uncontrolled": True, "cord_threat": True,
            "sins": {"level": "T7", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
                     "collapse": "under_50", "posterolateral": "bilateral"}}}],
        "surgery": {"tokuhashi": {"karnofsky": 40, "extraspinal_bone_metastases": 4, "vertebral_body_metastases": 2,
                                  "visceral_metastases": "unremovable", "primary": "lung", "frankel": "C"}},
    })
    assert story(result) == [
        ("MSCC-1", "exclusive_emergency_radiotherapy", None),  # surgery disfavoured, and 4 weeks to live
        ("MSCC-2", "rt_8gy_1fr", None),                   # Rades 5+6+5+3+4 = 23: group 1
        ("MSCC-5", "exclusive_radiotherapy", None),       # Karnofsky 40 < 50, deficit 72 h > 24 h
        ("SURG-1", "radiotherapy_instead_of_surgery", "T7"),  # radiotherapy leads (SAFE-1)
        ("SP-1", "whole_spine_mri", "T7"),                # a threatened cord: urgent, like all about T7
        ("SP-2", "cementoplasty_contraindicated", "T7"),  # retropulsion and cord threat (SAFE-2)
        ("SURG-1", "no_surgery", None),                   # 4 weeks < 6 weeks
        ("SURG-4", "conservative_treatment", None),       # Tokuhashi 0+0+1+0+0+1 = 2
        ("AR-1", "antiresorptive_not_indicated", None),   # 4 weeks: not over 3 months, said (SAFE-8)
    ]
    assert urgencies(result) == ["emergency"] * 3 + ["urgent"] * 3 + ["routine"] * 3
    assert withheld(result) == [
        ("SP-3", "surgical_opinion", "T7", "SURG-1", "life_expectancy_under_6_weeks"),  # SAFE-1
        ("SP-2", "cementoplasty_of_the_fracture", "T7", "SAFE-2", "cord_threat"),       # SAFE-2
        ("SYS-1", "systemic_antiresorptive", None, "AR-1", "antiresorptive_not_indicated"),
    ]
    mscc1 = result.recommendations[0]
    assert [r.code for r in mscc1.reasons] == ["life_expectancy_under_6_weeks"]  # the criterion that decided
    mscc5 = next(r for r in result.recommendations if r.rule_id == "MSCC-5")
    assert [r.code for r in mscc5.reasons] == ["karnofsky_unfavourable", "deficit_unfavourable"]
    assert "Karnofsky 40 < 50" in mscc5.text and "72 h > 24 h" in mscc5.text  # the criterion that decided


def test_oligometastatic_patient_eligible_for_stereotactic_radiotherapy():
    """A 64-year-old man with a single blastic L2 metastasis found on PET, stable disease under treatment,
    no visceral metastasis, occasional non-mechanical pain controlled by analgesics."""
    result = run({
        "evaluation_date": "2025-09-01",
        "patient": {"age": 64, "sex": "male", "weight_kg": 80, "creatinine": {"value": 1.1, "unit": "mg_dl"},
                    "karnofsky": 90, "life_expectancy_months": 18},
        "disease": {"bone_metastases": 1, "metastatic_sites": 1, "visceral_metastases": False,
                    "disease_stabilised": True},
        "lesions": [{"id": "L2", "kind": "spine",
                     "spine": {"vertebral_involvement": True, "compression_fracture": False, "cord_threat": False,
                               "sins": {"level": "L2", "pain": "occasional_non_mechanical", "lesion": "blastic",
                                        "alignment": "normal", "collapse": "none", "posterolateral": "none"}},
                     "radiotherapy": {"painful": False, "analgesic_resistant": False, "ir_accessible": False,
                                      "sbrt_sites": 1, "well_delimited": True, "symptomatic_cord_compression": False,
                                      "metabolic_radiotherapy": False, "rt_same_site_within_3_months": False,
                                      "canal_narrowing_percent": 10, "cord_distance_mm": 6}}],
        "antiresorptive": {"urgent": False, "dental_assessment_done": True},
        "imaging": {"single_bone_lesion": True},
    })
    assert story(result) == [
        ("SP-1", "whole_spine_mri", "L2"),
        ("SURG-3", "resection_reconstruction", None),
        ("SURG-6", "favourable_functional_prognosis", None),  # age under 70
        ("SP-4", "radiotherapy", "L2"),                       # SINS 2+1+0+0+0+0 = 3
        ("RT-4", "sbrt_candidate", "L2"),                     # 1 site, no contraindication; validate in RCP
        ("SYS-2", "local_treatment_options", None),
        ("AR-1", "start_antiresorptive", None),
        ("AR-2", "zoledronic_acid", None),                    # (140-64) × 80 / (72 × 1.1) = 76.8 -> 4 mg
        ("AR-3", "denosumab", None),
        ("AR-4", "pretreatment_checklist", None),
        ("IMG-4", "targeted_mri_and_specialist_opinion", None),
        ("TRIAL-2", "consider_trial_inclusion", None),
    ]
    rt4 = next(r for r in result.recommendations if r.rule_id == "RT-4")
    assert rt4.rcp_required and rt4.triggered_by["sins_total"] == 3
    assert result.warnings == () and withheld(result) == [] and set(urgencies(result)) == {"routine"}


def test_a_frankel_grade_that_walks_with_a_paraplegic_motor_status_is_a_contradiction():
    import pytest

    from domain.model import InputRejected

    with pytest.raises(InputRejected) as err:
        run({"evaluation_date": "2025-01-01", "frankel": "E",
             "cord_compression": {"rades": {"primary": "nsclc", "interval_months": 4, "visceral_metastases": True,
                                            "motor_function": "paraplegic", "deficit_onset_days": 3}}})
    assert err.value.contradiction
    assert err.value.problems[0].field == "cord_compression.rades.motor_function"


def test_a_pathway_block_repeating_a_shared_fact_must_agree_with_the_case():
    import pytest

    from domain.model import InputRejected

    with pytest.raises(InputRejected) as err:
        run({"evaluation_date": "2025-01-01", "patient": {"age": 64}, "surgery": {"age": 65}})
    assert err.value.contradiction and err.value.problems[0].field == "surgery.age"
