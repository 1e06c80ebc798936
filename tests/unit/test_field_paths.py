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
