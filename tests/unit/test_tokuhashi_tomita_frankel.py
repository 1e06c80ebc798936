"""Revised Tokuhashi (1.4; Tokuhashi 2005 table 1), Tomita (1.5; Tomita 2001 fig. 1), Frankel (1.6)."""

import msgspec
import pytest

from domain.model import InputRejected
from domain.scores import frankel, tokuhashi, tomita
from domain.validation import decode


def toku(**fields):
    return tokuhashi.compute(decode(msgspec.json.encode(fields), tokuhashi.Inputs))


def tom(**fields):
    return tomita.compute(decode(msgspec.json.encode(fields), tomita.Inputs))


LUNG = {"karnofsky": 70, "extraspinal_bone_metastases": 2, "vertebral_body_metastases": 1,
        "visceral_metastases": "none", "primary": "lung", "frankel": "E"}


def test_golden_typical_lung_patient_scores_8_conservative():
    # Tokuhashi 2005: KPS 70 → 1, 2 extraspinal → 1, 1 vertebra → 2, no visceral → 2, lung 0, Frankel E 2
    r = toku(**LUNG)
    assert (r.total, r.band, r.recommendation.rule_id, r.recommendation.action) == (
        8, "under_6_months", "SURG-4", "conservative_treatment")


@pytest.mark.parametrize(
    ("changes", "total", "band", "action"),
    [
        ({}, 8, "under_6_months", "conservative_treatment"),
        ({"karnofsky": 80}, 9, "over_6_months", "palliative_surgery"),
        ({"karnofsky": 80, "primary": "kidney", "frankel": "D"}, 11, "over_6_months", "palliative_surgery"),
        ({"karnofsky": 80, "primary": "kidney"}, 12, "over_12_months", "excisional_surgery"),
        ({"karnofsky": 100, "extraspinal_bone_metastases": 0, "primary": "breast"}, 15, "over_12_months",
         "excisional_surgery"),
        ({"karnofsky": 10, "extraspinal_bone_metastases": 3, "vertebral_body_metastases": 3,
          "visceral_metastases": "unremovable", "frankel": "A"}, 0, "under_6_months", "conservative_treatment"),
    ],
)
def test_tokuhashi_band_boundaries_on_both_sides(changes, total, band, action):
    r = toku(**{**LUNG, **changes})
    assert (r.total, r.band, r.recommendation.action) == (total, band, action)


@pytest.mark.parametrize(("kps", "points"), [(10, 0), (40, 0), (50, 1), (70, 1), (80, 2), (100, 2)])
def test_karnofsky_bands(kps, points):
    assert toku(**{**LUNG, "karnofsky": kps}).items[0].points == points


@pytest.mark.parametrize(("count", "points"), [(0, 2), (1, 1), (2, 1), (3, 0), (40, 0)])
def test_extraspinal_bone_foci_three_or_more_score_0(count, points):
    assert toku(**{**LUNG, "extraspinal_bone_metastases": count}).items[1].points == points


@pytest.mark.parametrize(("count", "points"), [(1, 2), (2, 1), (3, 0), (12, 0)])
def test_vertebral_body_metastases(count, points):
    assert toku(**{**LUNG, "vertebral_body_metastases": count}).items[2].points == points


@pytest.mark.parametrize(("grade", "points"), [("A", 0), ("B", 0), ("C", 1), ("D", 1), ("E", 2)])
def test_frankel_grade_feeds_tokuhashi_palsy_item(grade, points):
    assert toku(**{**LUNG, "frankel": grade}).items[5].points == points


@pytest.mark.parametrize(("kps", "allowed_has"), [(75, 70), (0, 10), (110, 100)])
def test_karnofsky_off_the_scale_is_rejected_with_the_allowed_steps(kps, allowed_has):
    with pytest.raises(InputRejected) as err:
        toku(**{**LUNG, "karnofsky": kps})
    assert allowed_has in err.value.problems[0].allowed


def test_the_sixth_item_vertebral_body_metastases_is_required():
    fields = dict(LUNG)
    del fields["vertebral_body_metastases"]
    with pytest.raises(InputRejected) as err:
        toku(**fields)
    assert err.value.problems[0].field == "vertebral_body_metastases"


def test_zero_vertebral_body_metastases_is_rejected():
    with pytest.raises(InputRejected):
        toku(**{**LUNG, "vertebral_body_metastases": 0})


@pytest.mark.parametrize(
    ("fields", "total", "band"),
    [
        ({"growth": "slow", "visceral_metastases": "none", "bone_metastases": "solitary"}, 2, "en_bloc_resection"),
        ({"growth": "moderate", "visceral_metastases": "none", "bone_metastases": "solitary"}, 3,
         "en_bloc_resection"),
        ({"growth": "moderate", "visceral_metastases": "none", "bone_metastases": "multiple"}, 4,
         "intralesional_resection"),
        ({"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "solitary"}, 5,
         "intralesional_resection"),
        ({"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}, 6, "palliative_surgery"),
        ({"growth": "rapid", "visceral_metastases": "treatable", "bone_metastases": "solitary"}, 7,
         "palliative_surgery"),
        ({"growth": "rapid", "visceral_metastases": "treatable", "bone_metastases": "multiple"}, 8,
         "supportive_care"),
        ({"growth": "rapid", "visceral_metastases": "untreatable", "bone_metastases": "multiple"}, 10,
         "supportive_care"),
    ],
)
def test_tomita_every_band_boundary(fields, total, band):
    # Tomita 2001 fig. 1: growth 1/2/4, visceral 0/2/4, bone 1/2; strategies 2-3/4-5/6-7/8-10
    r = tom(**fields)
    assert (r.total, r.band, r.recommendation.rule_id, r.recommendation.action) == (total, band, "SURG-5", band)


def test_tomita_missing_growth_is_an_error_lung_is_not_assumed_rapid():
    with pytest.raises(InputRejected) as err:
        tom(visceral_metastases="none", bone_metastases="solitary")
    assert err.value.problems[0].field == "growth"


@pytest.mark.parametrize(("grade", "deficit", "walks"),
                         [("A", "complete", False), ("B", "complete", False), ("C", "incomplete", False),
                          ("D", "incomplete", True), ("E", "none", True)])
def test_frankel_grades(grade, deficit, walks):
    r = frankel.compute(frankel.Grade(grade), "fr")
    assert (r.deficit, r.walks) == (deficit, walks) and r.description
