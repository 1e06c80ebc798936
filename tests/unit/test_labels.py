"""Every code a form or a report shows has French and English labels (issue 12): the values of every enumeration
a pathway or a whole case takes, every warning code, every input field and every action, besides the scores'
items, values and bands."""

import enum
import re
import typing

import msgspec

from domain import safety
from domain.catalogue import catalogue
from domain.evaluation import Case
from domain.pathways import PATHWAYS
from domain.scores import SCORES
from domain.texts import RECOMMENDATIONS, WARNINGS, labels
from domain.texts.pathways import PATHWAY_TEXTS


def enumerations(kind, found, seen):
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        found.add(kind)
    elif isinstance(kind, type) and issubclass(kind, msgspec.Struct) and kind not in seen:
        seen.add(kind)
        for field in msgspec.structs.fields(kind):
            enumerations(field.type, found, seen)
    for inner in typing.get_args(kind):
        enumerations(inner, found, seen)


def test_every_value_of_every_enumeration_a_request_takes_has_both_labels():
    found, seen = set(), set()
    for module in PATHWAYS.values():
        enumerations(module.Inputs, found, seen)
    enumerations(Case, found, seen)
    score_enums = {type(v) for m in SCORES.values() for table in m.ITEM_POINTS.values() for v in table}
    for kind in found - score_enums:
        if kind.__module__ == "domain.scores.sins" and kind.__name__ == "Level":
            continue  # vertebral levels (C0..S5) are their own labels
        if kind.__module__ == "domain.scores.frankel" and kind.__name__ == "Grade":
            continue  # labelled with the Tokuhashi item (and described in the catalogue's grades)
        name = labels.ENUM_NAMES[kind.__module__, kind.__name__]
        for value in kind:
            label = labels.ENUMS[name, value.value]
            assert label["fr"].strip() and label["en"].strip(), (name, value)


def test_the_catalogue_serves_the_labels_and_every_warning_text():
    french = catalogue("fr")
    assert set(french["warning_texts"]) == set(WARNINGS) == set(french["warnings"])
    assert all(w["text"] == w["texts"]["fr"] and w["texts"]["en"] for w in french["warning_texts"].values())
    assert french["value_labels"]["LongBoneLocation"]["femoral_neck"]["label"] == "Col du fémur"
    assert catalogue("en")["value_labels"]["CtChange"]["more_osteolysis"]["label"] == "More osteolysis"


# Every field a request takes, by walking the input types themselves (not the catalogue's own walk): a whole case,
# every pathway's and every score's inputs, through nested blocks, Optional, Annotated and lists.
def field_names(kind, found, seen):
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct) and kind not in seen:
        seen.add(kind)
        for field in msgspec.structs.fields(kind):
            found.add(field.name)
            field_names(field.type, found, seen)
    for inner in typing.get_args(kind):
        field_names(inner, found, seen)
    return found


def fields_of(kind):
    return field_names(kind, set(), set())


def every_field():
    found = fields_of(Case)
    for module in [*PATHWAYS.values(), *SCORES.values()]:
        found |= fields_of(module.Inputs)
    return found


def every_action():
    return {action for _, action in RECOMMENDATIONS} | {action for _, action in PATHWAY_TEXTS}


def test_every_field_of_every_input_has_both_labels_and_no_label_is_left_over():
    names = every_field()
    assert {"patient", "lesions", "long_bone", "value", "unit", "id", "kind", "motor", "sensory"} <= names
    assert names - set(labels.FIELDS) == set(), "fields without a label"
    assert set(labels.FIELDS) - names == set(), "labels of no field"
    for name, label in labels.FIELDS.items():
        assert set(label) <= {"fr", "en", "unit"}, name
        assert label["fr"].strip() and label["en"].strip(), name
        assert label["fr"].strip().lower() not in {name, name.replace("_", " ")}, name  # a label, not the code
        if "unit" in label:
            assert set(label["unit"]) == {"fr", "en"} and all(u.strip() for u in label["unit"].values()), name


# The unit a field's name states is the unit its label shows (a window in a boolean's name, as in
# rt_same_site_within_3_months, is no unit).
UNIT_BY_SUFFIX = {"_months": ("mois", "months"), "_weeks": ("semaines", "weeks"), "_days": ("jours", "days"),
                  "_hours": ("h", "h"), "_mm": ("mm", "mm"), "_kg": ("kg", "kg"), "_percent": ("%", "%")}


def test_units_follow_the_field_names_and_the_accessors_read_them():
    for name in labels.FIELDS:
        for suffix, (fr, en) in UNIT_BY_SUFFIX.items():
            if re.search(f"[a-z]{suffix}$", name):
                assert (labels.unit(name, "fr"), labels.unit(name, "en")) == (fr, en), name
    assert (labels.unit("age", "fr"), labels.unit("age", "en")) == ("ans", "years")
    assert labels.unit("pathological_fracture", "fr") is None and labels.unit("frankel", "en") is None
    assert labels.field_label("puncture_site_infection", "fr") == "Infection au point de ponction"
    assert labels.field_label("pathological_fracture", "en") == "Pathological fracture"


def test_every_action_has_a_short_label_in_both_languages_and_no_label_is_left_over():
    assert len(every_action()) > 50
    assert set(labels.ACTIONS) == every_action()
    for code, label in labels.ACTIONS.items():
        assert set(label) == {"fr", "en"}, code
        assert label["fr"].strip().lower() not in {code, code.replace("_", " ")}, code
        for lang in ("fr", "en"):
            assert label[lang].strip() and len(label[lang]) <= 60, (code, lang)  # short: the full text is elsewhere
    assert labels.action_label("rt_8gy_1fr", "fr") == "Radiothérapie 8 Gy en 1 fraction"
    assert labels.action_label("surgical_opinion", "en") == "Surgical opinion"


def test_a_negative_action_reads_as_a_no():
    for _, code in safety.NEGATIVE_ACTIONS:
        assert re.search(r"\b(pas|non|contre-indiquée?)\b", labels.ACTIONS[code]["fr"], re.I), code
        assert re.search(r"\b(no|not|contraindicated)\b", labels.ACTIONS[code]["en"], re.I), code


def assert_field_labels(served, kind, lang):
    assert set(served) == fields_of(kind), kind
    for name, entry in served.items():
        assert entry["label"] == labels.FIELDS[name][lang] and entry["labels"]["fr"] and entry["labels"]["en"]
        assert entry["labels"] == {"fr": labels.FIELDS[name]["fr"], "en": labels.FIELDS[name]["en"]}, name
        assert entry.get("unit") == labels.unit(name, lang), name


def test_the_catalogue_serves_a_label_for_every_input_field_and_every_action():
    for lang in ("fr", "en"):
        served = catalogue(lang)
        scores = {s["score"]: s for s in served["scores"]}
        pathways = {p["pathway"]: p for p in served["pathways"]}
        assert set(scores) == set(SCORES) and set(pathways) == set(PATHWAYS)
        for name, module in SCORES.items():
            assert_field_labels(scores[name]["field_labels"], module.Inputs, lang)
            for band in scores[name]["bands"]:
                assert band["action_label"] == labels.ACTIONS[band["action"]][lang], (name, band["code"])
                assert band["action_labels"] == labels.ACTIONS[band["action"]]
        for name, module in PATHWAYS.items():
            assert_field_labels(pathways[name]["field_labels"], module.Inputs, lang)
            assert pathways[name]["actions"], name
            for action in pathways[name]["actions"]:
                assert action["action_label"] == labels.ACTIONS[action["action"]][lang], (name, action["action"])
                assert action["action_labels"] == labels.ACTIONS[action["action"]]
        assert_field_labels(served["evaluation"]["field_labels"], Case, lang)
        assert served["evaluation"]["endpoint"] == "/v1/evaluations" and served["evaluation"]["inputs"]
    french, english = catalogue("fr"), catalogue("en")
    spine = next(p for p in french["pathways"] if p["pathway"] == "spine")
    assert spine["field_labels"]["posterior_wall_retropulsion"]["label"] == "Recul du mur postérieur"
    assert "unit" not in spine["field_labels"]["cord_threat"]
    assert french["evaluation"]["field_labels"]["life_expectancy_weeks"]["unit"] == "semaines"
    radiotherapy = next(p for p in english["pathways"] if p["pathway"] == "radiotherapy")
    assert radiotherapy["field_labels"]["cord_distance_mm"] == {
        "label": "Tumour–cord distance", "labels": {"fr": "Distance tumeur–moelle", "en": "Tumour–cord distance"},
        "unit": "mm"}
    tokuhashi = next(s for s in english["scores"] if s["score"] == "tokuhashi")
    assert {"motor", "sensory"} <= set(tokuhashi["field_labels"])  # a nested block's fields, flat by name
