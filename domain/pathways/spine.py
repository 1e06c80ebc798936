"""Spine (SP): whole-spine MRI, the compression-fracture branch, then SINS. Cementoplasty is never proposed at a
vertebra that a SAFE-2 finding forbids; a threatened cord goes to the surgeon, or to radiotherapy when life
expectancy is under 6 weeks (SAFE-1)."""

from __future__ import annotations

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import (
    CORD_COMPRESSION,
    CORD_THREAT,
    LIFE_EXPECTANCY_MONTHS,
    LIFE_EXPECTANCY_WEEKS,
    PUNCTURE_SITE_INFECTION,
    RETROPULSION,
    UNCONTROLLED_SEPSIS,
    opt,
)
from domain.pathways._rules import (
    Collector,
    PathwayResult,
    compression_implies_threat,
    gate_surgery,
    life_expectancy_days,
    nested,
)
from domain.safety import CEMENTOPLASTY_CONTRAINDICATIONS, Urgency
from domain.scores import sins

NAME = "spine"
RULE_IDS = ("SP-1", "SP-2", "SP-3", "SP-4")


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"vertebral_involvement": True, "compression_fracture": True, "posterior_wall_retropulsion": False,
           "pain_uncontrolled": True, "cord_threat": False, "puncture_site_infection": False,
           "uncontrolled_sepsis": False,
           "sins": {"level": "T12", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
                    "collapse": "under_50", "posterolateral": "none"}}


class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A spinal metastasis."""

    vertebral_involvement: opt(bool, "Any vertebral involvement.") = None
    compression_fracture: opt(bool, "A vertebral compression fracture.") = None
    lesion: opt(sins.Lesion, "Nature of the lesion; taken from `sins` when absent.") = None
    posterior_wall_retropulsion: RETROPULSION = None
    pain_uncontrolled: opt(bool, "Pain not controlled by analgesics.") = None
    cord_threat: CORD_THREAT = None
    cord_compression: CORD_COMPRESSION = None
    sins: opt(sins.Inputs, "SINS items of the lesion.") = None
    life_expectancy_weeks: LIFE_EXPECTANCY_WEEKS = None
    life_expectancy_months: LIFE_EXPECTANCY_MONTHS = None
    puncture_site_infection: PUNCTURE_SITE_INFECTION = None
    uncontrolled_sepsis: UNCONTROLLED_SEPSIS = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    compression_implies_threat(inputs)
    days = life_expectancy_days(inputs)
    out = Collector(lang)
    if out.need("SP-1", inputs, "vertebral_involvement") and inputs.vertebral_involvement:
        out.fire("SP-1", "whole_spine_mri", inputs=inputs, fields=("vertebral_involvement",))
    if out.need("SP-2", inputs, "compression_fracture") and inputs.compression_fracture:
        compression_fracture(inputs, out)
    stability(inputs, out)
    gate_surgery(out, days, lesion_inputs=inputs)
    return out.result(NAME, lesion=True)


def threat(inputs: Inputs) -> bool | None:
    return True if inputs.cord_compression else inputs.cord_threat


def compression_fracture(inputs: Inputs, out: Collector) -> None:
    """SP-2: osteolytic, no contraindication (SAFE-2) and uncontrolled pain -> cementoplasty; mixed or blastic ->
    radiotherapy; asked, the answer is given either way (SAFE-8)."""
    lesion = inputs.lesion or (inputs.sins.lesion if inputs.sins else None)
    if lesion is None:
        out.need("SP-2", inputs, "lesion")
        return
    if lesion != sins.Lesion.LYTIC:
        out.fire("SP-2", "radiotherapy", inputs=inputs, fields=("compression_fracture",), values={"lesion": lesion})
        return
    found = tuple(name for name in CEMENTOPLASTY_CONTRAINDICATIONS if getattr(inputs, name))
    if found:
        reasons = tuple(out.reason(name) for name in found)
        out.fire("SP-2", "cementoplasty_contraindicated", inputs=inputs, fields=("compression_fracture", *found),
                 values={"lesion": lesion, "contraindications": list(found)}, reasons=reasons)
        if inputs.pain_uncontrolled:
            out.withhold("SP-2", "cementoplasty_of_the_fracture", by="SAFE-2", reason=reasons[0])
        return
    # SAFE-2: every contraindication known before a yes, the same ones IR-1 asks for
    if not out.need("SP-2", inputs, "posterior_wall_retropulsion", "pain_uncontrolled", "cord_threat",
                    "puncture_site_infection", "uncontrolled_sepsis"):
        return
    fields = ("compression_fracture", "posterior_wall_retropulsion", "cord_threat", "pain_uncontrolled")
    if inputs.pain_uncontrolled:
        out.fire("SP-2", "cementoplasty", inputs=inputs, fields=fields, values={"lesion": lesion})
    else:
        out.fire("SP-2", "cementoplasty_not_indicated", inputs=inputs, fields=fields, values={"lesion": lesion},
                 reasons=(out.reason("pain_controlled"),))


def stability(inputs: Inputs, out: Collector) -> None:
    score = out.score(nested("sins", sins, inputs.sins, out.lang)) if inputs.sins is not None else None
    threatened = threat(inputs)
    if threatened or (score is not None and score.total >= 7):
        fields = tuple(f for f in ("cord_threat", "cord_compression", "sins") if getattr(inputs, f) is not None)
        urgency = (Urgency.EMERGENCY if inputs.cord_compression else Urgency.URGENT if threatened
                   else score.recommendation.urgency)
        out.fire("SP-3", "surgical_opinion", inputs=inputs, fields=fields, urgency=urgency,
                 values={"sins_total": score.total} if score else {}, citations=sins.CITATIONS)
    elif score is None:
        out.need("SP-3", inputs, "sins")
    elif out.need("SP-4", inputs, "cord_threat"):
        out.fire("SP-4", "radiotherapy", inputs=inputs, fields=("cord_threat", "sins"),
                 values={"sins_total": score.total}, citations=sins.CITATIONS)
