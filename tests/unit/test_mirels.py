"""Mirels (clinical-rules.md 1.1; Mirels 1989, table 1)."""

import msgspec
import pytest

from domain.model import InputRejected
from domain.scores import mirels
from domain.validation import decode


def score(**fields):
    return mirels.compute(decode(msgspec.json.encode(fields), mirels.Inputs))


BASE = {"site": "upper_limb", "pain": "mild", "lesion": "blastic"}


def test_golden_peritrochanteric_lytic_functional_pain_over_two_thirds_scores_12_high():
    # Mirels 1989 table 1: peritrochanteric 3 + functional 3 + lytic 3 + > 2/3 3 = 12
    r = score(site="peritrochanteric", pain="functional", lesion="lytic", size="over_two_thirds")
    assert (r.total, r.band, r.recommendation.rule_id, r.recommendation.action) == (
        12, "high", "LB-4", "prophylactic_surgery")
    assert [(i.item, i.value, i.points) for i in r.items] == [
        ("site", "peritrochanteric", 3), ("pain", "functional", 3), ("lesion", "lytic", 3),
        ("size", "over_two_thirds", 3)]


def test_golden_minimum_is_4_not_the_guidelines_3():
    r = score(**BASE, size="under_one_third")
    assert (r.total, r.band, r.recommendation.rule_id) == (4, "low", "LB-2")


@pytest.mark.parametrize(
    ("fields", "total", "band", "rule_id", "action"),
    [
        # 7 | 8 boundary: lower limb 2 + moderate 2 + blastic 1 + 1/3-2/3 2 = 7
        ({"site": "lower_limb", "pain": "moderate", "lesion": "blastic", "size": "one_to_two_thirds"},
         7, "low", "LB-2", "radiotherapy"),
        ({"site": "lower_limb", "pain": "moderate", "lesion": "mixed", "size": "one_to_two_thirds"},
         8, "borderline", "LB-3", "rcp_discussion"),
        # 8 | 9 boundary
        ({"site": "lower_limb", "pain": "moderate", "lesion": "lytic", "size": "one_to_two_thirds"},
         9, "high", "LB-4", "prophylactic_surgery"),
    ],
)
def test_band_boundaries_on_both_sides(fields, total, band, rule_id, action):
    r = score(**fields)
    assert (r.total, r.band, r.recommendation.rule_id, r.recommendation.action) == (total, band, rule_id, action)


@pytest.mark.parametrize(
    ("fraction", "value", "points"),
    [(0.0, "under_one_third", 1), (0.33, "under_one_third", 1), (1 / 3, "one_to_two_thirds", 2),
     (0.5, "one_to_two_thirds", 2), (2 / 3, "one_to_two_thirds", 2), (0.67, "over_two_thirds", 3),
     (1.0, "over_two_thirds", 3)],
)
def test_cortical_fraction_maps_to_thirds_with_both_thirds_inclusive_in_the_middle(fraction, value, points):
    size = score(**BASE, cortical_destruction_fraction=fraction).items[3]
    assert (size.value, size.points, size.derived_from) == (value, points, fraction)


def test_both_size_and_fraction_are_rejected_naming_both():
    with pytest.raises(InputRejected) as err:
        score(**BASE, size="under_one_third", cortical_destruction_fraction=0.2)
    assert not err.value.contradiction
    assert err.value.problems[0].allowed == ["size", "cortical_destruction_fraction"]


def test_neither_size_nor_fraction_is_rejected():
    with pytest.raises(InputRejected, match="neither"):
        score(**BASE)


@pytest.mark.parametrize("fraction", [-0.01, 1.01])
def test_fraction_out_of_range_is_rejected(fraction):
    with pytest.raises(InputRejected) as err:
        score(**BASE, cortical_destruction_fraction=fraction)
    assert err.value.problems[0].field == "cortical_destruction_fraction"


def test_unknown_value_is_rejected_with_the_allowed_values():
    with pytest.raises(InputRejected) as err:
        score(site="skull", pain="mild", lesion="lytic", size="under_one_third")
    (problem,) = err.value.problems
    assert (problem.field, problem.allowed) == ("site", ["upper_limb", "lower_limb", "peritrochanteric"])


def test_missing_item_is_rejected_never_scored_as_zero():
    with pytest.raises(InputRejected) as err:
        score(site="upper_limb", lesion="lytic", size="under_one_third")
    assert [(p.field, p.message) for p in err.value.problems] == [("pain", "required")]
