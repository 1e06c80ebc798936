"""A problem inside a nested block names the field where it is (issue 12's review): a score's within its pathway
(`sins.location`), a pathway's within its lesion of a whole case (`lesions[1].spine.sins.location`), so that a
form can put the message beside the right control."""

import msgspec
import pytest

from domain.evaluation import Case, evaluate
from domain.model import InputRejected
from domain.pathways import spine
from tests.cases import VALID

CONTRADICTORY_SINS = {**VALID["sins"], "level": "L2"}  # L2 is mobile, not junctional


def test_a_score_inside_a_pathway_names_its_block():
    with pytest.raises(InputRejected) as err:
        spine.evaluate(msgspec.convert({"sins": CONTRADICTORY_SINS}, spine.Inputs))
    assert [p.field for p in err.value.problems] == ["sins.location"] and err.value.contradiction


def test_a_pathway_inside_a_whole_case_names_its_lesion():
    case = {"evaluation_date": "2025-06-01", "lesions": [
        {"id": "T12", "kind": "spine", "spine": {"sins": VALID["sins"]}},
        {"id": "L2", "kind": "spine", "spine": {"sins": CONTRADICTORY_SINS}}]}
    with pytest.raises(InputRejected) as err:
        evaluate(msgspec.convert(case, Case))
    assert [p.field for p in err.value.problems] == ["lesions[1].spine.sins.location"]


def test_alternatives_are_named_each_under_the_block():
    surgery = {"evaluation_date": "2025-06-01", "surgery": {"tokuhashi": {
        k: v for k, v in VALID["tokuhashi"].items() if k != "frankel"}}}
    with pytest.raises(InputRejected) as err:
        evaluate(msgspec.convert(surgery, Case))
    assert [p.field for p in err.value.problems] == [
        "surgery.tokuhashi.frankel|surgery.tokuhashi.frankel_findings"]


# --- a number JSON can write but no float holds (1e400): msgspec's untyped decode names no field for it -------

@pytest.mark.parametrize(("body", "kind", "field", "allowed"), [
    (b'{"karnofsky": 1e400}', "tokuhashi", "karnofsky", "an integer >= 10 and <= 100, a multiple of 10"),
    (b'{"karnofsky": 80, "extraspinal_bone_metastases": -1e999}', "tokuhashi", "extraspinal_bone_metastases",
     "an integer >= 0 and <= 1000"),
    (b'{"patient": {"age": 1e400}}', "evaluation", "patient.age", "an integer >= 18 and <= 120"),
    (b'{"lesions": [{"id": "a"}, {"long_bone": {"mirels": {"cortical_destruction_fraction": 2e308}}}]}',
     "evaluation", "lesions[1].long_bone.mirels.cortical_destruction_fraction", "a number >= 0 and <= 1"),
    (b'{"lesions": [{"zz": [1, {"q": 1e400}]}]}', "evaluation", "lesions[0].zz[1].q", None),  # not in the schema
])
def test_a_number_out_of_any_range_is_placed_at_its_field(body, kind, field, allowed):
    from domain.kinds import KINDS
    from domain.validation import out_of_range

    found = out_of_range(body, KINDS[kind].inputs)
    assert found is not None and found.field == field
    assert found.message == "Number out of range" + (f" (allowed: {allowed})" if allowed else "")


def test_out_of_range_says_nothing_of_a_body_that_decodes_or_is_malformed():
    from domain.validation import out_of_range

    assert out_of_range(b'{"karnofsky": 1e300}', Case) is None  # a float holds it: the schema pass judges it
    assert out_of_range(b'{"karnofsky": 1e400', Case) is None  # truncated: malformed, whatever came before
    assert out_of_range(b"1e400").field == "$"


def test_a_bulk_line_with_such_a_number_is_refused_at_its_field_with_its_line_id():
    from domain.bulk import Rejected, evaluate_line
    from domain.texts.messages import localise

    line = evaluate_line(b'{"kind": "tokuhashi", "line_id": "x1", "karnofsky": 1e400, "primary": "lung"}', "en")
    assert isinstance(line, Rejected) and line.line_id == "x1"
    assert [(p.field, p.message) for p in line.problems] == [
        ("karnofsky", "Number out of range (allowed: an integer >= 10 and <= 100, a multiple of 10)")]
    assert localise(line.problems[0].message, "fr") == ("nombre hors limites (valeurs permises : un entier >= 10 et "
                                                        "<= 100, multiple de 10)")
    truncated = evaluate_line(b'{"kind": "tokuhashi", "karnofsky": 1e400', "en")
    assert isinstance(truncated, Rejected)
    assert [(p.field, p.message) for p in truncated.problems] == [("$", "malformed JSON: Input data was truncated")]


def test_such_a_number_in_a_field_of_listed_values_lists_them():
    from domain.kinds import KINDS
    from domain.validation import allowed, out_of_range

    found = out_of_range(b'{"pain": 1e400}', KINDS["sins"].inputs)
    assert found.field == "pain" and found.allowed == allowed(msgspec.structs.fields(KINDS["sins"].inputs)[
        [f.name for f in msgspec.structs.fields(KINDS["sins"].inputs)].index("pain")].type) and found.allowed


def test_the_search_for_such_a_number_is_bounded_in_depth():
    """A hostile body nested a thousand deep costs a few levels of decoding, not one per level."""
    from domain.validation import out_of_range

    body = b'{"a": ' * 900 + b"1e400" + b"}" * 900
    found = out_of_range(body)
    assert found is not None and found.field == ".".join(["a"] * 8)
    assert out_of_range(b"[" * 5000 + b"1e400" + b"]" * 5000) is None  # deeper than any decoder goes: not placed


def test_the_search_for_such_a_number_among_many_members_takes_a_few_decodes_not_one_each(monkeypatch):
    """One decode a member stalled the event loop 1.5 s on a 1 MiB body of 58,000 small arrays: by halves, a few."""
    from domain.validation import out_of_range

    decode, calls = msgspec.json.decode, []
    monkeypatch.setattr(msgspec.json, "decode", lambda *a, **k: calls.append(1) or decode(*a, **k))
    body = b'{"a": [' + b"[[[[0]]]]," * 60_000 + b'1e400], "b": 1}'
    found = out_of_range(body)
    assert found is not None and found.field == "a[60000]"
    assert len(calls) < 40, len(calls)
    assert out_of_range(b'{"x": [1, 2, {"y": [0, 0, 0, 2e308]}], "z": 3}').field == "x[2].y[3]"
