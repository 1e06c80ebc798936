"""Every code a form or a report shows has French and English labels (issue 12): the values of every enumeration
a pathway or a whole case takes, and every warning code, besides the scores' items, values and bands."""

import enum
import typing

import msgspec

from domain.catalogue import catalogue
from domain.evaluation import Case
from domain.pathways import PATHWAYS
from domain.scores import SCORES
from domain.texts import WARNINGS, labels


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
