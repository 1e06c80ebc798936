"""What every pathway shares: its result, and a collector that fires rules, names missing inputs and
adds warnings, so that a pathway module is only its rules."""

from __future__ import annotations

from typing import Any

import msgspec

from domain import safety, texts, version
from domain.model import FieldProblem, InputRejected, Language, Reason, ScoreResult, Struct, under
from domain.model import Warning as EngineWarning
from domain.safety import Urgency

GUIDELINE = ("OncoBFC / NEON / ONCORIF. Métastases osseuses et cancer du poumon. Référentiel régional, "
             "état des connaissances au 17 septembre 2024",)


class PathwayRecommendation(Struct, omit_defaults=True):
    """One recommendation: its rule, a stable action code, text, sources, whether the multidisciplinary
    meeting (RCP) decides it (SAFE-6), how urgent it is (SAFE-7), the inputs that triggered it, the values it
    computed and, for a negative decision, one reason per unmet criterion or contraindication (SAFE-8)."""

    rule_id: str
    action: str
    text: str
    citations: tuple[str, ...]
    rcp_required: bool
    urgency: Urgency
    triggered_by: dict[str, Any]
    values: dict[str, Any] = {}  # noqa: RUF012 — msgspec copies a mutable default per instance
    reasons: tuple[Reason, ...] = ()
    lesion: str | None = None


class Withheld(Struct, omit_defaults=True):
    """A recommendation a safety rule removed: listed, never dropped silently (clinical-rules.md section 4)."""

    rule_id: str
    action: str
    text: str
    urgency: Urgency
    withheld_by: str
    reason: Reason
    lesion: str | None = None


class NotEvaluable(Struct, omit_defaults=True):
    """A rule that could not be evaluated: the inputs it needs and did not get. Never guessed."""

    rule_id: str
    missing: tuple[str, ...]
    lesion: str | None = None


class PathwayResult(Struct):
    pathway: str
    recommendations: tuple[PathwayRecommendation, ...]
    withheld: tuple[Withheld, ...]
    not_evaluable: tuple[NotEvaluable, ...]
    warnings: tuple[EngineWarning, ...]
    scores: tuple[ScoreResult, ...]
    guideline_version: str
    engine_version: str
    rules_version: str

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.rule_id for r in self.recommendations))


def _plain(value: Any) -> Any:
    """An input as JSON values; a nested Struct without its unset fields (and never a patient_ref)."""
    plain = msgspec.to_builtins(value)
    if isinstance(plain, dict):
        return {k: v for k, v in plain.items() if v is not None and k != "patient_ref"}
    return plain


class Collector:
    """Accumulates one pathway's outcome, in the caller's language."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang
        self.recommendations: list[PathwayRecommendation] = []
        self.withheld: list[Withheld] = []
        self.not_evaluable: list[NotEvaluable] = []
        self.warnings: list[EngineWarning] = []
        self.scores: list[ScoreResult] = []

    def need(self, rule_id: str, inputs: Any, *names: str) -> bool:
        """True when every named input is given; otherwise the rule is recorded as not evaluable."""
        missing = tuple(name for name in names if getattr(inputs, name) is None)
        if missing:
            self.missing(rule_id, *missing)
        return not missing

    def any_of(self, rule_id: str, inputs: Any, *names: str) -> bool:
        """True when one of the named conditions holds; when none holds and some are unknown, the rule is
        not evaluable (one of the unknown ones could hold)."""
        values = [getattr(inputs, name) for name in names]
        if any(values):
            return True
        unknown = tuple(name for name, value in zip(names, values, strict=True) if value is None)
        if unknown:
            self.missing(rule_id, *unknown)
        return False

    def missing(self, rule_id: str, *names: str) -> None:
        """Record `rule_id` as not evaluable for want of `names`."""
        self.not_evaluable.append(NotEvaluable(rule_id=rule_id, missing=names))

    def fire(self, rule_id: str, action: str, *, inputs: Any, fields: tuple[str, ...],
             values: dict[str, Any] | None = None, citations: tuple[str, ...] = (), urgency: Urgency | None = None,
             reasons: tuple[Reason, ...] = (), say: dict[str, Any] | None = None) -> PathwayRecommendation:
        """Fire a rule. Its RCP flag and base urgency come from the safety policy; `say` fills the text's
        placeholders; a negative decision's reasons are appended to its text, so the text says why."""
        text = texts.pathway_text(rule_id, action, self.lang)
        if say:
            text = text.format(**say)
        if reasons:
            text = f"{text} {' '.join(r.text for r in reasons)}"
        rec = PathwayRecommendation(
            rule_id=rule_id, action=action, text=text, citations=GUIDELINE + citations,
            rcp_required=safety.rcp_required(rule_id, action), urgency=urgency or safety.base_urgency(rule_id),
            triggered_by={f: _plain(getattr(inputs, f)) for f in fields}, values=values or {}, reasons=reasons)
        self.recommendations.append(rec)
        return rec

    def number(self, value: float, digits: int | None = None) -> str:
        """A number for a text, in the caller's language: 84, 3.5, 75.8 (fr: 3,5; 75,8)."""
        if digits is not None:
            text = f"{value:.{digits}f}"
        else:
            text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
        return text.replace(".", ",") if self.lang == "fr" else text

    def date(self, day: Any) -> str:
        """A date for a text, in words in the caller's language (4 June 2025: never 2025-06-04 in a sentence)."""
        from domain.texts.labels import date

        return date(day, self.lang)

    def reason(self, code: str, **say: Any) -> Reason:
        return Reason(code=code, text=texts.reason_text(code, self.lang).format(**say))

    def withhold(self, rule_id: str, action: str, *, by: str, reason: Reason, urgency: Urgency | None = None,
                 say: dict[str, Any] | None = None) -> None:
        """List a recommendation that a safety rule (`by`) removes, with the finding that removed it."""
        text = texts.pathway_text(rule_id, action, self.lang)
        self.withheld.append(Withheld(rule_id=rule_id, action=action, text=text.format(**say) if say else text,
                                      urgency=urgency or safety.base_urgency(rule_id), withheld_by=by,
                                      reason=reason))

    def withhold_fired(self, rec: PathwayRecommendation, *, by: str, reason: Reason) -> None:
        """Move an already fired recommendation to the withheld list."""
        self.recommendations.remove(rec)
        self.withheld.append(Withheld(rule_id=rec.rule_id, action=rec.action, text=rec.text, urgency=rec.urgency,
                                      withheld_by=by, reason=reason))

    def warn(self, code: str) -> None:
        if all(w.code != code for w in self.warnings):
            self.warnings.append(EngineWarning(code=code, message=texts.warning_text(code, self.lang)))

    def score(self, result: ScoreResult) -> ScoreResult:
        self.scores.append(result)
        for w in result.warnings:
            if all(existing.code != w.code for existing in self.warnings):
                self.warnings.append(w)
        return result

    def result(self, pathway: str, *, lesion: bool = False) -> PathwayResult:
        """The pathway's outcome, ordered by urgency (SAFE-7). For a lesion's own pathway (long bone, spine),
        every recommendation about the lesion inherits the lesion's highest urgency."""
        recommendations, withheld = self.recommendations, self.withheld
        if lesion:
            level = lesion_urgency(recommendations, withheld)
            recommendations = raise_urgency(recommendations, level)
            withheld = raise_urgency(withheld, level)
        return PathwayResult(
            pathway=pathway, recommendations=tuple(sorted(recommendations, key=safety.order_key)),
            withheld=tuple(withheld), not_evaluable=tuple(self.not_evaluable),
            warnings=tuple(self.warnings), scores=mark_withheld(self.scores, withheld),
            guideline_version=version.GUIDELINE_VERSION,
            engine_version=version.ENGINE_VERSION, rules_version=version.RULES_VERSION)


def mark_withheld(scores: Any, withheld: Any) -> tuple[ScoreResult, ...]:
    """Scores whose own recommendation a safety rule withheld say so (their total and band stay)."""
    by_action = {(w.rule_id, w.action): w for w in withheld}
    marked = []
    for score in scores:
        w = by_action.get((score.recommendation.rule_id, score.recommendation.action))
        if w is not None:
            score = msgspec.structs.replace(score, recommendation=msgspec.structs.replace(
                score.recommendation, withheld_by=w.withheld_by, withheld_reason=w.reason))
        marked.append(score)
    return tuple(marked)


def withhold_in(result: PathwayResult, rule_id: str, action: str, *, by: str, reason: Reason) -> PathwayResult:
    """`result` with its (rule_id, action) recommendation moved to the withheld list: a rule of another pathway of
    the same case forbids it."""
    moved = [r for r in result.recommendations if (r.rule_id, r.action) == (rule_id, action)]
    if not moved:
        return result
    withheld = (*result.withheld, *(Withheld(rule_id=r.rule_id, action=r.action, text=r.text, urgency=r.urgency,
                                             withheld_by=by, reason=reason) for r in moved))
    kept = tuple(r for r in result.recommendations if r not in moved)
    return msgspec.structs.replace(result, recommendations=kept, withheld=withheld,
                                   scores=mark_withheld(result.scores, withheld))


def lesion_urgency(*groups: Any) -> Urgency:
    """A lesion's highest urgency: that of the most urgent thing said about it, withheld or not."""
    return safety.highest(r.urgency for group in groups for r in group)


def raise_urgency(items: Any, level: Urgency) -> list[Any]:
    """`items` with every urgency at least `level`."""
    return [i if safety.RANK[i.urgency] <= safety.RANK[level] else msgspec.structs.replace(i, urgency=level)
            for i in items]


DAYS_PER_MONTH = 365.25 / 12
SIX_WEEKS_DAYS = 42.0
ONE_YEAR_DAYS = 12 * DAYS_PER_MONTH  # 365.25: "12 months" and "1 year" are the same boundary


def nested(name: str, module: Any, block: Any, lang: Language) -> ScoreResult:
    """A score computed on a pathway's nested block: its input problems named under the block (`sins.location`)."""
    with under(name):
        return module.compute(block, lang)


def compression_implies_threat(inputs: Any) -> None:
    """A compressed cord is a threatened one (SAFE-2): `cord_compression` true beside `cord_threat` false is 422."""
    if inputs.cord_compression and inputs.cord_threat is False:
        raise InputRejected([FieldProblem(field="cord_threat", message="false, yet cord_compression is true: a "
                                          "compressed cord is a threatened one", allowed=[True])], contradiction=True)


def life_expectancy_days(inputs: Any) -> float | None:
    """Life expectancy in days from `life_expectancy_weeks` or `life_expectancy_months` (one of them)."""
    if inputs.life_expectancy_weeks is not None and inputs.life_expectancy_months is not None:
        raise InputRejected([FieldProblem(field="life_expectancy_weeks|life_expectancy_months",
                                          message="give exactly one of the two, not both",
                                          allowed=["life_expectancy_weeks", "life_expectancy_months"])])
    if inputs.life_expectancy_weeks is not None:
        return inputs.life_expectancy_weeks * 7
    if inputs.life_expectancy_months is not None:
        return inputs.life_expectancy_months * DAYS_PER_MONTH
    return None


def gate_surgery(out: Collector, days: float | None, *, lesion_inputs: Any = None) -> None:
    """SAFE-1, life expectancy gates surgery. Under 6 weeks every surgical recommendation is withheld by SURG-1
    and, for a lesion, radiotherapy leads; from 6 weeks to 1 year resections are withheld by SURG-2 and the
    remaining procedures name its less aggressive modality; unknown, they stand with a warning."""
    surgical = [r for r in out.recommendations if (r.rule_id, r.action) in safety.SURGICAL]
    if not surgical:
        return
    if days is None:
        out.warn("surgery_life_expectancy_not_given")
        return
    weeks = out.number(days / 7)
    if days < SIX_WEEKS_DAYS:
        for rec in surgical:
            out.withhold_fired(rec, by="SURG-1", reason=out.reason("life_expectancy_under_6_weeks", weeks=weeks))
        if lesion_inputs is not None:
            compressing = getattr(lesion_inputs, "cord_compression", None)
            out.fire("SURG-1", "radiotherapy_instead_of_surgery_cord_compression" if compressing
                     else "radiotherapy_instead_of_surgery", inputs=lesion_inputs, fields=(),
                     values={"life_expectancy_weeks": round(days / 7, 1)})
    elif days <= ONE_YEAR_DAYS:
        note = texts.reason_text("surgery_modality_6_weeks_to_1_year", out.lang)
        for rec in surgical:
            if (rec.rule_id, rec.action) in safety.RESECTION:
                out.withhold_fired(rec, by="SURG-2", reason=out.reason("life_expectancy_6_weeks_to_1_year",
                                                                       weeks=weeks))
            elif (rec.rule_id, rec.action) in safety.MODALITY_NOTE:
                index = out.recommendations.index(rec)
                out.recommendations[index] = msgspec.structs.replace(rec, text=f"{rec.text} {note}")
