"""Long bone and femoral neck (LB): fracture first, then Mirels for an impending one. Mirels is for long bones
only, and its site must agree with where the lesion is (SAFE-9)."""

from __future__ import annotations

from enum import StrEnum

from domain.model import FieldProblem, InputRejected, Language
from domain.model import Inputs as InputsBase
from domain.pathways._fields import (
    LIFE_EXPECTANCY_MONTHS,
    LIFE_EXPECTANCY_WEEKS,
    PUNCTURE_SITE_INFECTION,
    UNCONTROLLED_SEPSIS,
    opt,
)
from domain.pathways._rules import Collector, PathwayResult, gate_surgery, life_expectancy_days, nested
from domain.scores import mirels

NAME = "long-bone"
RULE_IDS = ("LB-1", "LB-2", "LB-3", "LB-4", "LB-5")


class Location(StrEnum):
    """Where the lesion is: a long bone (Mirels applies), or the pelvis or acetabulum (flat bones: cementoplasty
    and interventional radiology, guideline L206; not Mirels)."""

    HUMERUS = "humerus"
    FOREARM = "forearm"
    FEMORAL_NECK = "femoral_neck"
    TROCHANTERIC = "trochanteric"
    FEMORAL_SHAFT = "femoral_shaft"
    DISTAL_FEMUR = "distal_femur"
    TIBIA_FIBULA = "tibia_fibula"
    PELVIS = "pelvis"
    ACETABULUM = "acetabulum"


class Lesion(StrEnum):
    LYTIC = "lytic"
    MIXED = "mixed"
    BLASTIC = "blastic"


# SAFE-9: the Mirels site each long-bone location takes; flat bones take none.
MIRELS_SITE = {
    Location.HUMERUS: mirels.Site.UPPER_LIMB, Location.FOREARM: mirels.Site.UPPER_LIMB,
    Location.FEMORAL_NECK: mirels.Site.PERITROCHANTERIC, Location.TROCHANTERIC: mirels.Site.PERITROCHANTERIC,
    Location.FEMORAL_SHAFT: mirels.Site.LOWER_LIMB, Location.DISTAL_FEMUR: mirels.Site.LOWER_LIMB,
    Location.TIBIA_FIBULA: mirels.Site.LOWER_LIMB,
}
FLAT_BONES = frozenset({Location.PELVIS, Location.ACETABULUM})
# Weight-bearing long bones: the lower limb's (where cementoplasty is not used alone, SAFE-9).
WEIGHT_BEARING = frozenset(loc for loc, site in MIRELS_SITE.items() if site != mirels.Site.UPPER_LIMB)
# LB-5: percutaneous screw fixation "du bassin ou du fémur proximal".
SCREW_FIXATION_LOCATIONS = frozenset({Location.PELVIS, Location.ACETABULUM, Location.FEMORAL_NECK,
                                      Location.TROCHANTERIC})


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"pathological_fracture": False, "location": "trochanteric", "life_expectancy_months": 10,
           "mirels": {"site": "peritrochanteric", "pain": "functional", "lesion": "lytic", "size": "one_to_two_thirds"}}


class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A long-bone (or pelvic) metastasis."""

    pathological_fracture: opt(bool, "An established pathological fracture.") = None
    location: opt(Location, "Where the lesion is (long-bone locations, or pelvis / acetabulum).") = None
    lesion: opt(Lesion, "Radiological nature; taken from `mirels` when absent.") = None
    mirels: opt(mirels.Inputs, "Mirels items, for a long-bone lesion without fracture.") = None
    life_expectancy_weeks: LIFE_EXPECTANCY_WEEKS = None
    life_expectancy_months: LIFE_EXPECTANCY_MONTHS = None
    puncture_site_infection: PUNCTURE_SITE_INFECTION = None
    uncontrolled_sepsis: UNCONTROLLED_SEPSIS = None


def check_location(inputs: Inputs) -> None:
    """SAFE-9: Mirels on a flat bone, or a site that disagrees with the location -> 422 naming both fields."""
    if inputs.mirels is None or inputs.location is None:
        return
    if inputs.location in FLAT_BONES:
        raise InputRejected([FieldProblem(field="mirels", message=f"Mirels scores long bones only; location "
                             f"{inputs.location} is a flat bone (cementoplasty and interventional radiology)",
                             allowed=sorted(MIRELS_SITE))], contradiction=True)
    expected = MIRELS_SITE[inputs.location]
    if inputs.mirels.site != expected:
        raise InputRejected([FieldProblem(field="mirels.site", message=f"{inputs.mirels.site} disagrees with "
                             f"location {inputs.location}", allowed=[expected.value])], contradiction=True)


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    check_location(inputs)
    days = life_expectancy_days(inputs)
    out = Collector(lang)
    if out.need("LB-1", inputs, "pathological_fracture"):
        if inputs.pathological_fracture:
            fractured(inputs, out)
        else:
            impending(inputs, out)
    gate_surgery(out, days, lesion_inputs=inputs)
    return out.result(NAME, lesion=True)


def fractured(inputs: Inputs, out: Collector) -> None:
    out.fire("LB-1", "surgery_then_adjuvant_rt", inputs=inputs, fields=("pathological_fracture",))
    if inputs.mirels is not None:
        out.warn("mirels_not_for_established_fracture")
    lesion = inputs.lesion or (inputs.mirels.lesion if inputs.mirels else None)
    if inputs.location is None or lesion is None:
        out.missing("LB-5", *(name for name, v in (("location", inputs.location), ("lesion", lesion)) if v is None))
    elif lesion == Lesion.LYTIC and inputs.location in SCREW_FIXATION_LOCATIONS:
        out.fire("LB-5", "percutaneous_screw_fixation", inputs=inputs,
                 fields=("pathological_fracture", "location"), values={"lesion": str(lesion)})


def impending(inputs: Inputs, out: Collector) -> None:
    if inputs.location in FLAT_BONES:  # no Mirels on a flat bone: said, not silent (SAFE-8, SAFE-9)
        out.warn("flat_bone_no_mirels")
        return
    if not out.need("LB-2", inputs, "mirels"):
        return
    score = out.score(nested("mirels", mirels, inputs.mirels, out.lang))
    band = next(b for b in mirels.BANDS if b.code == score.band)
    out.fire(band.rule_id, band.action, inputs=inputs, fields=("pathological_fracture", "mirels"),
             urgency=score.recommendation.urgency, values={"mirels_total": score.total, "mirels_band": score.band},
             citations=mirels.CITATIONS)
    if score.total >= 8:  # the flowchart's option beside the RCP and surgery branches
        percutaneous_option(inputs, score.total, out)


def percutaneous_option(inputs: Inputs, total: int, out: Collector) -> None:
    """LB-5: nailing or screwing, cementoplasty only as an adjunct — and no cement at all where SAFE-2 finds an
    infection at the puncture site or an uncontrolled sepsis."""
    found = [name for name in ("puncture_site_infection", "uncontrolled_sepsis") if getattr(inputs, name)]
    if found:
        out.fire("LB-5", "percutaneous_fixation_option_without_cementoplasty", inputs=inputs,
                 fields=("mirels", *found), values={"mirels_total": total})
        out.withhold("LB-5", "cementoplasty_adjunct", by="SAFE-2", reason=out.reason(found[0]))
    else:
        out.fire("LB-5", "percutaneous_fixation_option", inputs=inputs, fields=("mirels",),
                 values={"mirels_total": total})
    if inputs.mirels.site != mirels.Site.UPPER_LIMB:  # weight-bearing: lower-limb long bones only (SAFE-9)
        out.warn("cementoplasty_long_bone_adjunct_only")
