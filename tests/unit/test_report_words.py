"""The patient report's words (issue 15): every computed value a rule gives is labelled, the answer is rendered
again in the report's language from its audited inputs (and only when that is the audited answer itself), the
pseudonym is a short code, dates are written in words in the evaluation's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.evaluation import EXAMPLE
from domain.kinds import KINDS
from domain.model import InputRejected
from domain.report import Trace, kind_of, moment, patient_report, relocalised, short_code
from domain.report_values import SKIPPED_VALUES, recommendation_values
from domain.texts import pathway_text
from domain.texts.report import VALUE_LABELS
from domain.version import RULES_VERSION
from tests.strategies import json_of

TRACE = Trace(audit_id="a", audit_hash="b" * 64, computed_at="2025-06-01T09:30:00.123456Z", guideline_version="g",
              engine_version="e", rules_version=RULES_VERSION)


def answer(kind: str, body: dict, lang: str = "en") -> tuple[dict, bytes]:
    inputs = msgspec.convert(body, KINDS[kind].inputs)
    return msgspec.json.decode(msgspec.json.encode(KINDS[kind].compute(inputs, lang))), msgspec.json.encode(inputs)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(KINDS)).flatmap(lambda k: st.tuples(st.just(k), json_of(KINDS[k].inputs, full=True))))
def test_every_computed_value_a_rule_gives_is_labelled_in_both_languages(drawn):
    kind, body = drawn
    try:
        output, _ = answer(kind, body)
    except InputRejected:
        return
    recs = [output["recommendation"]] if "score" in output else output["recommendations"]
    for rec in recs:
        for key in rec.get("values") or {}:
            assert key in VALUE_LABELS or key in SKIPPED_VALUES, f"{rec['rule_id']}: value {key} has no label"
        for lang in ("en", "fr"):
            for fact in recommendation_values(rec.get("values") or {}, lang):
                assert "_" not in fact.label and "_" not in fact.value, fact  # never a code on the page


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_values_of_every_example_are_labelled(kind):
    output, _ = answer(kind, KINDS[kind].example)
    recs = [output["recommendation"]] if "score" in output else output["recommendations"]
    for rec in recs:
        assert set(rec.get("values") or {}) <= set(VALUE_LABELS) | SKIPPED_VALUES, rec["rule_id"]


def test_the_report_is_rendered_again_in_its_own_language_from_the_audited_inputs():
    output, inputs_json = answer("evaluation", EXAMPLE, "en")
    report = patient_report(output, trace=TRACE, endpoint="POST /v1/evaluations", patient_hash=None, lang="fr",
                            inputs_json=inputs_json)
    assert report.texts_as_recorded is None
    ar1 = next(r for r in report.recommendations if r.rule_id == "AR-1")
    assert ar1.text == pathway_text("AR-1", ar1.action, "fr")
    assert all(r.text != e["text"] for r, e in zip(report.recommendations, output["recommendations"], strict=True))
    ar2 = next(r for r in report.recommendations if r.rule_id == "AR-2")
    assert "75,8" in ar2.text  # the French number, in the French text
    assert {(f.label, f.value) for f in ar2.values} >= {("Clairance de la créatinine (Cockcroft–Gault)", "75,8 mL/min"),
                                                         ("Dose", "4 mg")}


def test_an_answer_the_current_rules_would_not_give_keeps_its_recorded_words_and_says_so():
    output, inputs_json = answer("evaluation", EXAMPLE, "en")
    older = dict(output, recommendations=output["recommendations"][1:])  # what an earlier rule set answered
    assert relocalised(older, inputs_json, RULES_VERSION, "fr")[2] == "rules_changed"
    assert relocalised(output, inputs_json, "2020.1.1", "fr")[2] == "rules_changed"
    assert relocalised(output, None, RULES_VERSION, "fr")[2] == "not_recomputed"  # a CDS Hooks answer
    report = patient_report(older, trace=TRACE, endpoint="e", patient_hash=None, lang="fr", inputs_json=inputs_json)
    assert report.texts_as_recorded == "rules_changed"
    assert [r.text for r in report.recommendations] == [r["text"] for r in older["recommendations"]]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_recognised_and_rendered_again_identically_in_its_own_language(kind):
    output, inputs_json = answer(kind, KINDS[kind].example, "fr")
    assert kind_of(output) == kind
    fresh, _, why = relocalised(output, inputs_json, RULES_VERSION, "fr")
    assert why is None and fresh == output


def test_the_patient_summary_holds_the_facts_that_drove_the_advice_in_units():
    output, inputs_json = answer("evaluation", EXAMPLE, "en")
    report = patient_report(output, trace=TRACE, endpoint="e", patient_hash=None, lang="fr", inputs_json=inputs_json)
    summary = {f.label: f.value for f in report.summary}
    assert summary["Âge"] == "58 ans" and summary["Créatininémie"] == "70 µmol/L" and summary["Sexe"] == "Femme"
    assert summary["Indice de Karnofsky"] == "80 %" and summary["Poids"] == "62 kg"
    assert any(v == "24 mois" for v in summary.values())
    assert [(f.label, f.value) for f in report.lesions] == [("femur-R", "Os long — Région trochantérienne"),
                                                          ("T12", "Rachis — T12")]


def test_the_pseudonym_is_a_short_code_and_times_are_words_in_the_evaluations_time_zone():
    assert short_code("7f3a9c21b4" + "0" * 54) == "7F3A-9C21-B4"
    assert short_code(None) is None
    assert moment("2025-06-01T09:30:00.123456Z", ZoneInfo("Europe/Paris"), "fr") == "1 juin 2025, 11:30 (Europe/Paris)"
    assert moment("2025-12-31T23:30:00Z", ZoneInfo("Europe/Paris"), "en") == "1 Jan 2026, 00:30 (Europe/Paris)"
    assert moment("2025-12-31T23:30:00Z", dt.UTC, "en") == "31 Dec 2025, 23:30 (UTC)"


def test_each_citation_is_listed_once_and_recommendations_refer_to_it_by_number():
    output, inputs_json = answer("evaluation", EXAMPLE, "en")
    report = patient_report(output, trace=TRACE, endpoint="e", patient_hash=None, lang="en", inputs_json=inputs_json)
    assert len(set(report.references)) == len(report.references)
    for rec in report.recommendations:
        assert tuple(report.references[n - 1] for n in rec.refs) == rec.citations


def test_a_life_expectancy_computed_in_days_reads_in_weeks_under_three_months_else_in_months():
    assert recommendation_values({"life_expectancy_days": 21}, "fr")[0].value == "3 semaines"
    assert recommendation_values({"life_expectancy_days": 730.5}, "en")[0].value == "24 months"
    assert recommendation_values({"life_expectancy_days": 92}, "en")[0].value == "3 months"
