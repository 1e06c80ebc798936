"""Metastatic spinal cord compression (MSCC): emergency radiotherapy, the Rades dose, the surgery box."""
from __future__ import annotations

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import opt
from domain.pathways._rules import Collector, PathwayResult
from domain.scores import rades

NAME = "cord-compression"
RULE_IDS = ("MSCC-1", "MSCC-2", "MSCC-3", "MSCC-4", "MSCC-5")
AGE_LIMIT, KARNOFSKY_LIMIT, DEFICIT_HOURS_LIMIT = 80, 50, 24


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"cord_compression": True, "operated": False, "age": 76, "karnofsky": 40, "deficit_hours": 72,
           "rades": {"primary": "nsclc", "interval_months": 4, "visceral_metastases": True,
                     "motor_function": "not_ambulatory", "deficit_onset_days": 3}}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A patient with (suspected) metastatic spinal cord compression."""

    cord_compression: opt(bool, "Spinal cord compression confirmed.") = None
    operated: opt(bool, "Neurosurgery (decompression) already done.") = None
    rades: opt(rades.Inputs, "Rades items, for the radiotherapy dose.") = None
    age: opt(int, "Age in years.", ge=0, le=120) = None
    karnofsky: opt(int, "Karnofsky performance status.", ge=0, le=100) = None
    deficit_hours: opt(float, "Hours since the neurological deficit began.", ge=0, le=100000) = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    out = Collector(lang)
    if out.need("MSCC-1", inputs, "cord_compression") and inputs.cord_compression:
        if out.need("MSCC-1", inputs, "operated"):
            out.fire("MSCC-1", "adjuvant_radiotherapy" if inputs.operated else "emergency_radiotherapy",
                     inputs=inputs, fields=("cord_compression", "operated"), citations=SCHULTHEISS)
        dose(inputs, out)
        if not inputs.operated:
            surgery_box(inputs, out)
    return out.result(NAME)


SCHULTHEISS = ("Schultheiss TE. The radiation dose-response of the human spinal cord. Int J Radiat Oncol "
               "Biol Phys. 2008;71(5):1455-1459",)


def dose(inputs: Inputs, out: Collector) -> None:
    if not out.need("MSCC-2", inputs, "rades"):
        return
    score = out.score(rades.compute(inputs.rades, out.lang))
    band = next(b for b in rades.BANDS if b.code == score.band)
    out.fire(band.rule_id, band.action, inputs=inputs, fields=("rades",), citations=rades.CITATIONS,
             values={"rades_total": score.total, "rades_group": score.band})


def surgery_box(inputs: Inputs, out: Collector) -> None:
    """MSCC-5: favoured only when all three criteria hold; any unfavourable one -> exclusive RT; a value
    exactly on a limit (80 y, Karnofsky 50, 24 h) -> RCP with a boundary warning (clinical-rules.md 3)."""
    if not out.need("MSCC-5", inputs, "age", "karnofsky", "deficit_hours"):
        return
    age, kps, hours = inputs.age, inputs.karnofsky, inputs.deficit_hours
    unfavourable = age > AGE_LIMIT or kps < KARNOFSKY_LIMIT or hours > DEFICIT_HOURS_LIMIT
    for at_limit, code in ((age == AGE_LIMIT, "boundary_mscc_age_80"), (kps == KARNOFSKY_LIMIT,
                           "boundary_mscc_karnofsky_50"), (hours == DEFICIT_HOURS_LIMIT,
                           "boundary_mscc_deficit_24_hours")):
        if at_limit:
            out.warn(code)
    favourable = age < AGE_LIMIT and kps > KARNOFSKY_LIMIT and hours < DEFICIT_HOURS_LIMIT
    action = "exclusive_radiotherapy" if unfavourable else "surgery_favoured" if favourable else "rcp_discussion"
    out.fire("MSCC-5", action, inputs=inputs, fields=("age", "karnofsky", "deficit_hours"),
             rcp=action != "exclusive_radiotherapy")
