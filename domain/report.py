"""What a report says (the renderer in infra/pdf.py decides how it looks): a patient report from one
audited answer, and a registry summary folded from a bulk job's result lines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from domain.model import Language, Struct
from domain.scores import SCORES
from domain.texts import labels as words
from domain.texts.report import labels


class ItemRow(Struct):
    item: str  # the code, kept for the record
    label: str  # the item and its value, in the report's language (domain/texts/labels.py)
    value: str
    points: int


class ScoreBlock(Struct):
    score: str
    total: int
    band: str
    band_label: str
    band_meaning: str
    items: tuple[ItemRow, ...]
    warnings: tuple[str, ...]
    rule_id: str
    lesion: str | None
    withheld_by: str | None = None  # the score's own advice was withheld by this safety rule


class RecommendationLine(Struct):
    rule_id: str
    action: str
    action_label: str
    text: str
    rcp_required: bool
    urgency: str
    citations: tuple[str, ...]
    lesion: str | None


class WithheldLine(Struct):
    """A recommendation a safety rule removed (clinical-rules.md section 4), printed as such with its reason."""

    rule_id: str
    action: str
    action_label: str
    text: str
    urgency: str
    withheld_by: str
    reason: str
    lesion: str | None


class Trace(Struct):
    audit_id: str
    audit_hash: str
    computed_at: str
    guideline_version: str
    engine_version: str
    rules_version: str


class PatientReport(Struct):
    lang: Language
    labels: dict[str, str]
    patient: str | None
    evaluation_date: str | None
    request: str
    scores: tuple[ScoreBlock, ...]
    recommendations: tuple[RecommendationLine, ...]
    withheld: tuple[WithheldLine, ...]
    warnings: tuple[str, ...]
    not_evaluable: tuple[str, ...]
    trace: Trace
    document_date: str  # the evaluation's date: the PDF's own date, so the same input gives the same bytes


def _plain(value: Any, lang: Language) -> str:
    """A value that is not a code: yes/no, a number in the language's notation, or the text as given."""
    if isinstance(value, bool):
        return {"fr": "Oui", "en": "Yes"}[lang] if value else {"fr": "Non", "en": "No"}[lang]
    if isinstance(value, int | float):
        return words.number(value, lang)
    return str(value)


def _derived(item: str, derived: Any, lang: Language) -> str:
    """What an item's value was read from, shown beside it: a vertebral level, a percentage, Frankel findings."""
    if isinstance(derived, dict):  # Frankel findings
        return ", ".join(words.ENUMS[(f"Frankel{part.title()}", derived[part])][lang] for part in ("motor", "sensory")
                         if part in derived)
    if item == "size":  # a fraction of the bone's diameter
        return f"{words.number(round(derived * 100, 1), lang)} %"
    if item == "collapse":
        return f"{words.number(derived, lang)} %"
    return _plain(derived, lang)


def _missing(name: str, lang: Language) -> str:
    """A missing input in words: `life_expectancy_weeks|life_expectancy_months` -> one label or the other."""
    word = {"fr": " ou ", "en": " or "}[lang]
    return word.join(words.FIELDS[part][lang] if part in words.FIELDS else part for part in name.split("|"))


def _item_row(score: str, item: dict[str, Any], lang: Language) -> ItemRow:
    name, value = item["item"], item["value"]
    label = (words.ITEMS.get((score, name)) or words.FIELDS[name])[lang]
    shown = words.VALUES[(score, name, value)][lang] if (score, name, value) in words.VALUES else _plain(value, lang)
    unit = words.unit(name, lang)
    if unit and isinstance(value, int | float) and not isinstance(value, bool):
        shown = f"{shown} {unit}"
    if item.get("derived_from") is not None:
        shown = f"{shown} ({_derived(name, item['derived_from'], lang)})"
    return ItemRow(item=name, label=label, value=shown, points=item["points"])


def _score_block(score: dict[str, Any], lesion: str | None, lang: Language) -> ScoreBlock:
    return ScoreBlock(
        score=score["score"], total=score["total"], band=score["band"],
        band_label=words.BANDS[(score["score"], score["band"])][lang], band_meaning=score["band_meaning"],
        items=tuple(_item_row(score["score"], i, lang) for i in score["items"]),
        warnings=tuple(w["message"] for w in score["warnings"]), rule_id=score["recommendation"]["rule_id"],
        lesion=lesion, withheld_by=score["recommendation"].get("withheld_by"))


def _scores_with_lesions(output: dict[str, Any], lang: Language) -> tuple[ScoreBlock, ...]:
    """Every score of a pathway or evaluation, each lesion's own first, under its lesion's id."""
    remaining = list(output["scores"])
    blocks = []
    for lesion in output.get("lesions", []):
        for score in lesion["scores"]:
            blocks.append(_score_block(score, lesion["id"], lang))
            remaining.remove(score)
    return (*blocks, *(_score_block(s, None, lang) for s in remaining))


def patient_report(output: dict[str, Any], *, trace: Trace, endpoint: str, patient_hash: str | None,
                   lang: Language) -> PatientReport:
    """`output` is an audited answer as stored: a score, a pathway or a whole-case evaluation."""
    if "score" in output:  # one score
        scores = (_score_block(output, None, lang),)
        rec = output["recommendation"]
        recommendations = (RecommendationLine(rule_id=rec["rule_id"], action=rec["action"],
                                              action_label=words.ACTIONS[rec["action"]][lang], text=rec["text"],
                                              rcp_required=rec.get("rcp_required", rec["action"] == "rcp_discussion"),
                                              urgency=rec.get("urgency", "routine"),
                                              citations=tuple(rec["citations"]), lesion=None),)
        warnings = tuple(w["message"] for w in output["warnings"])
        not_evaluable: tuple[str, ...] = ()
    else:  # a pathway or an evaluation
        scores = _scores_with_lesions(output, lang)
        recommendations = tuple(RecommendationLine(
            rule_id=r["rule_id"], action=r["action"], action_label=words.ACTIONS[r["action"]][lang], text=r["text"],
            rcp_required=r["rcp_required"],
            urgency=r.get("urgency", "routine"), citations=tuple(r["citations"]), lesion=r.get("lesion"))
            for r in output["recommendations"])
        warnings = tuple(w["message"] for w in output["warnings"])
        not_evaluable = tuple(f"{n['rule_id']}{' (' + n['lesion'] + ')' if n.get('lesion') else ''}: "
                              f"{', '.join(_missing(name, lang) for name in n['missing'])}"
                              for n in output["not_evaluable"])
    withheld = tuple(WithheldLine(rule_id=w["rule_id"], action=w["action"],
                                  action_label=words.ACTIONS[w["action"]][lang], text=w["text"], urgency=w["urgency"],
                                  withheld_by=w["withheld_by"], reason=w["reason"]["text"], lesion=w.get("lesion"))
                     for w in output.get("withheld", ()))
    evaluation_date = output.get("evaluation_date")
    return PatientReport(
        lang=lang, labels=labels(lang), patient=patient_hash[:16] if patient_hash else None,
        evaluation_date=evaluation_date, request=endpoint, scores=scores, recommendations=recommendations,
        withheld=withheld, warnings=warnings, not_evaluable=not_evaluable, trace=trace,
        document_date=(evaluation_date or trace.computed_at)[:10])


class Bar(Struct):
    label: str
    count: int


class Chart(Struct):
    title: str
    bars: tuple[Bar, ...]


class ErrorLine(Struct):
    line: int
    line_id: str | None
    message: str


class RegistrySummary(Struct):
    lang: Language
    labels: dict[str, str]
    job_id: str
    client: str
    total: int
    done: int
    failed: int
    created_at: str
    finished_at: str | None
    band_charts: tuple[Chart, ...]
    action_chart: Chart
    errors: tuple[ErrorLine, ...]
    more_errors: int
    document_date: str


MAX_ERROR_LINES = 40
MAX_ACTION_BARS = 20


def registry_summary(job: dict[str, Any], result_lines: Iterable[dict[str, Any]], lang: Language) -> RegistrySummary:
    """Fold a job's result lines (one pass, constant memory but for the counters) into its summary."""
    bands: dict[str, Counter[str]] = {}
    actions: Counter[tuple[str, str]] = Counter()
    errors: list[ErrorLine] = []
    error_count = 0
    for line in result_lines:
        if not line["ok"]:
            error_count += 1
            if len(errors) < MAX_ERROR_LINES:
                problem = line["error"]
                first = problem.get("errors") or [{"field": "$", "message": problem["detail"]}]
                errors.append(ErrorLine(line=line["line"], line_id=None if line["line_id"] is None
                                        else str(line["line_id"]),
                                        message=f"{first[0]['field']}: {first[0]['message']}"))
            continue
        result = line["result"]
        for score in ([result] if "score" in result else result.get("scores", [])):
            bands.setdefault(score["score"], Counter())[score["band"]] += 1
        recs = [result["recommendation"]] if "score" in result else result.get("recommendations", [])
        actions.update((r["rule_id"], r["action"]) for r in recs)
    return RegistrySummary(
        lang=lang, labels=labels(lang), job_id=job["id"], client=job["client"], total=job["total"], done=job["done"],
        failed=job["failed"], created_at=job["created_at"], finished_at=job["finished_at"],
        band_charts=tuple(Chart(title=name, bars=tuple(
            Bar(label=words.BANDS[(name, band.code)][lang], count=counter[band.code]) for band in SCORES[name].BANDS))
            for name, counter in sorted(bands.items())),
        action_chart=Chart(title="", bars=tuple(
            Bar(label=f"{rule} — {words.ACTIONS[action][lang]}", count=c)
            for (rule, action), c in actions.most_common(MAX_ACTION_BARS))),
        errors=tuple(errors), more_errors=error_count - len(errors),
        document_date=(job["finished_at"] or job["created_at"])[:10])
