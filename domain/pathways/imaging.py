"""Imaging (IMG): CT response reading, PET after G-CSF, work-up rules, bone scans, flare, biopsy."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from domain import bounds
from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import opt
from domain.pathways._rules import Collector, PathwayResult

NAME = "imaging"
RULE_IDS = ("IMG-1", "IMG-2", "IMG-3", "IMG-4", "IMG-5", "IMG-6", "IMG-7", "IMG-8")
PET_AFTER_GCSF_DAYS = 15
FLARE_MONTHS = 6


class CtChange(StrEnum):
    MORE_OSTEOLYSIS = "more_osteolysis"
    SOFT_TISSUE_INVASION = "soft_tissue_invasion"
    SCLEROSIS_IN_LYTIC_ZONE = "sclerosis_in_lytic_zone"
    LESS_SOFT_TISSUE = "less_soft_tissue"
    SCLEROSIS_IN_NORMAL_ZONE = "sclerosis_in_normal_zone"


CT_READING = {
    CtChange.MORE_OSTEOLYSIS: "progression", CtChange.SOFT_TISSUE_INVASION: "progression",
    CtChange.SCLEROSIS_IN_LYTIC_ZONE: "response", CtChange.LESS_SOFT_TISSUE: "response",
    CtChange.SCLEROSIS_IN_NORMAL_ZONE: "cannot_conclude",
}




# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"last_gcsf_date": "2025-01-01", "planned_pet_date": "2025-01-10", "single_bone_lesion": True}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Imaging questions about a patient's bone metastases."""

    ct_change: opt(CtChange, "Change seen on CT read in bone window.") = None
    last_gcsf_date: opt(dt.date, "Date of the last G-CSF dose.") = None
    planned_pet_date: opt(dt.date, "Date a PET-FDG is planned for.") = None
    on_immunotherapy_or_bisphosphonate: opt(bool, "Under immunotherapy or a bisphosphonate.") = None
    initial_workup: opt(bool, "This is the initial work-up.") = None
    known_metastatic: opt(bool, "The tumour is already known to be metastatic.") = None
    single_bone_lesion: opt(bool, "A single bone lesion on PET or bone scan.") = None
    bone_scan_considered: opt(bool, "A bone scan is being considered.") = None
    pet_done: opt(bool, "A PET-FDG has already been done.") = None
    more_uptake_or_new_foci: opt(bool, "More uptake or new foci on bone scan or PET.") = None
    effective_treatment_start: opt(dt.date, "Start date of the effective treatment.") = None
    evaluation_date: opt(dt.date, "The date of the imaging being read.") = None
    follow_up: opt(bool, "The patient is in follow-up.") = None
    new_bone_pain: opt(bool, "New bone pain.") = None
    biopsy_for_molecular_testing: opt(bool, "A bone biopsy for molecular testing is planned.") = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    for name in ("last_gcsf_date", "effective_treatment_start"):  # SAFE-10: no event after the evaluation
        bounds.not_after(getattr(inputs, name), name, inputs.evaluation_date, "evaluation_date")
    out = Collector(lang)
    if inputs.ct_change is not None:
        out.fire("IMG-1", CT_READING[inputs.ct_change], inputs=inputs, fields=("ct_change",))
    pet_after_gcsf(inputs, out)
    if inputs.on_immunotherapy_or_bisphosphonate:
        out.fire("IMG-2", "interpret_uptake_with_caution", inputs=inputs,
                 fields=("on_immunotherapy_or_bisphosphonate",))
    if out.need("IMG-3", inputs, "initial_workup", "known_metastatic") and inputs.initial_workup and \
            inputs.known_metastatic:
        out.fire("IMG-3", "no_pet_at_initial_workup", inputs=inputs, fields=("initial_workup", "known_metastatic"))
    if inputs.single_bone_lesion:
        out.fire("IMG-4", "targeted_mri_and_specialist_opinion", inputs=inputs, fields=("single_bone_lesion",))
    if inputs.bone_scan_considered and out.need("IMG-5", inputs, "pet_done"):
        action = "bone_scan_not_indicated" if inputs.pet_done else "bone_scan_optional"
        out.fire("IMG-5", action, inputs=inputs, fields=("bone_scan_considered", "pet_done"))
    if inputs.more_uptake_or_new_foci:
        flare(inputs, out)
    if inputs.follow_up and out.need("IMG-7", inputs, "new_bone_pain") and not inputs.new_bone_pain:
        out.fire("IMG-7", "no_routine_bone_scan", inputs=inputs, fields=("follow_up", "new_bone_pain"))
    if inputs.biopsy_for_molecular_testing:
        out.fire("IMG-8", "edta_decalcification", inputs=inputs, fields=("biopsy_for_molecular_testing",))
    return out.result(NAME)


def pet_after_gcsf(inputs: Inputs, out: Collector) -> None:
    """IMG-2: the earliest PET is day 15 after the last G-CSF dose (warning on day 15 itself)."""
    if inputs.last_gcsf_date is None or not out.need("IMG-2", inputs, "planned_pet_date"):
        return
    day = (inputs.planned_pet_date - inputs.last_gcsf_date).days
    if day < 0:  # SAFE-10: a G-CSF dose after the planned PET does not postpone it
        return
    earliest = inputs.last_gcsf_date + dt.timedelta(days=PET_AFTER_GCSF_DAYS)
    if day == PET_AFTER_GCSF_DAYS:
        out.warn("boundary_pet_gcsf_day_15")
    if day < PET_AFTER_GCSF_DAYS:
        out.fire("IMG-2", "postpone_pet", inputs=inputs, fields=("last_gcsf_date", "planned_pet_date"),
                 values={"days_after_gcsf": day, "earliest_pet_date": earliest.isoformat()},
                 say={"earliest": out.date(earliest)})


def months_between(start: dt.date, end: dt.date) -> tuple[int, bool]:
    """Whole calendar months from start to end, and whether end falls exactly on a month anniversary."""
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    anniversary = _add_months(start, months) == end
    return months, anniversary


def _add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def flare(inputs: Inputs, out: Collector) -> None:
    """IMG-6: within 6 months of an effective treatment, a flare; after 6 months, progression."""
    if not out.need("IMG-6", inputs, "effective_treatment_start", "evaluation_date"):
        return
    months, anniversary = months_between(inputs.effective_treatment_start, inputs.evaluation_date)
    exactly_six = months == FLARE_MONTHS and anniversary
    if exactly_six:
        out.warn("boundary_flare_6_months")
    within = months < FLARE_MONTHS or exactly_six
    out.fire("IMG-6", "flare_not_progression" if within else "progression", inputs=inputs,
             fields=("more_uptake_or_new_foci", "effective_treatment_start", "evaluation_date"),
             values={"months_since_treatment_start": months})
