"""Rades (clinical-rules.md 1.3; Rades 2008 table 2, groups of Rades 2011)."""

import msgspec
import pytest

from domain.model import InputRejected
from domain.scores import rades
from domain.validation import decode


def score(**fields):
    return rades.compute(decode(msgspec.json.encode(fields), rades.Inputs))


WORST = {"primary": "nsclc", "interval_months": 3, "visceral_metastases": True, "motor_function": "paraplegic",
         "deficit_onset_days": 2}


def test_golden_minimum_21_is_group_1_single_fraction():
    # Rades 2008: NSCLC 5 + ≤ 15 months 6 + visceral 5 + paraplegic 1 + 1-7 days 4 = 21
    r = score(**WORST)
    assert (r.total, r.band, r.recommendation.rule_id, r.recommendation.action) == (
        21, "group_1", "MSCC-2", "rt_8gy_1fr")


def test_golden_maximum_44_is_group_3():
    r = score(primary="myeloma_lymphoma", interval_months=40, visceral_metastases=False,
              motor_function="ambulatory_without_aid", deficit_onset_days=30)
    assert (r.total, r.band, r.recommendation.rule_id, r.recommendation.action) == (
        44, "group_3", "MSCC-4", "rt_20gy_5fr_or_30gy_10fr")


@pytest.mark.parametrize(
    ("changes", "total", "band", "rule_id"),
    [
        # 28 | 29: 5 + 6 + 5 + 3 (not ambulatory) + 9 (> 14 days) = 28; breast (8) instead of NSCLC = 31
        ({"motor_function": "not_ambulatory", "deficit_onset_days": 20}, 28, "group_1", "MSCC-2"),
        ({"motor_function": "not_ambulatory", "deficit_onset_days": 20, "primary": "sclc"}, 29, "group_2",
         "MSCC-3"),
        # 37 | 38: 5 + 8 + 5 + 10 + 9 = 37; + visceral none (8 instead of 5) = 40; prostate 7: 39 ...
        ({"interval_months": 16, "motor_function": "ambulatory_without_aid", "deficit_onset_days": 20}, 37,
         "group_2", "MSCC-3"),
        ({"interval_months": 16, "motor_function": "ambulatory_without_aid", "deficit_onset_days": 20,
          "primary": "sclc"}, 38, "group_3", "MSCC-4"),
    ],
)
def test_group_boundaries_on_both_sides(changes, total, band, rule_id):
    r = score(**{**WORST, **changes})
    assert (r.total, r.band, r.recommendation.rule_id) == (total, band, rule_id)


@pytest.mark.parametrize(
    ("months", "points", "warned"), [(0, 6, False), (14.9, 6, False), (15, 6, True), (15.1, 8, False)]
)
def test_interval_15_months_scores_6_with_a_boundary_warning(months, points, warned):
    r = score(**{**WORST, "interval_months": months})
    assert r.items[1].points == points
    assert [w.code for w in r.warnings] == (["boundary_rades_interval_15_months"] if warned else [])


@pytest.mark.parametrize(
    ("days", "points"), [(0.5, 4), (1, 4), (7, 4), (7.5, 7), (8, 7), (14, 7), (14.5, 9), (15, 9), (365, 9)]
)
def test_onset_days_half_open_bands(days, points):
    assert score(**{**WORST, "deficit_onset_days": days}).items[4].points == points


@pytest.mark.parametrize("days", [0, -1])
def test_onset_of_zero_or_fewer_days_is_rejected(days):
    with pytest.raises(InputRejected) as err:
        score(**{**WORST, "deficit_onset_days": days})
    assert err.value.problems[0].field == "deficit_onset_days"
    assert "> 0" in err.value.problems[0].message


def test_primary_table_points():
    expected = {"breast": 8, "prostate": 7, "myeloma_lymphoma": 9, "nsclc": 5, "sclc": 6, "unknown_primary": 5,
                "kidney": 6, "colorectal": 6, "other": 6}
    assert {p: score(**{**WORST, "primary": p}).items[0].points for p in expected} == expected


def test_visceral_must_be_a_boolean():
    with pytest.raises(InputRejected) as err:
        score(**{**WORST, "visceral_metastases": "yes"})
    assert err.value.problems[0].allowed == [True, False]
