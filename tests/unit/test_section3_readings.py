"""Every row of clinical-rules.md section 3 ("where the engine departs from the guideline's text"), tested at
its boundary, with its warning code asserted where the row names one."""

import msgspec
import pytest

from domain.model import InputRejected
from domain.pathways import PATHWAYS
from domain.scores import SCORES
from domain.validation import convert
from tests.spec import section_3_rows
from tests.unit.pathway_cases import AR_BASE, MIRELS_8, SBRT, SINS_7


def score(name, **fields):
    module = SCORES[name]
    return module.compute(convert(fields, module.Inputs))


def path(name, **fields):
    module = PATHWAYS[name]
    return module.evaluate(msgspec.convert(fields, module.Inputs))


def codes(result):
    return [w.code for w in result.warnings]


def acts(result, rule_id=None):
    return [(r.rule_id, r.action) for r in result.recommendations if rule_id in (None, r.rule_id)]


def mirels_range():
    low = score("mirels", site="upper_limb", pain="mild", lesion="blastic", size="under_one_third")
    assert low.total == 4 and SCORES["mirels"].TOTAL_RANGE == (4, 12)


def mirels_on_fracture():
    femur = {**MIRELS_8, "site": "peritrochanteric"}
    r = path("long-bone", pathological_fracture=True, mirels=femur, location="trochanteric")
    assert acts(r)[0] == ("LB-1", "surgery_then_adjuvant_rt") and not r.scores
    assert "mirels_not_for_established_fracture" in codes(r)
    assert ("LB-5", "percutaneous_screw_fixation") not in acts(r)  # mixed lesion: routed by fracture, site, type
    lytic = path("long-bone", pathological_fracture=True, mirels={**femur, "lesion": "lytic"}, location="trochanteric")
    assert ("LB-5", "percutaneous_screw_fixation") in acts(lytic) and not lytic.scores


def tokuhashi_table():
    fields = {"karnofsky": 80, "extraspinal_bone_metastases": 0, "visceral_metastases": "none", "primary": "lung",
              "frankel": "E"}
    with pytest.raises(InputRejected):
        score("tokuhashi", **fields)
    # with its sixth item a lung patient can leave 0-8: 2 + 2 + 2 (one vertebra) + 2 + 0 + 2 = 10
    r = score("tokuhashi", **fields, vertebral_body_metastases=1)
    assert (r.total, r.band, len(r.items)) == (10, "over_6_months", 6)


def tokuhashi_extraspinal():
    base = {"karnofsky": 80, "vertebral_body_metastases": 1, "visceral_metastases": "none", "primary": "lung",
            "frankel": "E"}
    assert score("tokuhashi", **base, extraspinal_bone_metastases=2).items[1].points == 1
    assert score("tokuhashi", **base, extraspinal_bone_metastases=3).items[1].points == 0


def functional_factors_apart():
    toku = {"karnofsky": 50, "extraspinal_bone_metastases": 2, "vertebral_body_metastases": 2,
            "visceral_metastases": "removable", "primary": "lung", "frankel": "E"}  # 1+1+1+1+0+2 = 6
    r = path("surgery", tokuhashi=toku)
    assert r.scores[0].band == "under_6_months"  # the standard band is untouched by "≥ 6"
    surg6 = next(x for x in r.recommendations if x.rule_id == "SURG-6")
    assert surg6.values["factors"]["tokuhashi_at_least_6"] is True
    toku5 = {**toku, "visceral_metastases": "unremovable"}
    assert path("surgery", tokuhashi=toku5).recommendations[-1].rule_id == "SURG-4"  # 5: no SURG-6


def sins_alignment():
    with pytest.raises(InputRejected):
        score("sins", **{**SINS_7, "alignment": "posterior_wall_retropulsion"})
    r = path("spine", compression_fracture=True, lesion="lytic", posterior_wall_retropulsion=True,
             pain_uncontrolled=True, sins=SINS_7, cord_threat=False)
    assert r.scores[0].total == 7 and ("SP-2", "cementoplasty") not in acts(r)


def sins_pain():
    assert score("sins", **SINS_7).items[1].points == 3


def sins_collapse_50():
    base = {k: v for k, v in SINS_7.items() if k != "collapse"}
    assert codes(score("sins", **base, collapse_percent=50)) == ["boundary_collapse_50_percent"]
    assert score("sins", **base, collapse_percent=50).items[4].points == 3
    assert codes(score("sins", **base, collapse_percent=49.9)) == []


def sins_junctional():
    base = {k: v for k, v in SINS_7.items() if k != "location"}
    assert score("sins", **base, level="C0").items[0].value == "junctional"
    assert score("sins", **base, level="C2").items[0].value == "junctional"
    assert score("sins", **base, level="C3").items[0].value == "mobile"


def rades_interval():
    base = {"primary": "nsclc", "visceral_metastases": True, "motor_function": "paraplegic", "deficit_onset_days": 2}
    r = score("rades", **base, interval_months=15)
    assert r.items[1].points == 6 and codes(r) == ["boundary_rades_interval_15_months"]
    assert score("rades", **base, interval_months=15.01).items[1].points == 8


def rades_onset():
    base = {"primary": "nsclc", "visceral_metastases": True, "motor_function": "paraplegic", "interval_months": 3}
    assert [score("rades", **base, deficit_onset_days=d).items[4].points for d in (7, 7.01, 14, 14.01)] == [4, 7, 7, 9]
    with pytest.raises(InputRejected):
        score("rades", **base, deficit_onset_days=0)


def mscc_box():
    def box(age, kps, hours):
        r = path("cord-compression", cord_compression=True, operated=False, age=age, karnofsky=kps,
                 deficit_hours=hours, life_expectancy_months=24)
        return acts(r, "MSCC-5")[0][1], codes(r)
    assert box(79, 60, 23) == ("surgery_favoured", [])
    assert box(80, 60, 23) == ("rcp_discussion", ["boundary_mscc_age_80"])
    assert box(79, 50, 23) == ("rcp_discussion", ["boundary_mscc_karnofsky_50"])
    assert box(79, 60, 24) == ("rcp_discussion", ["boundary_mscc_deficit_24_hours"])
    assert box(79, 40, 23) == ("exclusive_radiotherapy", [])  # Karnofsky in steps of 10 (SAFE-11)
    assert box(80, 60, 25) == ("exclusive_radiotherapy", ["boundary_mscc_age_80"])  # any unfavourable: RT


def zoledronic_under_30():
    r = path("antiresorptive", **{**AR_BASE, "creatinine": {"value": 2.01, "unit": "mg_dl"}})  # 29.85 mL/min
    assert ("AR-2", "zoledronic_acid_not_given") in acts(r) and ("AR-3", "denosumab") in acts(r)
    assert "zoledronic_acid_renal_contraindication" in codes(r)


def clearance_unrounded():
    # (140 - 68) × 60 / (72 × creatinine) = 60 / creatinine; 60 / 1.2195 = 49.2 mL/min -> 3.3 mg, not 3.5
    r = path("antiresorptive", **{**AR_BASE, "creatinine": {"value": 1.2195, "unit": "mg_dl"}})
    ar2 = next(x for x in r.recommendations if x.rule_id == "AR-2")
    assert ar2.values == {"creatinine_clearance_ml_min": 49.2, "dose_mg": 3.3}


def antiresorptive_3_months():
    r = path("antiresorptive", life_expectancy_months=3)
    assert acts(r, "AR-1") == [("AR-1", "antiresorptive_not_indicated")]  # SAFE-8: the "no" is said
    assert codes(r) == ["boundary_life_expectancy_3_months"]
    assert r.recommendations[0].reasons[0].code == "life_expectancy_3_months_or_less"
    started = path("antiresorptive", life_expectancy_months=3.01, urgent=True)
    assert acts(started, "AR-1") == [("AR-1", "start_antiresorptive")]


def surgery_6_weeks_1_year():
    r = path("surgery", life_expectancy_weeks=6)
    assert acts(r, "SURG-2") and codes(r) == ["boundary_life_expectancy_6_weeks"]
    r = path("surgery", life_expectancy_months=12)
    assert acts(r, "SURG-2") and codes(r) == ["boundary_life_expectancy_1_year"]
    assert acts(path("surgery", life_expectancy_months=12.01), "SURG-3")


def postoperative_window():
    def on(day):
        r = path("radiotherapy", surgery_date="2025-03-01", operated_site="long_bone", skin_healed=True,
                 evaluation_date=f"2025-03-{1 + day:02d}")
        return acts(r, "RT-2")[0][1], codes(r)
    assert on(14) == ("postoperative_radiotherapy_wait", [])
    assert on(15) == ("postoperative_radiotherapy", [])
    assert on(21) == ("postoperative_radiotherapy", [])
    assert on(22) == ("postoperative_radiotherapy", ["postop_rt_window_passed"])


def sbrt_instability():
    r = path("radiotherapy", **SBRT, sins_total=13)
    assert acts(r, "RT-4") == [("RT-4", "not_eligible_sbrt")]
    assert "vertebral_instability_sins_13_or_more" in r.recommendations[-1].values["contraindications"]
    r = path("radiotherapy", **SBRT, sins_total=12)
    assert acts(r, "RT-4") == [("RT-4", "sbrt_candidate")] and codes(r) == ["sbrt_sins_potentially_unstable"]
    assert codes(path("radiotherapy", **SBRT, sins_total=6)) == []


def sbrt_recent_rt():
    r = path("radiotherapy", **{**SBRT, "rt_same_site_within_3_months": True})
    assert acts(r, "RT-4") == [("RT-4", "not_eligible_sbrt")]
    r = path("radiotherapy", **SBRT, rt_other_site_within_3_months=True)
    assert acts(r, "RT-4") == [("RT-4", "sbrt_candidate")] and codes(r) == ["sbrt_recent_rt_other_site"]


def sbrt_canal_and_distance():
    r = path("radiotherapy", **{**SBRT, "canal_narrowing_percent": 25, "cord_distance_mm": 5})
    assert acts(r, "RT-4") == [("RT-4", "sbrt_candidate")]
    assert codes(r) == ["boundary_canal_narrowing_25_percent", "boundary_cord_distance_5_mm"]
    r = path("radiotherapy", **{**SBRT, "canal_narrowing_percent": 25.1, "cord_distance_mm": 4.9})
    assert r.recommendations[-1].values["contraindications"] == ["canal_narrowing_over_25_percent",
                                                                 "cord_distance_under_5_mm"]


def pet_after_gcsf():
    def pet(day):
        r = path("imaging", last_gcsf_date="2025-01-01", planned_pet_date=f"2025-01-{1 + day:02d}")
        return acts(r, "IMG-2"), codes(r)
    assert pet(14) == ([("IMG-2", "postpone_pet")], [])
    assert pet(15) == ([], ["boundary_pet_gcsf_day_15"])
    assert pet(16) == ([], [])


def ablation_4():
    def ablate(pain):
        r = path("interventional", oligometastatic=True, inflammatory_pain=False, pain_score=pain)
        return acts(r, "IR-3"), codes(r)
    assert ablate(4) == ([("IR-3", "not_eligible_ablation")], ["boundary_ablation_pain_4"])
    assert ablate(4.1) == ([("IR-3", "thermal_ablation")], [])


def cementoplasty_long_bones():
    r = path("interventional", pain_poorly_controlled=True, weight_bearing_long_bone=True)
    assert acts(r, "IR-1") == [("IR-1", "cementoplasty_not_indicated")]
    assert codes(r) == ["cementoplasty_long_bone_adjunct_only"]
    r = path("long-bone", pathological_fracture=False, mirels=MIRELS_8)
    assert ("LB-5", "percutaneous_fixation_option") in acts(r) and "cementoplasty_long_bone_adjunct_only" in codes(r)


def oligometastatic_definitions():
    assert acts(path("systemic", metastatic_sites=2), "SYS-2")
    assert not acts(path("systemic", metastatic_sites=3), "SYS-2")
    assert acts(path("radiotherapy", **{**SBRT, "sbrt_sites": 3}), "RT-4") == [("RT-4", "sbrt_candidate")]
    assert acts(path("radiotherapy", **{**SBRT, "sbrt_sites": 4}), "RT-4") == [("RT-4", "not_eligible_sbrt")]


ROWS = {
    "Mirels range": mirels_range,
    "Mirels on an established fracture": mirels_on_fracture,
    "Tokuhashi table": tokuhashi_table,
    "Tokuhashi extraspinal": tokuhashi_extraspinal,
    'Tokuhashi ≥ 6 / Tomita ≤ 8 "better functional prognosis"': functional_factors_apart,
    "SINS alignment": sins_alignment,
    "SINS pain": sins_pain,
    "SINS collapse exactly 50 % (when a percentage is given)": sins_collapse_50,
    "SINS junctional": sins_junctional,
    "Rades interval": rades_interval,
    "Rades onset": rades_onset,
    "MSCC surgery box (MSCC-5)": mscc_box,
    "Zoledronic acid < 30 mL/min": zoledronic_under_30,
    "Clearance before dose lookup": clearance_unrounded,
    "Antiresorptive start, life expectancy exactly 3 months": antiresorptive_3_months,
    "Surgery by life expectancy at exactly 6 weeks or 1 year": surgery_6_weeks_1_year,
    "Post-operative RT timing": postoperative_window,
    'SBRT "instabilité vertébrale"': sbrt_instability,
    'SBRT "radiothérapie de moins de 3 mois"': sbrt_recent_rt,
    "SBRT canal narrowing exactly 25 %, distance exactly 5 mm": sbrt_canal_and_distance,
    "PET-FDG after G-CSF": pet_after_gcsf,
    "Ablation pain exactly 4/10": ablation_4,
    "Cementoplasty in weight-bearing long bones": cementoplasty_long_bones,
    "Oligometastatic definitions": oligometastatic_definitions,
}


def test_every_row_of_section_3_has_a_boundary_test():
    assert set(section_3_rows()) - set(ROWS) == set()


@pytest.mark.parametrize("row", list(ROWS), ids=list(ROWS))
def test_section_3_reading(row):
    ROWS[row]()
