"""The console's forms come from the catalogue and give back the JSON the REST API takes (api/console/forms.py)."""

from __future__ import annotations

import pytest

from api.console import forms
from domain import validation
from domain.catalogue import catalogue
from domain.kinds import KINDS
from domain.model import InputRejected


def schema_of(name: str) -> tuple[dict, str | None]:
    cat = catalogue("en")
    for s in cat["scores"]:
        if s["score"] == name:
            return s["inputs"], name
    for p in cat["pathways"]:
        if p["pathway"] == name:
            return p["inputs"], None
    return cat["evaluation"]["inputs"], None


def walk(fields: list[forms.Field]) -> list[forms.Field]:
    return [g for f in fields for g in [f, *walk(f.children)]]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_form_has_a_labelled_control_for_each_input_and_its_example_round_trips(name: str) -> None:
    """Every kind's form: one control per input of the schema, each with a label (never a bare field name), the
    enumerations' values all offered; its own example, given as a browser would post it, is what the API takes."""
    schema, score = schema_of(name)
    fields = forms.fields_of(schema, "fr", score=score, lesions=2)
    every = walk(fields)
    assert all(f.label and f.label != f.path.rsplit(".", 1)[-1] for f in every)
    example = KINDS[name].example
    posted = dict(flatten(example))
    body = forms.compact_lists(forms.to_json(posted, fields))
    assert validation.convert(body, KINDS[name].inputs) == validation.convert(example, KINDS[name].inputs)


def flatten(value: object, path: str = ""):
    """A JSON body as the form's controls post it: dotted names, text values, booleans as true/false."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key != "patient_ref":
                yield from flatten(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for index, child in enumerate(value):
            yield from flatten(child, f"{path}[{index}]")
    elif isinstance(value, bool):
        yield path, "true" if value else "false"
    else:
        yield path, str(value)


def test_a_french_decimal_comma_is_a_number_and_what_is_unreadable_is_left_to_the_api_to_name() -> None:
    schema, score = schema_of("sins")
    fields = forms.fields_of(schema, "en", score=score)
    assert forms.to_json({"collapse_percent": "12,5", "pain": ""}, fields) == {"collapse_percent": 12.5}
    body = forms.to_json({"collapse_percent": "a third", "pain": "mechanical"}, fields)
    with pytest.raises(InputRejected) as rejected:
        validation.convert(body, KINDS["sins"].inputs)
    errors = forms.field_errors(rejected.value.problems, "fr")
    assert "collapse_percent" in errors and "lesion" in errors  # the wrong value and the missing ones
    assert errors["lesion"].startswith("obligatoire")  # the API's own message, in French


def test_lesion_blocks_left_empty_are_dropped() -> None:
    schema, _ = schema_of("evaluation")
    fields = forms.fields_of(schema, "en", lesions=3)
    body = forms.compact_lists(forms.to_json({"evaluation_date": "2025-06-01", "lesions[1].id": "T12",
                                              "lesions[1].kind": "spine"}, fields))
    assert body == {"evaluation_date": "2025-06-01", "lesions": [{"id": "T12", "kind": "spine"}]}
