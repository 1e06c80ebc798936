"""The values a patient report prints, in the report's language: the facts of the case that drove the advice
(the patient summary), and the computed values each recommendation refers to (a clearance, a dose, a window).
Codes never reach the page: every one goes through the label table (domain/texts/labels.py)."""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any

import msgspec

from domain.model import Language, Struct
from domain.pathways._rules import DAYS_PER_MONTH
from domain.texts import REASONS
from domain.texts import labels as words
from domain.texts.report import VALUE_LABELS

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")


class Fact(Struct):
    label: str
    value: str


def yes_no(value: bool, lang: Language) -> str:
    return ({"fr": "Oui", "en": "Yes"} if value else {"fr": "Non", "en": "No"})[lang]


def enum_label(value: enum.Enum, lang: Language) -> str:
    name = words.ENUM_NAMES.get((type(value).__module__, type(value).__name__))
    found = words.ENUMS.get((name, value.value)) if name else None
    return found[lang] if found else str(value.value)


def code_label(code: str, lang: Language) -> str:
    """A code found in a value (a criterion, a contraindication, a factor) in words: the field or action it
    names, else the code with its underscores read as spaces (never seen so far: the tests hold every code named)."""
    if code in words.FIELDS:
        return words.FIELDS[code][lang]
    if code in words.ACTIONS:
        return words.ACTIONS[code][lang]
    if code in VALUE_LABELS:
        return VALUE_LABELS[code][lang]
    reason = REASONS.get(code)
    if reason is not None and "{" not in reason[lang]:
        return reason[lang].rstrip(".")
    return code.replace("_", " ")


def shown(value: Any, lang: Language, unit: str | None = None) -> str:
    """Any input or computed value as a reader of `lang` writes it."""
    if isinstance(value, bool):
        return yes_no(value, lang)
    if isinstance(value, enum.Enum):
        return enum_label(value, lang)
    if isinstance(value, dt.date):
        return words.date(value, lang)
    if isinstance(value, int | float):
        return f"{words.number(value, lang)} {unit}" if unit else words.number(value, lang)
    if isinstance(value, str) and ISO_DATE.match(value):
        return words.date(dt.date.fromisoformat(value), lang)
    if isinstance(value, dict):  # factors: each met, not met or unknown
        unknown = {"fr": "inconnu", "en": "unknown"}[lang]
        return "; ".join(f"{code_label(k, lang)} : {unknown if v is None else yes_no(v, lang)}" if lang == "fr"
                         else f"{code_label(k, lang)}: {unknown if v is None else yes_no(v, lang)}"
                         for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(code_label(v, lang) if isinstance(v, str) else shown(v, lang) for v in value) or "—"
    if hasattr(value, "display") and hasattr(value, "mg_dl"):  # a creatinine, in the unit it was given in
        return value.display(value.mg_dl(), lang)
    return str(value)


# computed values a recommendation carries that the page does not repeat: the lesion is its chip; the mg/dL twin
# of a value shown in the unit the creatinine was given in
SKIPPED_VALUES = frozenset({"lesion", "resume_at_or_below_mg_dl",
                            "criteria", "unmet_criteria"})  # a "no"'s criteria: its text states each (SAFE-8)


def recommendation_values(values: dict[str, Any], lang: Language) -> tuple[Fact, ...]:
    """The computed values of one recommendation, labelled, with units, in the report's language."""
    facts = []
    for key, value in values.items():
        if key in SKIPPED_VALUES or value is None:
            continue
        if key.endswith(("_band", "_group")):
            score = key.rsplit("_", 1)[0]
            band = words.BANDS.get((score, value))
            facts.append(Fact(label=VALUE_LABELS[key][lang] if key in VALUE_LABELS else score.title(),
                              value=band[lang] if band else str(value)))
            continue
        if key == "life_expectancy_days":  # computed in days; read in weeks under 3 months, else in months
            key, value = (("life_expectancy_weeks", round(value / 7, 1)) if value < 3 * DAYS_PER_MONTH
                          else ("life_expectancy_months", round(value / DAYS_PER_MONTH, 1)))
        label = VALUE_LABELS.get(key)
        unit = label.get("unit", {}).get(lang) if label else None
        facts.append(Fact(label=label[lang] if label else code_label(key, lang), value=shown(value, lang, unit)))
    return tuple(facts)


SUMMARY_LABELS = {  # where the form's label names the unit, the summary, which prints it, does not
    "life_expectancy_weeks": {"fr": "Espérance de vie estimée", "en": "Estimated life expectancy"},
    "life_expectancy_months": {"fr": "Espérance de vie estimée", "en": "Estimated life expectancy"},
}


def field_fact(name: str, value: Any, lang: Language) -> Fact:
    if name == "frankel":
        grade = words.VALUES[("tokuhashi", "frankel", str(value.value))]
        return Fact(label=words.FIELDS[name][lang], value=grade[lang])
    label = words.FIELDS.get(name)
    if name in SUMMARY_LABELS:
        return Fact(label=SUMMARY_LABELS[name][lang], value=shown(value, lang, words.unit(name, lang)))
    return Fact(label=label[lang] if label else code_label(name, lang),
                value=shown(value, lang, words.unit(name, lang) if label else None))


def case_summary(kind: str, inputs: Any, lang: Language) -> tuple[tuple[Fact, ...], tuple[Fact, ...]]:
    """(facts, lesions): what the advice was computed from. A whole case: its shared facts (each given once,
    SAFE-10) and its lesions; a pathway: the fields it was given; a score: nothing (its table shows its items)."""
    if inputs is None or (kind not in ("evaluation",) and not hasattr(inputs, "__struct_fields__")):
        return (), ()
    if kind == "evaluation":
        from domain.evaluation import shared_facts

        facts = []
        for name, (value, _) in shared_facts(inputs).items():
            if name == "evaluation_date":
                continue
            if name == "life_expectancy":
                name, value = value
            facts.append(field_fact(name, value, lang))
        for name in ("frankel",):
            if getattr(inputs, name, None) is not None:
                facts.append(field_fact(name, getattr(inputs, name), lang))
        lesions = tuple(Fact(label=lesion.id, value=lesion_words(lesion, lang)) for lesion in inputs.lesions)
        return tuple(facts), lesions
    from domain.scores import SCORES

    if kind in SCORES:
        return (), ()
    return tuple(field_fact(name, getattr(inputs, name), lang) for name in inputs.__struct_fields__
                 if name not in ("patient_ref", "evaluation_date") and _scalar(getattr(inputs, name))), ()


def _scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, msgspec.Struct | dict | list)


def lesion_words(lesion: Any, lang: Language) -> str:
    """A lesion as a line of the summary: its kind and where it is."""
    where = []
    if lesion.long_bone is not None and lesion.long_bone.location is not None:
        where.append(shown(lesion.long_bone.location, lang))
    if lesion.spine is not None and lesion.spine.sins is not None and lesion.spine.sins.level is not None:
        where.append(str(lesion.spine.sins.level))
    return " — ".join([shown(lesion.kind, lang), *where])
