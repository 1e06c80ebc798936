"""Properties of the whole-case evaluation over any input the schema admits."""

import msgspec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.evaluation import Case, Lesion, evaluate
from domain.model import InputRejected
from tests.strategies import json_of

CASES = json_of(Case)
# Facts a case gives once; a lesion's block that repeats them must agree, so full lesions leave them out.
SHARED = {"evaluation_date", "age", "sex", "weight_kg", "creatinine", "karnofsky", "asa_class",
          "life_expectancy_weeks", "life_expectancy_months", "bone_metastases", "metastatic_sites",
          "visceral_metastases", "disease_stabilised", "sins_total"}
# Alternatives of which a request gives one: (kept, dropped...).
ALTERNATIVES = (("size", "cortical_destruction_fraction"), ("collapse", "collapse_percent",
                                                             "body_involvement_over_50"), ("level", "location"))


def one_of_each_alternative(value):
    if isinstance(value, list):
        return [one_of_each_alternative(v) for v in value]
    if not isinstance(value, dict):
        return value
    value = {k: one_of_each_alternative(v) for k, v in value.items()}
    for kept, *dropped in ALTERNATIVES:
        if kept in value:
            value = {k: v for k, v in value.items() if k not in dropped}
    return value


def complete_lesion(lesion: dict) -> dict:
    lesion = one_of_each_alternative(lesion)
    return {k: ({f: v for f, v in block.items() if f not in SHARED} if isinstance(block, dict) else block)
            for k, block in lesion.items()}


# Complete lesions (every finding given), in cases of any shape: lesion rules fire often, not by chance.
FULL_LESIONS = json_of(Lesion, full=True).map(complete_lesion)
CASES_WITH_LESIONS = st.tuples(CASES, st.lists(FULL_LESIONS, min_size=1, max_size=3)).map(
    lambda pair: {**pair[0], "lesions": pair[1]})
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def with_unique_ids(case: dict) -> dict:
    lesions = [{**lesion, "id": f"lesion-{i}"} for i, lesion in enumerate(case.get("lesions", []))]
    return {**case, "lesions": lesions}


@SETTINGS
@given(st.one_of(CASES, CASES_WITH_LESIONS), st.sampled_from(["en", "fr"]))
def test_an_evaluation_never_raises_on_valid_input(data, lang):
    case = msgspec.convert(data, Case)
    try:
        result = evaluate(case, lang)
    except InputRejected as rejected:
        # the only refusals: contradictions between valid values, or alternatives given both ways
        assert rejected.problems
        return
    assert result.rule_ids == tuple(dict.fromkeys(r.rule_id for r in result.recommendations))
    ranks = [r.rule_id for r in result.recommendations]
    assert len(set((r.rule_id, r.action, r.lesion) for r in result.recommendations)) == len(ranks)
    msgspec.json.encode(result)  # and the result always serialises


@SETTINGS
@given(CASES_WITH_LESIONS, FULL_LESIONS)
def test_adding_a_lesion_never_removes_a_recommendation_about_another_lesion(data, extra):
    data = with_unique_ids(data)
    try:
        before = evaluate(msgspec.convert(data, Case))
        after = evaluate(msgspec.convert({**data, "lesions": [*data["lesions"], {**extra, "id": "added"}]}, Case))
    except InputRejected:
        assume(False)
        return
    kept = {(r.rule_id, r.action, r.lesion) for r in after.recommendations}
    about_lesions = {(r.rule_id, r.action, r.lesion) for r in before.recommendations if r.lesion is not None}
    assert about_lesions <= kept


def test_a_line_that_breaks_the_engine_fails_alone_and_the_job_goes_on(monkeypatch):
    """A defect on one line (here, a computation that raises) becomes that line's 500 problem document."""
    from worker import tasks

    def broken(payload, lang):
        raise ZeroDivisionError

    monkeypatch.setattr(tasks, "evaluate_line", broken)
    job = msgspec.convert({"id": "j", "client": "c", "status": "running", "total": 1, "done": 0, "failed": 0,
                           "chunk_size": 1, "language": "en", "request_id": "r", "created_at": "t",
                           "started_at": None, "finished_at": None}, tasks.jobs.JobRow)
    outcome = tasks.outcome(job, 7, "{}", settings=None)
    assert not outcome.ok and outcome.audit is None
    assert msgspec.json.decode(outcome.body)["error"]["status"] == 500
