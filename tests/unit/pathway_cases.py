"""For every (rule id, action) of clinical-rules.md section 2: a case where it fires and a near miss beside
it, one input away, where it stays silent."""

MIRELS_8 = {"site": "lower_limb", "pain": "moderate", "lesion": "mixed", "size": "one_to_two_thirds"}
MIRELS_7 = {**MIRELS_8, "lesion": "blastic"}
MIRELS_9 = {**MIRELS_8, "lesion": "lytic"}
SINS_7 = {"location": "junctional", "pain": "mechanical", "lesion": "blastic", "alignment": "normal",
          "collapse": "none", "posterolateral": "unilateral"}
SINS_6 = {**SINS_7, "posterolateral": "none"}
RADES_28 = {"primary": "nsclc", "interval_months": 3, "visceral_metastases": True, "motor_function": "not_ambulatory",
            "deficit_onset_days": 20}
RADES_29 = {**RADES_28, "primary": "sclc"}
RADES_37 = {**RADES_28, "interval_months": 16, "motor_function": "ambulatory_without_aid"}
RADES_38 = {**RADES_37, "primary": "sclc"}
TOKU_8 = {"karnofsky": 70, "extraspinal_bone_metastases": 2, "vertebral_body_metastases": 1,
          "visceral_metastases": "none", "primary": "lung", "frankel": "E"}
TOMITA_7 = {"growth": "rapid", "visceral_metastases": "treatable", "bone_metastases": "solitary"}
AR_BASE = {"life_expectancy_months": 6, "age": 68, "sex": "male", "weight_kg": 60,
           "creatinine": {"value": 1.0, "unit": "mg_dl"}, "urgent": False, "dental_assessment_done": False}
SBRT = {"sbrt_sites": 3, "well_delimited": True, "visceral_metastases": False, "disease_stabilised": True,
        "symptomatic_cord_compression": False, "metabolic_radiotherapy": False, "rt_same_site_within_3_months": False,
        "canal_narrowing_percent": 10, "cord_distance_mm": 8, "life_expectancy_months": 12}
IR_NONE = {"pain_poorly_controlled": False, "opioid_intolerance": False, "other_techniques_ineffective": False,
           "stabilisation_instead_of_surgery": False, "preventive_at_risk_zone": False}
IR_CEMENT = {**IR_NONE, "pain_poorly_controlled": True, "weight_bearing_long_bone": False,
             "puncture_site_infection": False, "uncontrolled_sepsis": False, "coagulation_checked": True}
LYTIC_FRACTURE = {"compression_fracture": True, "lesion": "lytic", "posterior_wall_retropulsion": False,
                  "pain_uncontrolled": True, "cord_threat": False, "puncture_site_infection": False,
                  "uncontrolled_sepsis": False}
MSCC_BOX = {"cord_compression": True, "operated": False, "age": 79, "karnofsky": 60, "deficit_hours": 12}
POSTOP = {"surgery_date": "2025-03-01", "operated_site": "long_bone", "skin_healed": True}

# (rule id, action): (pathway, inputs where it fires, near-miss inputs where the rule stays silent)
CASES = {
    ("LB-1", "surgery_then_adjuvant_rt"): ("long-bone", {"pathological_fracture": True},
                                           {"pathological_fracture": False, "mirels": MIRELS_7}),
    ("LB-2", "radiotherapy"): ("long-bone", {"pathological_fracture": False, "mirels": MIRELS_7},
                               {"pathological_fracture": False, "mirels": MIRELS_8}),
    ("LB-3", "rcp_discussion"): ("long-bone", {"pathological_fracture": False, "mirels": MIRELS_8},
                                 {"pathological_fracture": False, "mirels": MIRELS_9}),
    ("LB-4", "prophylactic_surgery"): ("long-bone", {"pathological_fracture": False, "mirels": MIRELS_9},
                                       {"pathological_fracture": False, "mirels": MIRELS_8}),
    ("LB-5", "percutaneous_fixation_option"): ("long-bone", {"pathological_fracture": False, "mirels": MIRELS_8},
                                               {"pathological_fracture": False, "mirels": MIRELS_7}),
    ("LB-5", "percutaneous_fixation_option_without_cementoplasty"): (
        "long-bone", {"pathological_fracture": False, "mirels": MIRELS_8, "uncontrolled_sepsis": True},
        {"pathological_fracture": False, "mirels": MIRELS_8, "uncontrolled_sepsis": False}),
    ("LB-5", "percutaneous_screw_fixation"): (
        "long-bone", {"pathological_fracture": True, "location": "trochanteric", "lesion": "lytic"},
        {"pathological_fracture": True, "location": "femoral_shaft", "lesion": "lytic"}),
    ("SP-1", "whole_spine_mri"): ("spine", {"vertebral_involvement": True}, {"vertebral_involvement": False}),
    ("SP-2", "cementoplasty"): ("spine", LYTIC_FRACTURE, {**LYTIC_FRACTURE, "posterior_wall_retropulsion": True}),
    ("SP-2", "cementoplasty_contraindicated"): ("spine", {**LYTIC_FRACTURE, "cord_threat": True}, LYTIC_FRACTURE),
    ("SP-2", "cementoplasty_not_indicated"): ("spine", {**LYTIC_FRACTURE, "pain_uncontrolled": False},
                                              LYTIC_FRACTURE),
    ("SP-2", "radiotherapy"): ("spine", {"compression_fracture": True, "lesion": "mixed"},
                               {"compression_fracture": False, "lesion": "mixed"}),
    ("SP-3", "surgical_opinion"): ("spine", {"sins": SINS_7, "cord_threat": False},
                                   {"sins": SINS_6, "cord_threat": False}),
    ("SP-4", "radiotherapy"): ("spine", {"sins": SINS_6, "cord_threat": False}, {"sins": SINS_6, "cord_threat": True}),
    ("MSCC-1", "emergency_radiotherapy"): ("cord-compression", {"cord_compression": True, "operated": False},
                                           {"cord_compression": False, "operated": False}),
    ("MSCC-1", "exclusive_emergency_radiotherapy"): ("cord-compression", {**MSCC_BOX, "age": 81}, MSCC_BOX),
    ("MSCC-1", "surgery_then_adjuvant_radiotherapy"): ("cord-compression", MSCC_BOX, {**MSCC_BOX, "age": 81}),
    ("MSCC-1", "adjuvant_radiotherapy"): ("cord-compression", {"cord_compression": True, "operated": True},
                                          {"cord_compression": False, "operated": True}),
    ("MSCC-2", "rt_8gy_1fr"): ("cord-compression", {"cord_compression": True, "rades": RADES_28},
                               {"cord_compression": True, "rades": RADES_29}),
    ("MSCC-3", "rt_20gy_5fr_or_30gy_10fr_with_or_without_surgery"): (
        "cord-compression", {"cord_compression": True, "rades": RADES_37},
        {"cord_compression": True, "rades": RADES_38}),
    ("MSCC-4", "rt_20gy_5fr_or_30gy_10fr"): ("cord-compression", {"cord_compression": True, "rades": RADES_38},
                                             {"cord_compression": True, "rades": RADES_37}),
    ("MSCC-5", "surgery_favoured"): (
        "cord-compression", {"cord_compression": True, "age": 79, "karnofsky": 60, "deficit_hours": 12},
        {"cord_compression": True, "operated": True, "age": 79, "karnofsky": 60, "deficit_hours": 12}),
    ("MSCC-5", "exclusive_radiotherapy"): (
        "cord-compression", {"cord_compression": True, "age": 81, "karnofsky": 60, "deficit_hours": 12},
        {"cord_compression": False, "age": 81, "karnofsky": 60, "deficit_hours": 12}),
    ("MSCC-5", "rcp_discussion"): (
        "cord-compression", {"cord_compression": True, "age": 79, "karnofsky": 50, "deficit_hours": 12},
        {"cord_compression": True, "operated": True, "age": 79, "karnofsky": 50, "deficit_hours": 12}),
    ("SURG-1", "no_surgery"): ("surgery", {"life_expectancy_weeks": 5.9}, {"life_expectancy_weeks": 6}),
    ("SURG-1", "radiotherapy_instead_of_surgery"): (
        "long-bone", {"pathological_fracture": True, "life_expectancy_weeks": 5.9},
        {"pathological_fracture": True, "life_expectancy_weeks": 6}),
    ("SURG-1", "radiotherapy_instead_of_surgery_cord_compression"): (
        "spine", {"cord_compression": True, "life_expectancy_weeks": 5.9},
        {"cord_compression": True, "life_expectancy_weeks": 6}),
    ("SURG-2", "stabilisation"): ("surgery", {"life_expectancy_weeks": 6}, {"life_expectancy_weeks": 5.9}),
    ("SURG-3", "resection_reconstruction"): ("surgery", {"life_expectancy_months": 12.1},
                                             {"life_expectancy_months": 12}),
    # the score-band rules: the near miss is the neighbouring band, one point away
    ("SURG-4", "conservative_treatment"): ("surgery", {"tokuhashi": TOKU_8},
                                           {"tokuhashi": {**TOKU_8, "karnofsky": 80}}),
    ("SURG-4", "palliative_surgery"): ("surgery", {"tokuhashi": {**TOKU_8, "karnofsky": 80}},
                                       {"tokuhashi": TOKU_8}),
    ("SURG-4", "excisional_surgery"): ("surgery", {"tokuhashi": {**TOKU_8, "karnofsky": 80, "primary": "kidney"}},
                                       {"tokuhashi": {**TOKU_8, "karnofsky": 80, "primary": "kidney",
                                                      "frankel": "D"}}),
    ("SURG-5", "en_bloc_resection"): (
        "surgery", {"tomita": {"growth": "moderate", "visceral_metastases": "none", "bone_metastases": "solitary"}},
        {"tomita": {"growth": "moderate", "visceral_metastases": "none", "bone_metastases": "multiple"}}),
    ("SURG-5", "intralesional_resection"): (
        "surgery", {"tomita": {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "solitary"}},
        {"tomita": {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}}),
    ("SURG-5", "palliative_surgery"): ("surgery", {"tomita": TOMITA_7},
                                       {"tomita": {**TOMITA_7, "bone_metastases": "multiple"}}),
    ("SURG-5", "supportive_care"): ("surgery", {"tomita": {**TOMITA_7, "bone_metastases": "multiple"}},
                                    {"tomita": TOMITA_7}),
    ("SURG-6", "favourable_functional_prognosis"): ("surgery", {"age": 69}, {"age": 70}),
    ("SYS-1", "systemic_antiresorptive"): ("systemic", {"bone_metastases": 2}, {"bone_metastases": 1}),
    ("SYS-2", "local_treatment_options"): ("systemic", {"metastatic_sites": 2}, {"metastatic_sites": 3}),
    ("AR-1", "start_antiresorptive"): ("antiresorptive", {"life_expectancy_months": 3.1, "urgent": True},
                                       {"life_expectancy_months": 3, "urgent": True}),
    ("AR-1", "start_after_dental_assessment"): (
        "antiresorptive", {"life_expectancy_months": 4, "urgent": False, "dental_assessment_done": False},
        {"life_expectancy_months": 4, "urgent": False, "dental_assessment_done": True}),
    ("AR-1", "antiresorptive_not_indicated"): ("antiresorptive", {"life_expectancy_months": 3},
                                               {"life_expectancy_months": 3.1, "urgent": True}),
    ("AR-2", "zoledronic_acid"): ("antiresorptive", AR_BASE, {**AR_BASE, "life_expectancy_months": 3}),
    ("AR-2", "zoledronic_acid_not_given"): (
        "antiresorptive", {**AR_BASE, "creatinine": {"value": 2.01, "unit": "mg_dl"}},
        {**AR_BASE, "creatinine": {"value": 2.01, "unit": "mg_dl"}, "life_expectancy_weeks": None,
         "life_expectancy_months": 2}),
    ("AR-2", "renal_dosing_information"): ("antiresorptive", {**AR_BASE, "life_expectancy_months": 3}, AR_BASE),
    ("AR-2", "renal_dosing_information_under_30"): (
        "antiresorptive", {**AR_BASE, "creatinine": {"value": 2.01, "unit": "mg_dl"}, "life_expectancy_months": 3},
        {**AR_BASE, "creatinine": {"value": 2.01, "unit": "mg_dl"}}),
    ("AR-2", "zoledronic_acid_not_dosed"): (
        "antiresorptive", {**AR_BASE, "creatinine": {"value": 0.39, "unit": "mg_dl"}},  # 153.8 mL/min
        {**AR_BASE, "creatinine": {"value": 0.4, "unit": "mg_dl"}}),                    # 150 mL/min
    ("AR-2", "withhold_zoledronic_acid"): (
        "antiresorptive", {"creatinine": {"value": 1.5, "unit": "mg_dl"},
                           "baseline_creatinine": {"value": 1.0, "unit": "mg_dl"}},
        {"creatinine": {"value": 1.49, "unit": "mg_dl"}, "baseline_creatinine": {"value": 1.0, "unit": "mg_dl"}}),
    ("AR-2", "resume_zoledronic_acid"): (
        "antiresorptive", {"creatinine": {"value": 1.1, "unit": "mg_dl"}, "zoledronic_withheld": True,
                           "baseline_creatinine": {"value": 1.0, "unit": "mg_dl"}},
        {"creatinine": {"value": 1.11, "unit": "mg_dl"}, "zoledronic_withheld": True,
         "baseline_creatinine": {"value": 1.0, "unit": "mg_dl"}}),
    ("AR-3", "denosumab"): ("antiresorptive", {"life_expectancy_months": 4, "urgent": True},
                            {"life_expectancy_months": 3, "urgent": True}),
    ("AR-4", "pretreatment_checklist"): (
        "antiresorptive", {"life_expectancy_months": 4, "urgent": False, "dental_assessment_done": False},
        {"life_expectancy_months": 4, "urgent": True}),
    ("AR-5", "continue_treatment"): ("antiresorptive", {"months_on_treatment": 23.9},
                                     {"months_on_treatment": 24, "prolonged_bone_remission": True}),
    ("AR-6", "bisphosphonate_relay"): ("antiresorptive", {"stopping_denosumab": True, "denosumab_months": 6.5},
                                       {"stopping_denosumab": True, "denosumab_months": 6}),
    ("AR-6", "relay_needs_specialist_opinion"): (
        "antiresorptive", {**AR_BASE, "stopping_denosumab": True, "denosumab_months": 12, "dialysis": True},
        {**AR_BASE, "stopping_denosumab": True, "denosumab_months": 12, "dialysis": False}),
    ("AR-7", "discuss_stopping"): ("antiresorptive", {"months_on_treatment": 24, "prolonged_bone_remission": True},
                                   {"months_on_treatment": 23.9, "prolonged_bone_remission": True}),
    ("RT-1", "palliative_radiotherapy"): (
        "radiotherapy", {"painful": True, "analgesic_resistant": True, "ir_accessible": False},
        {"painful": True, "analgesic_resistant": True, "ir_accessible": True}),
    ("RT-2", "postoperative_radiotherapy"): ("radiotherapy", {**POSTOP, "evaluation_date": "2025-03-16"},
                                             {**POSTOP, "evaluation_date": "2025-03-16", "skin_healed": False}),
    ("RT-2", "postoperative_radiotherapy_wait"): ("radiotherapy", {**POSTOP, "evaluation_date": "2025-03-15"},
                                                  {**POSTOP, "evaluation_date": "2025-03-16"}),
    ("RT-3", "rt_whole_operated_bone"): ("radiotherapy", POSTOP, {**POSTOP, "operated_site": "spine"}),
    ("RT-3", "rt_surgical_bed"): ("radiotherapy", {**POSTOP, "operated_site": "spine"}, POSTOP),
    ("RT-4", "sbrt_candidate"): ("radiotherapy", SBRT, {**SBRT, "sbrt_sites": 4}),
    ("RT-4", "not_eligible_sbrt"): ("radiotherapy", {**SBRT, "cord_distance_mm": 4.9}, SBRT),
    ("IR-1", "cementoplasty"): ("interventional", IR_CEMENT, {**IR_CEMENT, "pain_poorly_controlled": False}),
    ("IR-1", "cementoplasty_contraindicated"): ("interventional", {**IR_CEMENT, "uncontrolled_sepsis": True},
                                                IR_CEMENT),
    ("IR-1", "cementoplasty_not_indicated"): ("interventional", {**IR_CEMENT, "pain_poorly_controlled": False},
                                              IR_CEMENT),
    ("IR-2", "percutaneous_ablation_preferred"): (
        "interventional", {"very_large_lesion": False, "mostly_soft_tissue": True},
        {"very_large_lesion": False, "mostly_soft_tissue": False}),
    ("IR-3", "thermal_ablation"): (
        "interventional", {"oligometastatic": True, "inflammatory_pain": False, "pain_score": 4.5},
        {"oligometastatic": True, "inflammatory_pain": False, "pain_score": 4}),
    ("IR-3", "not_eligible_ablation"): (
        "interventional", {"oligometastatic": True, "inflammatory_pain": False, "pain_score": 4},
        {"oligometastatic": True, "inflammatory_pain": False, "pain_score": 4.5}),
    ("IMG-1", "progression"): ("imaging", {"ct_change": "more_osteolysis"}, {"ct_change": "less_soft_tissue"}),
    ("IMG-1", "response"): ("imaging", {"ct_change": "sclerosis_in_lytic_zone"},
                            {"ct_change": "sclerosis_in_normal_zone"}),
    ("IMG-1", "cannot_conclude"): ("imaging", {"ct_change": "sclerosis_in_normal_zone"},
                                   {"ct_change": "sclerosis_in_lytic_zone"}),
    ("IMG-2", "postpone_pet"): ("imaging", {"last_gcsf_date": "2025-01-01", "planned_pet_date": "2025-01-15"},
                                {"last_gcsf_date": "2025-01-01", "planned_pet_date": "2025-01-16"}),
    ("IMG-2", "interpret_uptake_with_caution"): ("imaging", {"on_immunotherapy_or_bisphosphonate": True},
                                                 {"on_immunotherapy_or_bisphosphonate": False}),
    ("IMG-3", "no_pet_at_initial_workup"): ("imaging", {"initial_workup": True, "known_metastatic": True},
                                            {"initial_workup": True, "known_metastatic": False}),
    ("IMG-4", "targeted_mri_and_specialist_opinion"): ("imaging", {"single_bone_lesion": True},
                                                       {"single_bone_lesion": False}),
    ("IMG-5", "bone_scan_optional"): ("imaging", {"bone_scan_considered": True, "pet_done": False},
                                      {"bone_scan_considered": False, "pet_done": False}),
    ("IMG-5", "bone_scan_not_indicated"): ("imaging", {"bone_scan_considered": True, "pet_done": True},
                                           {"bone_scan_considered": True, "pet_done": False}),
    ("IMG-6", "flare_not_progression"): (
        "imaging", {"more_uptake_or_new_foci": True, "effective_treatment_start": "2025-01-10",
                    "evaluation_date": "2025-07-10"},
        {"more_uptake_or_new_foci": True, "effective_treatment_start": "2025-01-10", "evaluation_date": "2025-07-11"}),
    ("IMG-6", "progression"): (
        "imaging", {"more_uptake_or_new_foci": True, "effective_treatment_start": "2025-01-10",
                    "evaluation_date": "2025-07-11"},
        {"more_uptake_or_new_foci": True, "effective_treatment_start": "2025-01-10", "evaluation_date": "2025-07-10"}),
    ("IMG-7", "no_routine_bone_scan"): ("imaging", {"follow_up": True, "new_bone_pain": False},
                                        {"follow_up": True, "new_bone_pain": True}),
    ("IMG-8", "edta_decalcification"): ("imaging", {"biopsy_for_molecular_testing": True},
                                        {"biopsy_for_molecular_testing": False}),
    ("TRIAL-1", "consider_trial_inclusion"): ("trials", {"evaluation_date": "2022-05-30"},
                                              {"evaluation_date": "2022-05-31"}),
    ("TRIAL-2", "consider_trial_inclusion"): ("trials", {"evaluation_date": "2026-01-24", "bone_metastases": 3},
                                              {"evaluation_date": "2026-01-25", "bone_metastases": 3}),
    ("TRIAL-3", "consider_trial_inclusion"): ("trials", {"evaluation_date": "2015-12-01"},
                                              {"evaluation_date": "2015-11-30"}),
}

# Actions that only ever appear withheld (SAFE-2): (pathway, inputs where a safety rule withholds it, by).
WITHHELD_CASES = {
    ("SP-2", "cementoplasty_of_the_fracture"): ("spine", {**LYTIC_FRACTURE, "posterior_wall_retropulsion": True},
                                                "SAFE-2"),
    ("LB-5", "cementoplasty_adjunct"): ("long-bone", {"pathological_fracture": False, "mirels": MIRELS_8,
                                                      "puncture_site_infection": True}, "SAFE-2"),
}
