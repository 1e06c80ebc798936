"""Spine (SP): whole-spine MRI, the compression-fracture branch, then SINS."""

from __future__ import annotations

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import opt
from domain.pathways._rules import Collector, PathwayResult
from domain.scores import sins

NAME = "spine"
RULE_IDS = ("SP-1", "SP-2", "SP-3", "SP-4")


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"vertebral_involvement": True, "compression_fracture": True, "posterior_wall_retropulsion": False,
           "pain_uncontrolled": True, "cord_threat": False,
           "sins": {"level": "T12", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
                    "collapse": "under_50", "posterolateral": "none"}}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A spinal metastasis."""

    vertebral_involvement: opt(bool, "Any vertebral involvement.") = None
    compression_fracture: opt(bool, "A vertebral compression fracture.") = None
    lesion: opt(sins.Lesion, "Nature of the lesion; taken from `sins` when absent.") = None
    posterior_wall_retropulsion: opt(bool, "Retropulsion of the posterior wall (worth no SINS points).") = None
    pain_uncontrolled: opt(bool, "Pain not controlled by analgesics.") = None
    cord_threat: opt(bool, "A threat to the spinal cord.") = None
    sins: opt(sins.Inputs, "SINS items of the lesion.") = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    out = Collector(lang)
    if out.need("SP-1", inputs, "vertebral_involvement") and inputs.vertebral_involvement:
        out.fire("SP-1", "whole_spine_mri", inputs=inputs, fields=("vertebral_involvement",))
    if out.need("SP-2", inputs, "compression_fracture") and inputs.compression_fracture:
        compression_fracture(inputs, out)
    stability(inputs, out)
    return out.result(NAME)


def compression_fracture(inputs: Inputs, out: Collector) -> None:
    lesion = inputs.lesion or (inputs.sins.lesion if inputs.sins else None)
    if lesion is None:
        out.need("SP-2", inputs, "lesion")
    elif lesion != sins.Lesion.LYTIC:
        out.fire("SP-2", "radiotherapy", inputs=inputs, fields=("compression_fracture",), values={"lesion": lesion})
    elif out.need("SP-2", inputs, "posterior_wall_retropulsion", "pain_uncontrolled") and (
            not inputs.posterior_wall_retropulsion and inputs.pain_uncontrolled):
        out.fire("SP-2", "cementoplasty", inputs=inputs,
                 fields=("compression_fracture", "posterior_wall_retropulsion", "pain_uncontrolled"),
                 values={"lesion": lesion})


def stability(inputs: Inputs, out: Collector) -> None:
    score = out.score(sins.compute(inputs.sins, out.lang)) if inputs.sins is not None else None
    if inputs.cord_threat or (score is not None and score.total >= 7):
        fields = ("cord_threat", "sins") if inputs.cord_threat else ("sins",)
        out.fire("SP-3", "surgical_opinion", inputs=inputs, fields=fields, rcp=True,
                 values={"sins_total": score.total} if score else {}, citations=sins.CITATIONS)
    elif score is None:
        out.need("SP-3", inputs, "sins")
    elif out.need("SP-4", inputs, "cord_threat"):
        out.fire("SP-4", "radiotherapy", inputs=inputs, fields=("cord_threat", "sins"),
                 values={"sins_total": score.total}, citations=sins.CITATIONS)
