"""Metastatic spinal cord compression (MSCC): emergency radiotherapy, the Rades dose, the surgery box. The box
decides whether the emergency radiotherapy is exclusive or adjuvant, so the two never both stand (SAFE-7); under
6 weeks of life expectancy surgery is withheld and radiotherapy is exclusive (SAFE-1)."""
from __future__ import annotations

import msgspec

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import AGE, KARNOFSKY, LIFE_EXPECTANCY_MONTHS, LIFE_EXPECTANCY_WEEKS, opt
from domain.pathways._rules import (
    SIX_WEEKS_DAYS,
    Collector,
    PathwayResult,
    Reason,
    gate_surgery,
    life_expectancy_days,
    nested,
)
from domain.scores import rades

NAME = "cord-compression"
RULE_IDS = ("MSCC-1", "MSCC-2", "MSCC-3", "MSCC-4", "MSCC-5")
AGE_LIMIT, KARNOFSKY_LIMIT, DEFICIT_HOURS_LIMIT = 80, 50, 24
# MSCC-1's action for each way the surgery box (MSCC-5) goes.
RADIOTHERAPY = {"surgery_favoured": "surgery_then_adjuvant_radiotherapy",
                "exclusive_radiotherapy": "exclusive_emergency_radiotherapy",
                "rcp_discussion": "emergency_radiotherapy", None: "emergency_radiotherapy"}


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"cord_compression": True, "operated": False, "age": 76, "karnofsky": 40, "deficit_hours": 72,
           "rades": {"primary": "nsclc", "interval_months": 4, "visceral_metastases": True,
                     "motor_function": "not_ambulatory", "deficit_onset_days": 3}}


class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A patient with (suspected) metastatic spinal cord compression."""

    cord_compression: opt(bool, "Spinal cord compression confirmed.") = None
    operated: opt(bool, "Neurosurgery (decompression) already done.") = None
    rades: opt(rades.Inputs, "Rades items, for the radiotherapy dose.") = None
    age: AGE = None
    karnofsky: KARNOFSKY = None
    deficit_hours: opt(float, "Hours since the neurological deficit began.", ge=0, le=100000) = None
    life_expectancy_weeks: LIFE_EXPECTANCY_WEEKS = None
    life_expectancy_months: LIFE_EXPECTANCY_MONTHS = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    days = life_expectancy_days(inputs)
    out = Collector(lang)
    if out.need("MSCC-1", inputs, "cord_compression") and inputs.cord_compression:
        score = out.score(nested("rades", rades, inputs.rades, lang)) if inputs.rades is not None else None
        box, reasons = surgery_box(inputs, score, out) if not inputs.operated else (None, ())
        dying = days is not None and days < SIX_WEEKS_DAYS  # SAFE-1: surgery withheld, RT exclusive
        exclusive = not inputs.operated and (dying or box == "exclusive_radiotherapy")
        fields = tuple(f for f in ("cord_compression", "operated") if getattr(inputs, f) is not None)
        if inputs.operated:
            out.fire("MSCC-1", "adjuvant_radiotherapy", inputs=inputs, fields=fields, citations=SCHULTHEISS)
        else:  # not operated, or not said: emergency radiotherapy either way, exclusive or adjuvant
            dying_reason = (out.reason("life_expectancy_under_6_weeks", weeks=out.number(days / 7)),) if dying else ()
            out.fire("MSCC-1", RADIOTHERAPY["exclusive_radiotherapy" if dying else box], inputs=inputs, fields=fields,
                     citations=SCHULTHEISS, reasons=dying_reason)
        dose(inputs, score, out, note="radiotherapy_alone_here" if exclusive else None)
        if box is not None:
            out.fire("MSCC-5", box, inputs=inputs, fields=("age", "karnofsky", "deficit_hours"), reasons=reasons,
                     values={"criteria": [r.code for r in reasons]})
    gate_surgery(out, days)
    return out.result(NAME)


SCHULTHEISS = ("Schultheiss TE. The radiation dose-response of the human spinal cord. Int J Radiat Oncol "
               "Biol Phys. 2008;71(5):1455-1459",)


def dose(inputs: Inputs, score, out: Collector, note: str | None = None) -> None:
    """MSCC-2/3/4, the Rades group's dose; when radiotherapy is exclusive, a group's "with or without surgery"
    is qualified (`note`), so the answer never offers surgery beside exclusive radiotherapy (SAFE-7)."""
    if score is None:
        out.missing("MSCC-2", "rades")
        return
    band = next(b for b in rades.BANDS if b.code == score.band)
    rec = out.fire(band.rule_id, band.action, inputs=inputs, fields=("rades",), citations=rades.CITATIONS,
                   values={"rades_total": score.total, "rades_group": score.band})
    if note and "surgery" in band.action:
        out.recommendations[-1] = msgspec.structs.replace(rec, text=f"{rec.text} {out.reason(note).text}")


def surgery_box(inputs: Inputs, score, out: Collector) -> tuple[str | None, tuple[Reason, ...]]:
    """MSCC-5: favoured only when all three criteria hold; any unfavourable one -> exclusive RT; a value
    exactly on a limit (80 y, Karnofsky 50, 24 h) -> RCP with a boundary warning (clinical-rules.md 3). Rades
    group 1 says there is no benefit of surgery: surgery is then not favoured but discussed in RCP (a reading).
    The criteria that decided are returned as reasons, so the text names them."""
    if not out.need("MSCC-5", inputs, "age", "karnofsky", "deficit_hours"):
        return None, ()
    age, kps, hours = inputs.age, inputs.karnofsky, inputs.deficit_hours
    criteria = (  # (value, limit, unfavourable above?, name, warning)
        (age, AGE_LIMIT, True, "age", "boundary_mscc_age_80"),
        (kps, KARNOFSKY_LIMIT, False, "karnofsky", "boundary_mscc_karnofsky_50"),
        (hours, DEFICIT_HOURS_LIMIT, True, "deficit", "boundary_mscc_deficit_24_hours"))
    unfavourable, favourable, boundary = [], [], []
    for value, limit, above, name, warning in criteria:
        if value == limit:
            out.warn(warning)
            boundary.append(out.reason(f"{name}_at_limit", value=out.number(value)))
        elif (value > limit) == above:
            unfavourable.append(out.reason(f"{name}_unfavourable", value=out.number(value)))
        else:
            favourable.append(out.reason(f"{name}_favourable", value=out.number(value)))
    if unfavourable:
        return "exclusive_radiotherapy", tuple(unfavourable)
    if score is not None and score.band == "group_1":
        boundary.append(out.reason("rades_group_1_no_benefit_of_surgery", total=score.total))
    if boundary:
        return "rcp_discussion", tuple(boundary)
    return "surgery_favoured", tuple(favourable)
