"""The catalogue: every score's inputs, allowed values, points, bands, rule ids and citations, from the
tables themselves, so that forms built from it can never drift from what the engine computes."""

from __future__ import annotations

import functools
import typing
from typing import Any

import msgspec

from domain import safety, texts, version
from domain.evaluation import Case
from domain.model import Language
from domain.pathways import PATHWAYS
from domain.scores import SCORES, frankel
from domain.texts import labels
from domain.texts.pathways import PATHWAY_TEXTS


def field_names(kind: Any, seen: set[type] | None = None) -> list[str]:
    """Every field name of a Struct, of the Structs nested in it (through Optional, Annotated, lists...), in
    order of first appearance, each once: a form's fields, flat by name."""
    seen = set() if seen is None else seen
    names: list[str] = []
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        if kind in seen:
            return names
        seen.add(kind)
        for field in msgspec.structs.fields(kind):
            names.append(field.name)
            names.extend(field_names(field.type, seen))
    for inner in typing.get_args(kind):
        names.extend(field_names(inner, seen))
    return list(dict.fromkeys(names))


def field_labels(kind: Any, lang: Language) -> dict[str, dict[str, Any]]:
    """The display label of every field an input takes, nested blocks' fields included, in the language asked
    and in both, with its unit when it has one (one table: domain/texts/labels.py)."""
    entries: dict[str, dict[str, Any]] = {}
    for name in field_names(kind):
        entry: dict[str, Any] = {"label": labels.field_label(name, lang),
                                 "labels": {"fr": labels.FIELDS[name]["fr"], "en": labels.FIELDS[name]["en"]}}
        if (unit := labels.unit(name, lang)) is not None:
            entry["unit"] = unit
        entries[name] = entry
    return entries


def score_entry(module: Any, lang: Language) -> dict[str, Any]:
    return {
        "score": module.NAME,
        "endpoint": f"/v1/scores/{module.NAME}",
        "description": (module.__doc__ or "").strip(),
        "citations": list(module.CITATIONS),
        "total_range": list(module.TOTAL_RANGE),
        "inputs": msgspec.json.schema(module.Inputs),
        "items": {item: [{"value": str(v), "points": p, "label": labels.VALUES[module.NAME, item, str(v)][lang],
                          "labels": labels.VALUES[module.NAME, item, str(v)]} for v, p in table.items()]
                  for item, table in module.ITEM_POINTS.items()},
        # the display label of each item, in the language asked and in both (one table: domain/texts/labels.py)
        "item_labels": {item: {"label": labels.ITEMS[module.NAME, item][lang],
                               "labels": labels.ITEMS[module.NAME, item]} for item in module.ITEM_POINTS},
        "field_labels": field_labels(module.Inputs, lang),
        "bands": [{"code": b.code, "label": labels.BANDS[module.NAME, b.code][lang],
                   "labels": labels.BANDS[module.NAME, b.code], "low": b.low, "high": b.high, "rule_id": b.rule_id,
                   "action": b.action, "action_label": labels.action_label(b.action, lang),
                   "action_labels": labels.ACTIONS[b.action],
                   "meaning": texts.band_meaning(module.NAME, b.code, lang),
                   "recommendation": texts.recommendation_text(b.rule_id, b.action, lang),
                   "urgency": safety.band_urgency(module.NAME, b.code, b.rule_id),
                   "rcp_required": safety.rcp_required(b.rule_id, b.action)}
                  for b in module.BANDS],
    }


def pathway_entry(module: Any, lang: Language) -> dict[str, Any]:
    """A pathway's rules and every action they can answer with (the score bands' ones included)."""
    texts_of = {**texts.RECOMMENDATIONS, **PATHWAY_TEXTS}
    actions = [{"rule_id": rule, "action": action, "text": text[lang],
                "action_label": labels.action_label(action, lang), "action_labels": labels.ACTIONS[action],
                "urgency": safety.base_urgency(rule),
                "rcp_required": safety.rcp_required(rule, action),
                "negative": (rule, action) in safety.NEGATIVE_ACTIONS,
                "surgical": (rule, action) in safety.SURGICAL}
               for (rule, action), text in texts_of.items() if rule in module.RULE_IDS]
    return {
        "pathway": module.NAME,
        "endpoint": f"/v1/pathways/{module.NAME}",
        "description": (module.__doc__ or "").strip(),
        "rule_ids": list(module.RULE_IDS),
        "actions": actions,
        "inputs": msgspec.json.schema(module.Inputs),
        "field_labels": field_labels(module.Inputs, lang),
    }


# Every rule that may appear as `withheld_by`, and what it withholds (clinical-rules.md section 4).
WITHHOLDING_RULES = {
    "SURG-1": "life expectancy under 6 weeks withholds every surgical recommendation (SAFE-1)",
    "SURG-2": "life expectancy 6 weeks to 1 year withholds resections (SAFE-1)",
    "SURG-4": "a Tokuhashi under 6 months withholds resection-reconstruction",
    "SURG-5": "a Tomita of supportive care withholds resection-reconstruction",
    "SAFE-2": "a cementoplasty contraindication withholds cementoplasty, wherever proposed",
    "AR-1": "an inhibitor not indicated withholds the systemic inhibitor of SYS-1",
    "AR-2": "a creatinine withhold supersedes the zoledronic-acid dose (SAFE-3)",
    "AR-6": "stopping denosumab withholds starting it",
    "MSCC-1": "a compressed cord withholds thermal ablation at that level: emergency radiotherapy leads",
    "MSCC-5": "surgery disfavoured withholds the surgical opinion of the compressing lesion",
    "RT-4": "not eligible for SBRT withholds the SBRT trial (STEREO-OS)",
}


@functools.cache
def catalogue(lang: Language) -> dict[str, Any]:
    return {
        "guideline_version": version.GUIDELINE_VERSION,
        "rules_version": version.RULES_VERSION,
        "engine_version": version.ENGINE_VERSION,
        "scores": [score_entry(m, lang) for m in SCORES.values()],
        "pathways": [pathway_entry(m, lang) for m in PATHWAYS.values()],
        "evaluation": {"endpoint": "/v1/evaluations", "inputs": msgspec.json.schema(Case),
                       "field_labels": field_labels(Case, lang)},
        "grades": [{"grade": "frankel", "citations": list(frankel.CITATIONS),
                    "values": [{"grade": g.value, "deficit": frankel.DEFICIT[g].value,
                                "description": frankel.DESCRIPTIONS[g][lang]} for g in frankel.Grade]}],
        "warnings": sorted(texts.WARNINGS),
        # every warning code with its text in the language asked and in both; the values of the pathways' and
        # the whole case's enumerations with their labels (domain/texts/labels.py)
        "warning_texts": {code: {"text": text[lang], "texts": text} for code, text in sorted(texts.WARNINGS.items())},
        "value_labels": {name: {value: {"label": label[lang], "labels": label}
                                for (enum_name, value), label in labels.ENUMS.items() if enum_name == name}
                         for name in dict.fromkeys(enum_name for enum_name, _ in labels.ENUMS)},
        # Section 4 of clinical-rules.md: urgencies (SAFE-7), the rules that withhold (SAFE-1/2/3), reason codes
        "urgencies": {"levels": [u.value for u in safety.Urgency], "by_rule_id": dict(safety.RULE_URGENCY),
                      "urgent_bands": sorted(f"{score}:{band}" for score, band in safety.URGENT_BANDS),
                      "note": "A recommendation about a lesion inherits the lesion's highest urgency."},
        "withholding_rules": WITHHOLDING_RULES,
        "reasons": [{"code": code, "text": text[lang]} for code, text in sorted(texts.REASONS.items())],
    }
