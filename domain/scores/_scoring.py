"""The few lines every score shares: item lookup, band lookup and the result they make."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from domain import safety, texts, version
from domain.model import Band, FieldProblem, InputRejected, ItemScore, Language, Recommendation, ScoreResult
from domain.model import Warning as EngineWarning


def item(name: str, value: StrEnum, points: Mapping[StrEnum, int]) -> ItemScore:
    """The points of one enumerated item, read from its table."""
    return ItemScore(item=name, value=str(value), points=points[value])


def band_of(total: int, bands: Iterable[Band]) -> Band:
    """The band whose closed range holds `total`; the tables cover their whole range, so one always does."""
    for band in bands:
        if band.low <= total <= band.high:
            return band
    raise AssertionError(f"total {total} is outside every band")  # unreachable: property-tested


def warning(code: str, lang: Language) -> EngineWarning:
    return EngineWarning(code=code, message=texts.warning_text(code, lang))


def result(
    score: str,
    items: list[ItemScore],
    bands: tuple[Band, ...],
    citations: tuple[str, ...],
    lang: Language,
    warnings: tuple[EngineWarning, ...] = (),
) -> ScoreResult:
    """Total the items, find the band and state the recommendation, in `lang`."""
    total = sum(i.points for i in items)
    band = band_of(total, bands)
    return ScoreResult(
        score=score,
        total=total,
        band=band.code,
        band_meaning=texts.band_meaning(score, band.code, lang),
        items=tuple(items),
        recommendation=Recommendation(
            rule_id=band.rule_id,
            action=band.action,
            text=texts.recommendation_text(band.rule_id, band.action, lang),
            citations=citations,
            rcp_required=safety.rcp_required(band.rule_id, band.action),
            urgency=safety.band_urgency(score, band.code, band.rule_id),
        ),
        warnings=warnings,
        guideline_version=version.GUIDELINE_VERSION,
        engine_version=version.ENGINE_VERSION,
        rules_version=version.RULES_VERSION,
    )


def exactly_one(inputs: object, first: str, second: str) -> None:
    """Reject a request that gives both, or neither, of two alternative fields."""
    given = [name for name in (first, second) if getattr(inputs, name) is not None]
    if len(given) == 1:
        return
    message = "give exactly one of the two" + (", not both" if given else "; neither was given")
    raise InputRejected([FieldProblem(field=f"{first}|{second}", message=message, allowed=[first, second])])
