"""What every pathway shares: its result, and a collector that fires rules, names missing inputs and
adds warnings, so that a pathway module is only its rules."""

from __future__ import annotations

from typing import Any

import msgspec

from domain import texts, version
from domain.model import Language, ScoreResult, Struct
from domain.model import Warning as EngineWarning

GUIDELINE = ("OncoBFC / NEON / ONCORIF. Métastases osseuses et cancer du poumon. Référentiel régional, "
             "état des connaissances au 17 septembre 2024",)


class PathwayRecommendation(Struct, omit_defaults=True):
    """One recommendation: its rule, a stable action code, text, sources, whether the guideline asks for
    the multidisciplinary meeting (RCP), the inputs that triggered it and the values it computed."""

    rule_id: str
    action: str
    text: str
    citations: tuple[str, ...]
    rcp_required: bool
    triggered_by: dict[str, Any]
    values: dict[str, Any] = {}  # noqa: RUF012 — msgspec copies a mutable default per instance
    lesion: str | None = None


class NotEvaluable(Struct, omit_defaults=True):
    """A rule that could not be evaluated: the inputs it needs and did not get. Never guessed."""

    rule_id: str
    missing: tuple[str, ...]
    lesion: str | None = None


class PathwayResult(Struct):
    pathway: str
    recommendations: tuple[PathwayRecommendation, ...]
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

    def fire(self, rule_id: str, action: str, *, inputs: Any, fields: tuple[str, ...], rcp: bool = False,
             values: dict[str, Any] | None = None, citations: tuple[str, ...] = ()) -> None:
        self.recommendations.append(PathwayRecommendation(
            rule_id=rule_id, action=action, text=texts.pathway_text(rule_id, action, self.lang),
            citations=GUIDELINE + citations, rcp_required=rcp,
            triggered_by={f: _plain(getattr(inputs, f)) for f in fields}, values=values or {}))

    def warn(self, code: str) -> None:
        if all(w.code != code for w in self.warnings):
            self.warnings.append(EngineWarning(code=code, message=texts.warning_text(code, self.lang)))

    def score(self, result: ScoreResult) -> ScoreResult:
        self.scores.append(result)
        for w in result.warnings:
            if all(existing.code != w.code for existing in self.warnings):
                self.warnings.append(w)
        return result

    def result(self, pathway: str) -> PathwayResult:
        return PathwayResult(
            pathway=pathway, recommendations=tuple(self.recommendations), not_evaluable=tuple(self.not_evaluable),
            warnings=tuple(self.warnings), scores=tuple(self.scores), guideline_version=version.GUIDELINE_VERSION,
            engine_version=version.ENGINE_VERSION, rules_version=version.RULES_VERSION)


DAYS_PER_MONTH = 365.25 / 12


def life_expectancy_days(inputs: Any) -> float | None:
    """Life expectancy in days from `life_expectancy_weeks` or `life_expectancy_months` (one of them)."""
    if inputs.life_expectancy_weeks is not None:
        return inputs.life_expectancy_weeks * 7
    if inputs.life_expectancy_months is not None:
        return inputs.life_expectancy_months * DAYS_PER_MONTH
    return None
