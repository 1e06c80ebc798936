"""Radiotherapy (RT): palliative schedules, the post-operative window, the operated field, and stereotactic
eligibility with each contraindication read at its boundary."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from domain import bounds
from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import LIFE_EXPECTANCY_MONTHS, LIFE_EXPECTANCY_WEEKS, opt
from domain.pathways._rules import DAYS_PER_MONTH, Collector, PathwayResult, life_expectancy_days

NAME = "radiotherapy"
RULE_IDS = ("RT-1", "RT-2", "RT-3", "RT-4")
POSTOP_FIRST_DAY, POSTOP_LAST_DAY = 15, 21
SCHEDULES = ("30_gy_10_fr", "24_gy_6_fr", "20_gy_5_fr", "8_gy_1_fr")


class OperatedSite(StrEnum):
    LONG_BONE = "long_bone"
    SPINE = "spine"


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"evaluation_date": "2025-03-17", "surgery_date": "2025-03-01", "operated_site": "long_bone",
           "skin_healed": True, "painful": True, "analgesic_resistant": True, "ir_accessible": False}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One irradiable bone metastasis, its history and, for stereotactic RT, its findings."""

    evaluation_date: opt(dt.date, "The date the case is evaluated on.") = None
    painful: opt(bool, "Painful, uncomplicated metastasis.") = None
    analgesic_resistant: opt(bool, "Pain resistant to analgesics.") = None
    ir_accessible: opt(bool, "Accessible to interventional radiology.") = None
    surgery_date: opt(dt.date, "Date of the bone surgery, if operated.") = None
    operated_site: opt(OperatedSite, "What was operated.") = None
    skin_healed: opt(bool, "The surgical wound has healed.") = None
    sbrt_sites: opt(int, "Number of metastatic sites (SBRT: 1-3).", ge=0, le=100) = None
    well_delimited: opt(bool, "Well-delimited lesion(s).") = None
    visceral_metastases: opt(bool, "Any visceral metastasis.") = None
    disease_stabilised: opt(bool, "Stabilised disease.") = None
    symptomatic_cord_compression: opt(bool, "Symptomatic cord compression.") = None
    sins_total: opt(int, "SINS total of a spinal target.", ge=0, le=18) = None
    metabolic_radiotherapy: opt(bool, "Metabolic (radionuclide) therapy.") = None
    rt_same_site_within_3_months: opt(bool, "RT to this site in the last 3 months.") = None
    rt_other_site_within_3_months: opt(bool, "RT to another site in the last 3 months.") = None
    life_expectancy_weeks: LIFE_EXPECTANCY_WEEKS = None
    life_expectancy_months: LIFE_EXPECTANCY_MONTHS = None
    canal_narrowing_percent: opt(float, "Spinal canal narrowing, %.", ge=0, le=100) = None
    cord_distance_mm: opt(float, "Tumour-cord distance, mm.", ge=0, le=500) = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    bounds.not_after(inputs.surgery_date, "surgery_date", inputs.evaluation_date, "evaluation_date")
    out = Collector(lang)
    if out.need("RT-1", inputs, "painful", "analgesic_resistant", "ir_accessible") and (
            inputs.painful and inputs.analgesic_resistant and not inputs.ir_accessible):
        out.fire("RT-1", "palliative_radiotherapy", inputs=inputs,
                 fields=("painful", "analgesic_resistant", "ir_accessible"), values={"schedules": list(SCHEDULES)})
    if inputs.surgery_date is not None:
        postoperative(inputs, out)
    stereotactic(inputs, out)
    return out.result(NAME)


def postoperative(inputs: Inputs, out: Collector) -> None:
    """RT-2: day 15 to 21 after surgery, on healed skin; RT-3: the field follows what was operated."""
    if out.need("RT-3", inputs, "operated_site"):
        action = "rt_whole_operated_bone" if inputs.operated_site == OperatedSite.LONG_BONE else "rt_surgical_bed"
        out.fire("RT-3", action, inputs=inputs, fields=("surgery_date", "operated_site"))
    if not out.need("RT-2", inputs, "evaluation_date", "skin_healed"):
        return
    day = (inputs.evaluation_date - inputs.surgery_date).days
    window = {"day_after_surgery": day,
              "window_start": (inputs.surgery_date + dt.timedelta(days=POSTOP_FIRST_DAY)).isoformat(),
              "window_end": (inputs.surgery_date + dt.timedelta(days=POSTOP_LAST_DAY)).isoformat()}
    fields = ("surgery_date", "evaluation_date", "skin_healed")
    if day < POSTOP_FIRST_DAY or not inputs.skin_healed:
        if not inputs.skin_healed:
            out.warn("postop_rt_skin_not_healed")
        earliest = max(inputs.surgery_date + dt.timedelta(days=POSTOP_FIRST_DAY), inputs.evaluation_date)
        out.fire("RT-2", "postoperative_radiotherapy_wait", inputs=inputs, fields=fields,
                 values={**window, "earliest_start": earliest.isoformat()}, say={"earliest": out.date(earliest)})
        return
    if day > POSTOP_LAST_DAY:
        out.warn("postop_rt_window_passed")
    out.fire("RT-2", "postoperative_radiotherapy", inputs=inputs, fields=fields, values=window)


INDICATION = ("sbrt_sites", "well_delimited", "visceral_metastases", "disease_stabilised")
# The fields only a stereotactic question gives (a whole case hands the others to every lesion as facts).
SBRT_QUESTION = ("well_delimited", "metabolic_radiotherapy", "rt_same_site_within_3_months", "canal_narrowing_percent",
                 "cord_distance_mm", "rt_other_site_within_3_months")
CONTRAINDICATION_INPUTS = ("symptomatic_cord_compression", "metabolic_radiotherapy", "rt_same_site_within_3_months",
                           "canal_narrowing_percent", "cord_distance_mm")


def stereotactic(inputs: Inputs, out: Collector) -> None:
    """RT-4: indication (1-3 sites, well delimited, no visceral metastasis, stabilised) and every
    contraindication, each read at its boundary (clinical-rules.md section 3). Asked, the answer is given either
    way, with every unmet criterion and contraindication known (SAFE-8)."""
    if all(getattr(inputs, name) is None for name in SBRT_QUESTION):  # not asked: the case's facts alone
        out.need("RT-4", inputs, *INDICATION)                        # (sites, visceral...) do not ask it
        return
    days = life_expectancy_days(inputs)
    found = contraindications(inputs, days, out)
    if not found and not out.need("RT-4", inputs, *INDICATION):
        return
    unmet = [code for failed, code in (
        (inputs.sbrt_sites is not None and not 1 <= inputs.sbrt_sites <= 3, "sbrt_sites_not_1_to_3"),
        (inputs.well_delimited is False, "not_well_delimited"), (inputs.visceral_metastases, "visceral_metastases"),
        (inputs.disease_stabilised is False, "disease_not_stabilised"),
    ) if failed]
    fields = (*INDICATION, *CONTRAINDICATION_INPUTS, "sins_total", "rt_other_site_within_3_months",
              "life_expectancy_weeks", "life_expectancy_months")
    fields = tuple(f for f in fields if getattr(inputs, f) is not None)
    if unmet or found:  # a "no" needs only what makes it one (SAFE-8)
        reasons = tuple(out.reason(code, sites=inputs.sbrt_sites) for code in (*unmet, *found))
        out.fire("RT-4", "not_eligible_sbrt", inputs=inputs, fields=fields, reasons=reasons,
                 values={"unmet_criteria": unmet, "contraindications": found})
        return
    missing = [name for name in CONTRAINDICATION_INPUTS if getattr(inputs, name) is None]
    if days is None:
        missing.append("life_expectancy_weeks|life_expectancy_months")
    if missing:
        out.missing("RT-4", *missing)
        return
    out.fire("RT-4", "sbrt_candidate", inputs=inputs, fields=fields)


def contraindications(inputs: Inputs, days: float | None, out: Collector) -> list[str]:
    """The contraindications found among the inputs given (an unknown one is not found)."""
    narrowing, distance, sins_total = inputs.canal_narrowing_percent, inputs.cord_distance_mm, inputs.sins_total
    checks: list[tuple[Any, str]] = [
        (inputs.symptomatic_cord_compression, "symptomatic_cord_compression"),
        (inputs.metabolic_radiotherapy, "metabolic_radiotherapy"),
        (inputs.rt_same_site_within_3_months, "rt_same_site_within_3_months"),
        (days is not None and days < 3 * DAYS_PER_MONTH, "life_expectancy_under_3_months"),
        (narrowing is not None and narrowing > 25, "canal_narrowing_over_25_percent"),
        (distance is not None and distance < 5, "cord_distance_under_5_mm"),
        (sins_total is not None and sins_total >= 13, "vertebral_instability_sins_13_or_more"),
    ]
    warnings: list[tuple[Any, str]] = [
        (narrowing == 25, "boundary_canal_narrowing_25_percent"),
        (distance == 5, "boundary_cord_distance_5_mm"),
        (sins_total is not None and 7 <= sins_total <= 12, "sbrt_sins_potentially_unstable"),
        (inputs.rt_other_site_within_3_months, "sbrt_recent_rt_other_site"),
    ]
    for condition, code in warnings:
        if condition:
            out.warn(code)
    return [code for condition, code in checks if condition]
