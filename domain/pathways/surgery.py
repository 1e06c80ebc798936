"""Surgery by life expectancy (SURG-1/2/3), Tokuhashi and Tomita strategies (SURG-4/5), and the factors of
a better functional outcome (SURG-6), reported apart from the scores' bands."""

from __future__ import annotations

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import AGE, ASA_CLASS, LIFE_EXPECTANCY_MONTHS, LIFE_EXPECTANCY_WEEKS, opt
from domain.pathways._rules import (
    ONE_YEAR_DAYS,
    SIX_WEEKS_DAYS,
    Collector,
    PathwayResult,
    gate_surgery,
    life_expectancy_days,
    nested,
)
from domain.scores import tokuhashi, tomita

NAME = "surgery"
RULE_IDS = ("SURG-1", "SURG-2", "SURG-3", "SURG-4", "SURG-5", "SURG-6")


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"life_expectancy_months": 10, "age": 66, "asa_class": 2,
           "tomita": {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A patient for whom surgery of a bone metastasis is considered."""

    life_expectancy_weeks: LIFE_EXPECTANCY_WEEKS = None
    life_expectancy_months: LIFE_EXPECTANCY_MONTHS = None
    tokuhashi: opt(tokuhashi.Inputs, "Revised Tokuhashi items.") = None
    tomita: opt(tomita.Inputs, "Tomita items.") = None
    age: AGE = None
    early_discovery: opt(bool, "The metastasis was discovered early.") = None
    asa_class: ASA_CLASS = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    out = Collector(lang)
    days = life_expectancy_days(inputs)
    by_life_expectancy(inputs, days, out)
    scores = {}
    for rule_id, name, module in (("SURG-4", "tokuhashi", tokuhashi), ("SURG-5", "tomita", tomita)):
        if out.need(rule_id, inputs, name):
            score = scores[name] = out.score(nested(name, module, getattr(inputs, name), lang))
            band = next(b for b in module.BANDS if b.code == score.band)
            out.fire(rule_id, band.action, inputs=inputs, fields=(name,), citations=module.CITATIONS,
                     values={f"{name}_total": score.total, f"{name}_band": score.band})
    functional_factors(inputs, scores, out)
    scores_predict_short_survival(scores, out)
    gate_surgery(out, days)
    return out.result(NAME)


def scores_predict_short_survival(scores: dict, out: Collector) -> None:
    """Life expectancy over a year (SURG-3) beside a Tokuhashi predicting under 6 months or a Tomita of
    supportive care: the estimate and the scores disagree, and the answer takes the safer side: no
    resection-reconstruction, with a warning to reconcile them in RCP (a reading, docs/readings.md)."""
    surg3 = next((r for r in out.recommendations if r.rule_id == "SURG-3"), None)
    short = [(rule, code) for rule, name, band, code in (
        ("SURG-4", "tokuhashi", "under_6_months", "tokuhashi_under_6_months"),
        ("SURG-5", "tomita", "supportive_care", "tomita_supportive_care"))
        if name in scores and scores[name].band == band]
    if surg3 is not None and short:
        out.withhold_fired(surg3, by=short[0][0], reason=out.reason(short[0][1]))
        out.warn("life_expectancy_disagrees_with_scores")


def by_life_expectancy(inputs: Inputs, days: float | None, out: Collector) -> None:
    if days is None:
        out.missing("SURG-1", "life_expectancy_weeks|life_expectancy_months")
        return
    fields = ("life_expectancy_weeks",) if inputs.life_expectancy_weeks is not None else ("life_expectancy_months",)
    if days == SIX_WEEKS_DAYS:
        out.warn("boundary_life_expectancy_6_weeks")
    if days == ONE_YEAR_DAYS:
        out.warn("boundary_life_expectancy_1_year")
    values = {"life_expectancy_days": round(days, 2)}
    if days < SIX_WEEKS_DAYS:
        out.fire("SURG-1", "no_surgery", inputs=inputs, fields=fields, values=values)
    elif days <= ONE_YEAR_DAYS:
        out.fire("SURG-2", "stabilisation", inputs=inputs, fields=fields, values=values)
    else:
        out.fire("SURG-3", "resection_reconstruction", inputs=inputs, fields=fields, values=values)


def functional_factors(inputs: Inputs, scores: dict, out: Collector) -> None:
    """SURG-6, informational (Kim 2014's modified scores): each factor met, not met, or unknown."""
    factors = {
        "tokuhashi_at_least_6": scores["tokuhashi"].total >= 6 if "tokuhashi" in scores else None,
        "tomita_at_most_8": scores["tomita"].total <= 8 if "tomita" in scores else None,
        "age_under_70": inputs.age < 70 if inputs.age is not None else None,
        "early_discovery": inputs.early_discovery,
        "few_comorbidities": inputs.asa_class <= 2 if inputs.asa_class is not None else None,
    }
    if all(v is None for v in factors.values()):
        out.missing("SURG-6", "tokuhashi", "tomita", "age", "early_discovery", "asa_class")
    elif any(factors.values()):
        fields = tuple(f for f in ("tokuhashi", "tomita", "age", "early_discovery", "asa_class")
                       if getattr(inputs, f) is not None)
        out.fire("SURG-6", "favourable_functional_prognosis", inputs=inputs, fields=fields,
                 values={"factors": factors}, citations=KIM)


KIM = ("Kim J, Lee SH, Park SJ, et al. Analysis of the predictive role and new proposal for surgical strategies "
       "based on the modified Tomita and Tokuhashi scoring systems for spinal metastasis. World J Surg Oncol. "
       "2014;12:245",)
