"""Properties every score holds, whatever its valid input: total = sum of item points, total within the
published range, band = the band clinical-rules.md section 1 gives for that total."""

import ast
import itertools
import pathlib
import sys

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import texts
from domain.model import LANGUAGES, InputRejected
from domain.scores import SCORES, mirels, rades, sins, tokuhashi, tomita

# Written out again from clinical-rules.md, independently of the modules' own BANDS.
SPEC_BANDS = {
    "mirels": [(4, 7, "low"), (8, 8, "borderline"), (9, 12, "high")],
    "sins": [(0, 6, "stable"), (7, 12, "potentially_unstable"), (13, 18, "unstable")],
    "rades": [(21, 28, "group_1"), (29, 37, "group_2"), (38, 44, "group_3")],
    "tokuhashi": [(0, 8, "under_6_months"), (9, 11, "over_6_months"), (12, 15, "over_12_months")],
    "tomita": [(2, 3, "en_bloc_resection"), (4, 5, "intralesional_resection"), (6, 7, "palliative_surgery"),
               (8, 10, "supportive_care")],
}


def one_of(enum):
    return st.sampled_from([m.value for m in enum])


STRATEGIES = {
    "mirels": st.fixed_dictionaries(
        {"site": one_of(mirels.Site), "pain": one_of(mirels.Pain), "lesion": one_of(mirels.Lesion)}
    ).flatmap(lambda d: st.one_of(
        st.builds(lambda s: {**d, "size": s}, one_of(mirels.Size)),
        st.builds(lambda f: {**d, "cortical_destruction_fraction": f}, st.floats(0, 1)),
    )),
    "sins": st.fixed_dictionaries(
        {"pain": one_of(sins.Pain), "lesion": one_of(sins.Lesion), "alignment": one_of(sins.Alignment),
         "posterolateral": one_of(sins.Posterolateral)}
    ).flatmap(lambda d: st.one_of(
        st.builds(lambda loc, c: {**d, "location": loc, "collapse": c}, one_of(sins.Location), one_of(sins.Collapse)),
        st.builds(lambda lvl, p, inv: {**d, "level": lvl, "collapse_percent": p, "body_involvement_over_50": inv},
                  one_of(sins.Level), st.floats(0, 100), st.booleans()),
    )),
    "rades": st.fixed_dictionaries(
        {"primary": one_of(rades.Primary), "interval_months": st.floats(0, 1200),
         "visceral_metastases": st.booleans(), "motor_function": one_of(rades.MotorFunction),
         "deficit_onset_days": st.floats(0, 36500, exclude_min=True)}
    ),
    "tokuhashi": st.fixed_dictionaries(
        {"karnofsky": st.sampled_from(range(10, 101, 10)), "extraspinal_bone_metastases": st.integers(0, 1000),
         "vertebral_body_metastases": st.integers(1, 33), "visceral_metastases": one_of(tokuhashi.Visceral),
         "primary": one_of(tokuhashi.Primary), "frankel": st.sampled_from("ABCDE")}
    ),
    "tomita": st.fixed_dictionaries(
        {"growth": one_of(tomita.Growth), "visceral_metastases": one_of(tomita.Visceral),
         "bone_metastases": one_of(tomita.Bone)}
    ),
}


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(SCORES)).flatmap(lambda name: st.tuples(st.just(name), STRATEGIES[name])),
       st.sampled_from(LANGUAGES))
def test_total_is_the_sum_of_items_within_range_and_in_the_specified_band(case, lang):
    name, fields = case
    module = SCORES[name]
    result = module.compute(msgspec.convert(fields, module.Inputs), lang)
    assert result.total == sum(i.points for i in result.items)
    low, high = module.TOTAL_RANGE
    assert low <= result.total <= high
    assert (low, high) == (SPEC_BANDS[name][0][0], SPEC_BANDS[name][-1][1])
    (band,) = [code for lo, hi, code in SPEC_BANDS[name] if lo <= result.total <= hi]
    assert result.band == band
    assert result.recommendation.text and result.band_meaning


def test_band_tables_cover_their_range_without_gap_or_overlap():
    for name, module in SCORES.items():
        edges = [(b.low, b.high) for b in module.BANDS]
        assert edges[0][0] == module.TOTAL_RANGE[0] and edges[-1][1] == module.TOTAL_RANGE[1], name
        assert all(prev[1] + 1 == nxt[0] for prev, nxt in itertools.pairwise(edges)), name


def test_every_band_has_texts_in_both_languages():
    for name, module in SCORES.items():
        for band in module.BANDS:
            for lang in LANGUAGES:
                assert texts.recommendation_text(band.rule_id, band.action, lang)
                assert texts.band_meaning(name, band.code, lang)
    for code in texts.WARNINGS:
        assert all(texts.warning_text(code, lang) for lang in LANGUAGES)


def test_invalid_inputs_are_rejected_never_scored():
    for module in SCORES.values():
        try:
            module.compute(msgspec.convert({}, module.Inputs))
        except msgspec.ValidationError:
            continue
        raise AssertionError(f"{module.NAME} accepted an empty request")
    assert issubclass(InputRejected, ValueError)


def test_domain_imports_only_the_standard_library_msgspec_and_itself():
    allowed = set(sys.stdlib_module_names) | {"msgspec", "domain", "__future__"}
    root = pathlib.Path(__file__).resolve().parents[2] / "domain"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_every_item_value_and_band_of_every_score_has_french_and_english_labels():
    """One label table for the forms, the catalogue and the reports (issue 12): complete, and never blank."""
    from domain.catalogue import catalogue
    from domain.scores import SCORES
    from domain.texts import labels

    for name, module in SCORES.items():
        for item, table in module.ITEM_POINTS.items():
            assert set(labels.ITEMS[name, item]) == {"fr", "en"}, (name, item)
            for value in table:
                assert all(labels.VALUES[name, item, str(value)].values()), (name, item, value)
        for band in module.BANDS:
            assert all(labels.BANDS[name, band.code].values()), (name, band.code)
    expected = {(s, i) for s, m in SCORES.items() for i in m.ITEM_POINTS}
    assert set(labels.ITEMS) == expected  # and no label for an item that is not there
    french = {entry["score"]: entry for entry in catalogue("fr")["scores"]}
    assert french["sins"]["item_labels"]["collapse"]["label"] == "Tassement du corps vertébral"
    assert french["mirels"]["items"]["site"][2]["label"] == "Région pertrochantérienne"
    assert [b["label"] for b in french["sins"]["bands"]] == ["Stable", "Potentiellement instable", "Instable"]
