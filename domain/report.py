"""What a report says (the renderer in infra/pdf.py decides how it looks): a patient report from one
audited answer, and a registry summary folded from a bulk job's result lines."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec

from domain.kinds import KINDS
from domain.model import Language, Struct
from domain.report_values import Fact, case_summary, recommendation_values
from domain.scores import SCORES
from domain.texts import labels as words
from domain.texts.messages import localise
from domain.texts.report import labels
from domain.version import RULES_VERSION


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
    values: tuple[Fact, ...] = ()  # the computed values its text refers to (a clearance, a dose, a window)
    refs: tuple[int, ...] = ()  # its citations' numbers in the report's one references section


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
    patient: str | None  # a short code read from the keyed hash: never the chart's reference
    evaluation_date: str | None  # in words, in the report's language
    request: str
    computed_at: str  # the audit record's time, in words, in the evaluation's time zone
    summary: tuple[Fact, ...]  # what the advice was computed from
    lesions: tuple[Fact, ...]
    references: tuple[str, ...]  # every citation once; recommendations refer to them by number
    texts_as_recorded: str | None  # why the recorded words are printed, not rendered again in this language
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


def _not_evaluable(items: Iterable[dict[str, Any]], lang: Language) -> tuple[str, ...]:
    """Each rule not evaluable, once for every lesion that lacks the same inputs: "RT-1 (femur-R, T12): ..." """
    lesions: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for n in items:
        found = lesions.setdefault((n["rule_id"], tuple(n["missing"])), [])
        if n.get("lesion"):
            found.append(n["lesion"])
    return tuple(f"{rule}{' (' + ', '.join(where) + ')' if where else ''}: "
                 f"{', '.join(_missing(name, lang) for name in missing)}" for (rule, missing), where in lesions.items())


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


LANGUAGE_BOUND = frozenset({"text", "band_meaning", "message"})  # what an answer says in words, not codes


def _codes(value: Any) -> Any:
    """An answer without its words: what must be identical for a re-rendering to say the same thing."""
    if isinstance(value, dict):
        return {k: _codes(v) for k, v in value.items() if k not in LANGUAGE_BOUND}
    if isinstance(value, list | tuple):
        return [_codes(v) for v in value]
    return value


def kind_of(output: dict[str, Any]) -> str | None:
    """Which kind of request an audited answer answered: a score, a pathway, a whole case."""
    name = output.get("score") or output.get("pathway") or ("evaluation" if "lesions" in output else None)
    return name if name in KINDS else None


def relocalised(output: dict[str, Any], inputs_json: bytes | str | None, rules_version: str,
                lang: Language) -> tuple[dict[str, Any], Any, str | None]:
    """(the answer in `lang`, its inputs, why its recorded words are kept: None when they are the engine's own in
    `lang`, "rules_changed" or "not_recomputed"). The answer is computed
    again from its audited inputs in the report's language and kept only if, codes and values, it is the audited
    answer itself; otherwise (the rules changed since) the recorded words are printed, and the report says so."""
    kind = kind_of(output)
    if kind is None or inputs_json is None:
        return output, None, "not_recomputed"
    try:
        inputs = msgspec.json.decode(inputs_json, type=KINDS[kind].inputs)
    except (msgspec.ValidationError, ValueError):
        return output, None, "not_recomputed"
    if rules_version != RULES_VERSION:
        return output, inputs, "rules_changed"
    fresh = msgspec.json.decode(msgspec.json.encode(KINDS[kind].compute(inputs, lang)))
    if _codes(fresh) != _codes(output):
        return output, inputs, "rules_changed"
    return fresh, inputs, None


def short_code(patient_hash: str | None) -> str | None:
    """The pseudonym as a reader can say it (the first 40 bits of the keyed hash, e.g. 7F3A-9C21-B4): enough to tell
    one report from another; only the calling system links it to a chart."""
    if not patient_hash:
        return None
    head = patient_hash[:10].upper()
    return f"{head[:4]}-{head[4:8]}-{head[8:]}"


def moment(instant: str, tz: Any, lang: Language) -> str:
    """An audit record's UTC instant as a reader of `lang` writes it, in the evaluation's time zone (`tz`: a
    tzinfo), e.g. "1 juin 2025, 11:30 (Europe/Paris)"."""
    when = dt.datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(tz)
    sep = {"fr": ", ", "en": ", "}[lang]
    return f"{words.date(when.date(), lang)}{sep}{when:%H:%M} ({tz})"


def patient_report(output: dict[str, Any], *, trace: Trace, endpoint: str, patient_hash: str | None,
                   lang: Language, inputs_json: bytes | str | None = None, tz: Any = dt.UTC) -> PatientReport:
    """`output` is an audited answer as stored: a score, a pathway or a whole-case evaluation; `inputs_json` the
    record's inputs, from which the words are rendered again in `lang` and the patient summary is taken."""
    output, inputs, as_recorded = relocalised(output, inputs_json, trace.rules_version, lang)
    references: dict[str, int] = {}

    def refs(citations: Iterable[str]) -> tuple[int, ...]:
        return tuple(references.setdefault(c, len(references) + 1) for c in citations)

    if "score" in output:  # one score
        scores = (_score_block(output, None, lang),)
        rec = output["recommendation"]
        raw = [{**rec, "rcp_required": rec.get("rcp_required", rec["action"] == "rcp_discussion"), "lesion": None}]
        not_evaluable: tuple[str, ...] = ()
    else:  # a pathway or an evaluation
        scores = _scores_with_lesions(output, lang)
        raw = output["recommendations"]
        not_evaluable = _not_evaluable(output["not_evaluable"], lang)
    recommendations = tuple(RecommendationLine(
        rule_id=r["rule_id"], action=r["action"], action_label=words.ACTIONS[r["action"]][lang], text=r["text"],
        rcp_required=r["rcp_required"], urgency=r.get("urgency", "routine"), citations=tuple(r["citations"]),
        lesion=r.get("lesion"), values=recommendation_values(r.get("values") or {}, lang),
        refs=refs(r["citations"])) for r in raw)
    warnings = tuple(w["message"] for w in output["warnings"])
    withheld = tuple(WithheldLine(rule_id=w["rule_id"], action=w["action"],
                                  action_label=words.ACTIONS[w["action"]][lang], text=w["text"], urgency=w["urgency"],
                                  withheld_by=w["withheld_by"], reason=w["reason"]["text"], lesion=w.get("lesion"))
                     for w in output.get("withheld", ()))
    summary, lesions = case_summary(kind_of(output) or "", inputs, lang)
    evaluation_date = output.get("evaluation_date")
    return PatientReport(
        lang=lang, labels=labels(lang), patient=short_code(patient_hash),
        evaluation_date=words.date(dt.date.fromisoformat(evaluation_date), lang) if evaluation_date else None,
        request=endpoint, computed_at=moment(trace.computed_at, tz, lang), summary=summary, lesions=lesions,
        scores=scores, recommendations=recommendations, withheld=withheld, warnings=warnings,
        not_evaluable=not_evaluable, references=tuple(references), texts_as_recorded=as_recorded, trace=trace,
        document_date=(evaluation_date or trace.computed_at)[:10])


class Bar(Struct):
    label: str
    count: int
    percent: str = ""  # of the chart's denominator, in the report's notation


class Chart(Struct):
    title: str
    bars: tuple[Bar, ...]
    denominator: int = 0  # the lines the chart counts (a score: those where it was computed)


class ErrorLine(Struct):
    line: int
    line_id: str | None
    message: str


class ErrorCause(Struct):
    """Lines in error for one reason: the field and the message (its values blanked), how many, which first."""

    field: str
    message: str
    count: int
    percent: str
    lines: str  # the first line numbers, then "…"


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
    causes: tuple[ErrorCause, ...]
    more_causes: int
    errors: tuple[ErrorLine, ...]
    more_errors: int
    document_date: str
    messages_as_recorded: bool = False  # the lines' messages are in the job's language, which is not this one
    succeeded: str = ""  # share of the lines evaluated, e.g. "99.2 %"
    period: str = ""  # submitted → finished, in words, in the deployment's time zone


MAX_ERROR_LINES = 25
MAX_CAUSES = 12
MAX_ACTION_BARS = 20
CAUSE_LINES = 6
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\b\d+(?:[.,]\d+)?\b")  # a value inside a message


def percent(count: int, total: int, lang: Language) -> str:
    return f"{words.number(round(100 * count / total, 1), lang)} %" if total else "—"


def _cause(field: str, message: str) -> tuple[str, str]:
    """What makes two errors the same cause: the field without its indices, the message without its values."""
    return re.sub(r"\[\d+\]", "[]", field), QUOTED.sub("…", message)


def registry_summary(job: dict[str, Any], result_lines: Iterable[dict[str, Any]], lang: Language,
                     tz: Any = dt.UTC) -> RegistrySummary:
    """Fold a job's result lines (one pass, constant memory but for the counters) into its summary: each score's
    bands in clinical order with counts, percentages and the denominator; the actions; the lines in error grouped
    by cause (readable at 10,000 errors), then the first ones. Messages are put in `lang` where they were recorded
    in English (the job's language otherwise: a French message has no English source to go back to)."""
    bands: dict[str, Counter[str]] = {}
    actions: Counter[tuple[str, str]] = Counter()
    errors: list[ErrorLine] = []
    causes: Counter[tuple[str, str]] = Counter()
    cause_lines: dict[tuple[str, str], list[int]] = {}
    job_lang = job.get("language", lang)
    error_count = 0
    for line in result_lines:
        if not line["ok"]:
            error_count += 1
            problem = line["error"]
            first = (problem.get("errors") or [{"field": "$", "message": problem.get("detail", "")}])[0]
            message = localise(first["message"], lang) if job_lang == "en" else first["message"]
            key = _cause(first["field"], message)
            causes[key] += 1
            seen = cause_lines.setdefault(key, [])
            if len(seen) <= CAUSE_LINES:
                seen.append(line["line"])
            if len(errors) < MAX_ERROR_LINES:
                errors.append(ErrorLine(line=line["line"], line_id=None if line["line_id"] is None
                                        else str(line["line_id"]), message=f"{first['field']}: {message}"))
            continue
        result = line["result"]
        for score in ([result] if "score" in result else result.get("scores", [])):
            bands.setdefault(score["score"], Counter())[score["band"]] += 1
        recs = [result["recommendation"]] if "score" in result else result.get("recommendations", [])
        actions.update((r["rule_id"], r["action"]) for r in recs)
    evaluated = job["done"]

    def chart(name: str, counter: Counter[str]) -> Chart:
        n = sum(counter.values())
        return Chart(title=name, denominator=n, bars=tuple(
            Bar(label=words.BANDS[(name, band.code)][lang], count=counter[band.code],
                percent=percent(counter[band.code], n, lang)) for band in SCORES[name].BANDS))

    top = causes.most_common(MAX_CAUSES)
    return RegistrySummary(
        lang=lang, labels=labels(lang), job_id=job["id"], client=job["client"], total=job["total"],
        done=job["done"], failed=job["failed"], created_at=job["created_at"], finished_at=job["finished_at"],
        band_charts=tuple(chart(name, counter) for name, counter in sorted(bands.items())),
        action_chart=Chart(title="", denominator=evaluated, bars=tuple(
            Bar(label=f"{rule} — {words.ACTIONS[action][lang]}", count=c, percent=percent(c, evaluated, lang))
            for (rule, action), c in actions.most_common(MAX_ACTION_BARS))),
        causes=tuple(ErrorCause(field=field, message=message, count=c, percent=percent(c, error_count, lang),
                                lines=", ".join(map(str, cause_lines[(field, message)][:CAUSE_LINES]))
                                + (" …" if c > CAUSE_LINES else ""))
                     for (field, message), c in top),
        more_causes=len(causes) - len(top), errors=tuple(errors), more_errors=error_count - len(errors),
        messages_as_recorded=job_lang != lang and job_lang != "en" and error_count > 0,
        succeeded=percent(job["done"], job["total"], lang),
        period=" → ".join(moment(t, tz, lang) for t in (job["created_at"], job["finished_at"]) if t),
        document_date=(job["finished_at"] or job["created_at"])[:10])
