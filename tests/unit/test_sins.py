"""SINS (clinical-rules.md 1.2; Fisher 2010, table 1)."""

import msgspec
import pytest

from domain.model import InputRejected
from domain.scores import sins
from domain.validation import decode


def score(**fields):
    return sins.compute(decode(msgspec.json.encode(fields), sins.Inputs))


NEUTRAL = {"pain": "none", "lesion": "blastic", "alignment": "normal", "posterolateral": "none"}


def test_golden_contract_example_junctional_mechanical_lytic_scores_8():
    # Fisher 2010 table 1: junctional 3 + mechanical 3 + lytic 2 + normal 0 + none 0 + none 0 = 8
    r = score(location="junctional", pain="mechanical", lesion="lytic", alignment="normal",
              collapse="none", posterolateral="none")
    assert (r.total, r.band, r.recommendation.rule_id, r.recommendation.action) == (
        8, "potentially_unstable", "SP-3", "surgical_opinion")


def test_golden_maximum_18_is_unstable():
    r = score(location="junctional", pain="mechanical", lesion="lytic", alignment="subluxation_translation",
              collapse="over_50", posterolateral="bilateral")
    assert (r.total, r.band, r.recommendation.rule_id) == (18, "unstable", "SP-3")


@pytest.mark.parametrize(
    ("fields", "total", "band", "rule_id"),
    [
        # 6 | 7: junctional 3 + mechanical 3 = 6, + unilateral 1 = 7
        ({"location": "junctional", "pain": "mechanical", "collapse": "none"}, 6, "stable", "SP-4"),
        ({"location": "junctional", "pain": "mechanical", "collapse": "none", "posterolateral": "unilateral"},
         7, "potentially_unstable", "SP-3"),
        # 12 | 13: 3 + 3 + 2 (lytic) + 4 (subluxation) = 12, + unilateral = 13
        ({"location": "junctional", "pain": "mechanical", "lesion": "lytic",
          "alignment": "subluxation_translation", "collapse": "none"}, 12, "potentially_unstable", "SP-3"),
        ({"location": "junctional", "pain": "mechanical", "lesion": "lytic",
          "alignment": "subluxation_translation", "collapse": "none", "posterolateral": "unilateral"},
         13, "unstable", "SP-3"),
        ({"location": "rigid", "collapse": "none"}, 0, "stable", "SP-4"),
    ],
)
def test_band_boundaries_on_both_sides(fields, total, band, rule_id):
    r = score(**{**NEUTRAL, **fields})
    assert (r.total, r.band, r.recommendation.rule_id) == (total, band, rule_id)


@pytest.mark.parametrize(
    ("level", "location", "points"),
    [("C0", "junctional", 3), ("C2", "junctional", 3), ("C3", "mobile", 2), ("C6", "mobile", 2),
     ("C7", "junctional", 3), ("T2", "junctional", 3), ("T3", "semi_rigid", 1), ("T10", "semi_rigid", 1),
     ("T11", "junctional", 3), ("L1", "junctional", 3), ("L2", "mobile", 2), ("L4", "mobile", 2),
     ("L5", "junctional", 3), ("S1", "junctional", 3), ("S2", "rigid", 0), ("S5", "rigid", 0)],
)
def test_level_derives_location_at_every_segment_edge(level, location, points):
    loc = score(**NEUTRAL, level=level, collapse="none").items[0]
    assert (loc.value, loc.points, loc.derived_from) == (location, points, level)


def test_level_and_location_that_agree_are_accepted():
    assert score(**NEUTRAL, level="T12", location="junctional", collapse="none").items[0].points == 3


def test_level_contradicting_location_is_a_contradiction():
    with pytest.raises(InputRejected) as err:
        score(**NEUTRAL, level="T5", location="junctional", collapse="none")
    assert err.value.contradiction
    assert err.value.problems[0].allowed == ["semi_rigid"]


def test_neither_level_nor_location_is_rejected():
    with pytest.raises(InputRejected) as err:
        score(**NEUTRAL, collapse="none")
    assert err.value.problems[0].field == "location" and not err.value.contradiction


@pytest.mark.parametrize("level", ["T13", "L6", "C8", "t5"])
def test_unknown_level_is_rejected(level):
    with pytest.raises(InputRejected) as err:
        score(**NEUTRAL, level=level, collapse="none")
    assert err.value.problems[0].field == "level" and "T12" in err.value.problems[0].allowed


@pytest.mark.parametrize(
    ("percent", "involved", "value", "points", "warned"),
    [(0, False, "none", 0, False), (0, True, "none_over_50_involved", 1, False),
     (0.5, None, "under_50", 2, False), (49.9, None, "under_50", 2, False),
     (50, None, "over_50", 3, True), (50.1, None, "over_50", 3, False), (100, True, "over_50", 3, False)],
)
def test_collapse_percent_maps_to_fisher_categories_and_warns_at_exactly_50(percent, involved, value, points,
                                                                            warned):
    fields = {**NEUTRAL, "location": "rigid", "collapse_percent": percent}
    if involved is not None:
        fields["body_involvement_over_50"] = involved
    r = score(**fields)
    assert (r.items[4].value, r.items[4].points) == (value, points)
    assert [w.code for w in r.warnings] == (["boundary_collapse_50_percent"] if warned else [])


def test_zero_collapse_without_body_involvement_is_rejected():
    with pytest.raises(InputRejected) as err:
        score(**NEUTRAL, location="rigid", collapse_percent=0)
    assert err.value.problems[0].field == "body_involvement_over_50"


def test_both_collapse_forms_are_rejected():
    with pytest.raises(InputRejected):
        score(**NEUTRAL, location="rigid", collapse="none", collapse_percent=10)


@pytest.mark.parametrize("percent", [-1, 100.5])
def test_collapse_percent_out_of_range_is_rejected(percent):
    with pytest.raises(InputRejected) as err:
        score(**NEUTRAL, location="rigid", collapse_percent=percent)
    assert err.value.problems[0].field == "collapse_percent"


def test_posterior_wall_retropulsion_is_not_a_sins_alignment_value():
    with pytest.raises(InputRejected) as err:
        score(**{**NEUTRAL, "alignment": "retropulsion"}, location="rigid", collapse="none")
    assert err.value.problems[0].allowed == ["subluxation_translation", "de_novo_deformity", "normal"]
