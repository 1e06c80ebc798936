"""Cockcroft–Gault and the zoledronic acid label dose (clinical-rules.md AR-2 and section 3)."""

import msgspec
import pytest

from domain.pathways import antiresorptive as ar


def dose_for(creatinine, unit="mg_dl", sex="male", age=68, weight=60):
    inputs = msgspec.convert({"life_expectancy_months": 6, "age": age, "sex": sex, "weight_kg": weight,
                              "creatinine": {"value": creatinine, "unit": unit}, "urgent": True}, ar.Inputs)
    rec = next(r for r in ar.evaluate(inputs).recommendations if r.rule_id == "AR-2")
    return rec.action, rec.values["dose_mg"], rec.values["creatinine_clearance_ml_min"]


def test_formula_for_a_man_and_a_woman():
    # (140 - 70) × 70 / (72 × 1.0) = 68.06 mL/min; × 0.85 for a woman = 57.85
    assert ar.cockcroft_gault(70, ar.Sex.MALE, 70, 1.0) == pytest.approx(68.0556, abs=1e-4)
    assert ar.cockcroft_gault(70, ar.Sex.FEMALE, 70, 1.0) == pytest.approx(57.8472, abs=1e-4)


def test_micromoles_are_divided_by_88_4():
    assert dose_for(88.4, "umol_l")[2] == dose_for(1.0, "mg_dl")[2] == 60.0


# age 68, 60 kg, a man: clearance = 60 / creatinine (mg/dL) exactly
@pytest.mark.parametrize(("creatinine", "action", "dose"), [
    (0.99, "zoledronic_acid", 4.0),   # 60.6 > 60
    (1.0, "zoledronic_acid", 3.5),    # 60 exactly: 50-60
    (1.2, "zoledronic_acid", 3.5),    # 50 exactly: 50-60
    (1.21, "zoledronic_acid", 3.3),   # 49.6: 40-49
    (1.5, "zoledronic_acid", 3.3),    # 40 exactly: 40-49
    (1.51, "zoledronic_acid", 3.0),   # 39.7: 30-39
    (2.0, "zoledronic_acid", 3.0),    # 30 exactly: 30-39
    (2.01, "zoledronic_acid_not_given", None),  # 29.85: < 30
])
def test_label_bands_on_both_sides_of_60_50_40_30_in_mg_dl(creatinine, action, dose):
    assert dose_for(creatinine)[:2] == (action, dose)


@pytest.mark.parametrize(("umol", "dose"), [
    (87.5, 4.0), (89.0, 3.5), (106.0, 3.5), (107.0, 3.3), (132.0, 3.3), (134.0, 3.0), (176.0, 3.0), (178.0, None)])
def test_label_bands_on_both_sides_in_micromoles(umol, dose):
    # 60 / (µmol / 88.4): 87.5 -> 60.6, 89 -> 59.6, 106 -> 50.04, 107 -> 49.6, 132 -> 40.2, 134 -> 39.6,
    # 176 -> 30.1, 178 -> 29.8
    assert dose_for(umol, "umol_l")[1] == dose


@pytest.mark.parametrize(("weight", "dose"), [(70.6, 4.0), (70.5, 3.5), (58.9, 3.5), (58.8, 3.3), (47.1, 3.3),
                                              (47.0, 3.0), (35.3, 3.0), (35.2, None)])
def test_label_bands_for_a_woman(weight, dose):
    # a woman of 68, creatinine 1.0: clearance = 0.85 × weight; 70.6 -> 60.01, 70.5 -> 59.93, 58.9 -> 50.07,
    # 58.8 -> 49.98, 47.1 -> 40.04, 47.0 -> 39.95, 35.3 -> 30.01, 35.2 -> 29.92
    cl = 0.85 * weight
    expected = 4.0 if cl > 60 else 3.5 if cl >= 50 else 3.3 if cl >= 40 else 3.0 if cl >= 30 else None
    assert dose_for(1.0, sex="female", weight=weight)[1] == expected == dose


def test_under_30_proposes_denosumab_and_never_zoledronic_acid():
    inputs = msgspec.convert({"life_expectancy_months": 6, "age": 80, "sex": "female", "weight_kg": 45,
                              "creatinine": {"value": 150, "unit": "umol_l"}, "urgent": True}, ar.Inputs)
    actions = [(r.rule_id, r.action) for r in ar.evaluate(inputs).recommendations]
    assert ("AR-2", "zoledronic_acid") not in actions
    assert ("AR-2", "zoledronic_acid_not_given") in actions and ("AR-3", "denosumab") in actions


@pytest.mark.parametrize(("value", "unit"), [(5e-324, "umol_l"), (0.19, "mg_dl"), (20.01, "mg_dl"), (17.6, "umol_l"),
                                             (1769, "umol_l"), (10, "umol_l")])
def test_an_implausible_creatinine_is_rejected_with_the_allowed_range(value, unit):
    """SAFE-4: outside 0.2-20 mg/dL (17.7-1768 umol/L) -> 400 naming the field, asking to check the unit; 10 umol/L
    (a 10 mg/dL value in the wrong unit) is one of them."""
    from domain.model import InputRejected
    from domain.validation import convert

    with pytest.raises(InputRejected) as err:
        convert({"life_expectancy_months": 6, "creatinine": {"value": value, "unit": unit}}, ar.Inputs)
    (problem,) = err.value.problems
    assert problem.field == "creatinine" and "0.2-20.0 mg/dL (17.7-1768 umol/L)" in problem.message
    assert "check the unit" in problem.message


@pytest.mark.parametrize(("value", "unit"), [(0.2, "mg_dl"), (20, "mg_dl"), (17.7, "umol_l"), (1768, "umol_l")])
def test_a_creatinine_on_the_plausible_bounds_is_accepted(value, unit):
    assert msgspec.convert({"creatinine": {"value": value, "unit": unit}}, ar.Inputs).creatinine.value == value


def test_a_low_creatinine_warns_that_the_clearance_is_overestimated_and_a_high_clearance_is_flagged():
    """SAFE-4: creatinine under 0.4 mg/dL -> low_creatinine_overestimates_clearance; clearance > 150 ->
    implausible_clearance. At 0.4 itself, no low-creatinine warning."""
    def warnings(creatinine, weight=60):
        inputs = msgspec.convert({"life_expectancy_months": 6, "age": 68, "sex": "male", "weight_kg": weight,
                                  "creatinine": {"value": creatinine, "unit": "mg_dl"}, "urgent": True}, ar.Inputs)
        return {w.code for w in ar.evaluate(inputs).warnings}

    assert "low_creatinine_overestimates_clearance" in warnings(0.39)
    assert "low_creatinine_overestimates_clearance" not in warnings(0.4)
    assert "implausible_clearance" in warnings(0.39)  # 60 / 0.39 = 153.8 mL/min
    assert "implausible_clearance" not in warnings(0.4)  # 150 exactly: not above 150
    assert "implausible_clearance" in warnings(1.0, weight=151)  # 151 mL/min
