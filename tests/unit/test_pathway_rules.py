"""Every rule of clinical-rules.md section 2 fires in a case and stays silent in a near miss beside it."""

import msgspec
import pytest

from domain.pathways import PATHWAYS
from domain.texts.pathways import PATHWAY_TEXTS
from tests.spec import rule_ids_of_section_2
from tests.unit.pathway_cases import CASES, WITHHELD_CASES


def run(pathway, fields, lang="en"):
    module = PATHWAYS[pathway]
    return module.evaluate(msgspec.convert({k: v for k, v in fields.items() if v is not None}, module.Inputs), lang)


def fired(result):
    return {(r.rule_id, r.action) for r in result.recommendations}


def test_every_rule_id_of_section_2_has_a_firing_case_and_a_near_miss():
    covered = {rule for rule, _ in CASES}
    assert rule_ids_of_section_2() - covered == set()


def test_every_pathway_action_has_a_case():
    assert set(PATHWAY_TEXTS) - set(CASES) - set(WITHHELD_CASES) == set()


@pytest.mark.parametrize("rule_action", list(WITHHELD_CASES), ids=[f"{r}:{a}" for r, a in WITHHELD_CASES])
def test_a_withheld_only_action_is_listed_as_withheld_by_its_rule(rule_action):
    pathway, inputs, by = WITHHELD_CASES[rule_action]
    result = run(pathway, inputs)
    assert [(w.rule_id, w.action, w.withheld_by) for w in result.withheld] == [(*rule_action, by)]
    assert rule_action not in fired(result)


def test_every_declared_rule_id_is_in_the_specification():
    declared = {rule for module in PATHWAYS.values() for rule in module.RULE_IDS}
    assert declared == rule_ids_of_section_2()


@pytest.mark.parametrize(("rule_action", "case"), list(CASES.items()), ids=[f"{r}:{a}" for r, a in CASES])
def test_rule_fires_and_stays_silent_in_the_near_miss(rule_action, case):
    pathway, fires, near_miss = case
    rule_id, _action = rule_action
    assert rule_action in fired(run(pathway, fires)), run(pathway, fires)
    silent = run(pathway, near_miss)
    assert rule_action not in fired(silent)
    # silent because evaluated and not met, not because an input was missing
    assert rule_id not in {n.rule_id for n in silent.not_evaluable}


@pytest.mark.parametrize("rule_action", list(CASES), ids=[f"{r}:{a}" for r, a in CASES])
def test_every_recommendation_has_both_languages_and_a_citation(rule_action):
    pathway, fires, _ = CASES[rule_action]
    en, fr = run(pathway, fires, "en"), run(pathway, fires, "fr")
    rec_en = next(r for r in en.recommendations if (r.rule_id, r.action) == rule_action)
    rec_fr = next(r for r in fr.recommendations if (r.rule_id, r.action) == rule_action)
    assert rec_en.text != rec_fr.text and rec_en.citations and rec_en.triggered_by == rec_fr.triggered_by


@pytest.mark.parametrize(("pathway", "rule_id", "missing"), [
    ("long-bone", "LB-1", ("pathological_fracture",)),
    ("spine", "SP-3", ("sins",)),
    ("cord-compression", "MSCC-1", ("cord_compression",)),
    ("antiresorptive", "AR-1", ("life_expectancy_weeks|life_expectancy_months",)),
    ("systemic", "SYS-2", ("metastatic_sites",)),
    ("trials", "TRIAL-2", ("evaluation_date",)),
])
def test_a_rule_without_its_inputs_is_not_evaluable_naming_them(pathway, rule_id, missing):
    result = run(pathway, {})
    assert any(n.rule_id == rule_id and n.missing == missing for n in result.not_evaluable)
    assert all(r.rule_id != rule_id for r in result.recommendations)


def test_zoledronic_dose_needs_every_cockcroft_gault_input():
    result = run("antiresorptive", {"life_expectancy_months": 6, "age": 70, "sex": "male", "urgent": True})
    assert [n.missing for n in result.not_evaluable if n.rule_id == "AR-2"] == [("weight_kg", "creatinine")]
    assert ("AR-3", "denosumab") in fired(result)
