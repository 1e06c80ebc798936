"""Long bone and femoral neck (LB): fracture first, then Mirels for an impending one."""

from __future__ import annotations

from enum import StrEnum

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import opt
from domain.pathways._rules import Collector, PathwayResult
from domain.scores import mirels

NAME = "long-bone"
RULE_IDS = ("LB-1", "LB-2", "LB-3", "LB-4", "LB-5")


class Location(StrEnum):
    PELVIS = "pelvis"
    PROXIMAL_FEMUR = "proximal_femur"
    FEMORAL_SHAFT = "femoral_shaft"
    OTHER_LOWER_LIMB = "other_lower_limb"
    UPPER_LIMB = "upper_limb"


class Lesion(StrEnum):
    LYTIC = "lytic"
    MIXED = "mixed"
    BLASTIC = "blastic"


SCREW_FIXATION_LOCATIONS = frozenset({Location.PELVIS, Location.PROXIMAL_FEMUR})


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"pathological_fracture": False, "location": "proximal_femur",
           "mirels": {"site": "peritrochanteric", "pain": "functional", "lesion": "lytic", "size": "one_to_two_thirds"}}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A long-bone (or pelvic) metastasis."""

    pathological_fracture: opt(bool, "An established pathological fracture.") = None
    location: opt(Location, "Where the lesion is.") = None
    lesion: opt(Lesion, "Radiological nature; taken from `mirels` when absent.") = None
    mirels: opt(mirels.Inputs, "Mirels items, for a lesion without fracture.") = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    out = Collector(lang)
    if out.need("LB-1", inputs, "pathological_fracture"):
        if inputs.pathological_fracture:
            fractured(inputs, out)
        else:
            impending(inputs, out)
    return out.result(NAME)


def fractured(inputs: Inputs, out: Collector) -> None:
    out.fire("LB-1", "surgery_then_adjuvant_rt", inputs=inputs, fields=("pathological_fracture",))
    if inputs.mirels is not None:
        out.warn("mirels_not_for_established_fracture")
    lesion = inputs.lesion or (inputs.mirels.lesion if inputs.mirels else None)
    if inputs.location is None or lesion is None:
        out.missing("LB-5", *(name for name, v in (("location", inputs.location), ("lesion", lesion)) if v is None))
    elif lesion == Lesion.LYTIC and inputs.location in SCREW_FIXATION_LOCATIONS:
        out.fire("LB-5", "percutaneous_screw_fixation", inputs=inputs,
                 fields=("pathological_fracture", "location"), rcp=True, values={"lesion": str(lesion)})


def impending(inputs: Inputs, out: Collector) -> None:
    if not out.need("LB-2", inputs, "mirels"):
        return
    score = out.score(mirels.compute(inputs.mirels, out.lang))
    band = next(b for b in mirels.BANDS if b.code == score.band)
    out.fire(band.rule_id, band.action, inputs=inputs, fields=("pathological_fracture", "mirels"),
             rcp=band.action == "rcp_discussion", values={"mirels_total": score.total, "mirels_band": score.band},
             citations=mirels.CITATIONS)
    if score.total >= 8:  # the flowchart's option beside the RCP and surgery branches
        out.fire("LB-5", "percutaneous_fixation_option", inputs=inputs, fields=("mirels",), rcp=True,
                 values={"mirels_total": score.total})
        out.warn("cementoplasty_long_bone_adjunct_only")

