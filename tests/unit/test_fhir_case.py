"""FHIR R4 resources -> the facts of a case (infra/fhir_case.py): units converted, the most recent valid
observation chosen by the documented rule, and every observation set aside said with why."""

import datetime as dt

import pytest

from infra import fhir_case
from tests import fhir_fixtures as f

TODAY = dt.date.today()


def facts(**kw):
    return fhir_case.read(f.prefetch(**kw), TODAY)


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (1.2, "mg/dL", {"value": 1.2, "unit": "mg_dl"}),
    (106, "umol/L", {"value": 106, "unit": "umol_l"}),
    (0.106, "mmol/L", {"value": 106.0, "unit": "umol_l"}),
    (12, "mg/L", {"value": 1.2, "unit": "mg_dl"}),
])
def test_a_creatinine_is_read_in_its_ucum_unit(value, unit, expected):
    assert facts(observations=(f.creatinine(value, unit),)).value("creatinine") == expected


def test_the_most_recent_valid_creatinine_wins_and_each_set_aside_says_why():
    found = facts(observations=(
        f.creatinine(1.0, days=20), f.creatinine(3.0, days=2, status="preliminary"),
        f.creatinine(2.0, days=5), f.creatinine(9.0, "g/dL", days=1), f.creatinine(0.01, days=1),
        f.creatinine(1.5, days=-2), f.creatinine(1.1, days=200)))
    assert found.value("creatinine") == {"value": 2.0, "unit": "mg_dl"}
    reasons = sorted(s.why for s in found.set_aside if s.fact == "creatinine")
    assert len(reasons) == 5
    assert any("preliminary" in r for r in reasons) and any("g/dL" in r for r in reasons)
    assert any("out of range" in r for r in reasons) and "dated after the evaluation" in reasons
    assert "older than 90 days" in reasons


def test_weight_in_pounds_is_converted_and_performance_status_is_read():
    found = facts(observations=(f.weight(154, "[lb_av]"), f.karnofsky(60), f.ecog(2)))
    assert found.value("weight_kg") == 69.9 and found.value("karnofsky") == 60 and found.value("ecog") == 2


def test_a_karnofsky_off_the_scale_or_too_old_is_not_used():
    found = facts(observations=(f.karnofsky(65), f.karnofsky(80, days=45)))
    assert found.value("karnofsky") is None
    assert {s.why for s in found.set_aside} == {"no value on the scale", "older than 30 days"}


def test_age_and_sex_come_from_the_patient_and_an_ambiguous_gender_is_not_guessed():
    born = TODAY.replace(year=TODAY.year - 70)
    assert facts(patient_resource=f.patient(born.isoformat())).value("age") == 70
    assert facts(patient_resource=f.patient(gender="other")).value("sex") is None


def test_g_csf_and_inhibitor_history_reach_the_case():
    found = facts(medications=(f.medication("L03AA13", "pegfilgrastim", days=4),
                               f.medication("L03AA13", "pegfilgrastim", days=30),
                               f.medication("M05BX04", "denosumab", days=61),
                               f.medication("M05BX04", "denosumab", days=3, status="entered-in-error")))
    case = fhir_case.case_of(found, TODAY)
    assert case["imaging"]["last_gcsf_date"] == f.days_ago(4)
    assert case["antiresorptive"]["denosumab_months"] == case["antiresorptive"]["months_on_treatment"] == 2.0


def test_conditions_say_whether_a_bone_metastasis_and_a_lung_cancer_are_recorded():
    found = facts(conditions=(f.condition(*f.BONE_METASTASIS), f.condition(*f.LUNG_CANCER)))
    assert (found.bone_metastasis, found.lung_cancer) == (True, True)
    assert facts().bone_metastasis is None  # nothing recorded: unknown, not "no"


def test_findings_only_a_clinician_holds_are_merged_with_the_ehr_facts():
    found = facts(observations=(f.karnofsky(70),))
    case = fhir_case.case_of(found, TODAY, {"patient": {"life_expectancy_months": 8}, "lesions": []})
    assert case["patient"] == {"age": found.value("age"), "sex": "male", "karnofsky": 70,
                               "life_expectancy_months": 8}


def test_a_boolean_value_a_birth_date_that_is_not_one_and_an_undated_g_csf_are_each_said_not_used():
    """`true` is not 1 mg/dL; a birthDate of 12345 is no age; a G-CSF without authoredOn cannot be placed in time,
    but is said (it may forbid a PET): none is silently dropped or misread (issue 13 review)."""
    sick, gcsf, patient = f.creatinine(1.0), f.medication("L03AA13", "pegfilgrastim", days=5), f.patient("1955-01-15")
    data = f.prefetch(patient_resource=patient, observations=(sick,), medications=(gcsf,))  # valid FHIR, then spoilt
    sick["valueQuantity"]["value"] = True
    del gcsf["authoredOn"]
    patient["birthDate"] = 12345
    found = fhir_case.read(data, TODAY)
    assert found.value("creatinine") is None and found.value("age") is None and found.value("last_gcsf_date") is None
    why = {s.fact: s.why for s in found.set_aside}
    assert why == {"creatinine": "no numeric value", "age": "birthDate is not a date",
                   "last_gcsf_date": "no date (authoredOn)"}
