"""SINS, the Spinal Instability Neoplastic Score (Fisher 2010)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from domain.model import Band, FieldProblem, InputRejected, ItemScore, Language, ScoreResult
from domain.model import Inputs as InputsBase
from domain.scores._scoring import exactly_one, item, result, warning

NAME = "sins"
CITATIONS = (
    "Fisher CG, DiPaola CP, Ryken TC, et al. A novel classification system for spinal instability in "
    "neoplastic disease: an evidence-based approach and expert consensus from the Spine Oncology Study "
    "Group. Spine (Phila Pa 1976). 2010;35(22):E1221-E1229. doi:10.1097/BRS.0b013e3181e16ae2",
)


class Location(StrEnum):
    JUNCTIONAL = "junctional"
    MOBILE = "mobile"
    SEMI_RIGID = "semi_rigid"
    RIGID = "rigid"


class Pain(StrEnum):
    MECHANICAL = "mechanical"
    OCCASIONAL_NON_MECHANICAL = "occasional_non_mechanical"
    NONE = "none"


class Lesion(StrEnum):
    LYTIC = "lytic"
    MIXED = "mixed"
    BLASTIC = "blastic"


class Alignment(StrEnum):
    SUBLUXATION_TRANSLATION = "subluxation_translation"
    DE_NOVO_DEFORMITY = "de_novo_deformity"
    NORMAL = "normal"


class Collapse(StrEnum):
    OVER_50 = "over_50"
    UNDER_50 = "under_50"
    NONE_OVER_50_INVOLVED = "none_over_50_involved"
    NONE = "none"


class Posterolateral(StrEnum):
    BILATERAL = "bilateral"
    UNILATERAL = "unilateral"
    NONE = "none"


# Vertebral levels, occiput as C0.
Level = StrEnum(
    "Level",
    {v: v for v in ["C0", *(f"C{i}" for i in range(1, 8)), *(f"T{i}" for i in range(1, 13)),
                    *(f"L{i}" for i in range(1, 6)), *(f"S{i}" for i in range(1, 6))]},
)

LOCATION_POINTS = {
    Location.JUNCTIONAL: 3,  # "Junctional (occiput-C2, C7-T2, T11-L1, L5-S1)"
    Location.MOBILE: 2,  # "Mobile spine (C3-C6, L2-L4)"
    Location.SEMI_RIGID: 1,  # "Semirigid (T3-T10)"
    Location.RIGID: 0,  # "Rigid (S2-S5)"
}
PAIN_POINTS = {
    Pain.MECHANICAL: 3,  # "Yes" (mechanical pain)
    Pain.OCCASIONAL_NON_MECHANICAL: 1,  # "Occasional pain but not mechanical"
    Pain.NONE: 0,  # "Pain-free lesion"
}
LESION_POINTS = {Lesion.LYTIC: 2, Lesion.MIXED: 1, Lesion.BLASTIC: 0}  # "Lytic", "Mixed", "Blastic"
ALIGNMENT_POINTS = {
    Alignment.SUBLUXATION_TRANSLATION: 4,  # "Subluxation/translation present"
    Alignment.DE_NOVO_DEFORMITY: 2,  # "De novo deformity (kyphosis/scoliosis)"
    Alignment.NORMAL: 0,  # "Normal alignment"
}
COLLAPSE_POINTS = {
    Collapse.OVER_50: 3,  # "≥ 50% collapse"
    Collapse.UNDER_50: 2,  # "< 50% collapse"
    Collapse.NONE_OVER_50_INVOLVED: 1,  # "No collapse with > 50% body involved"
    Collapse.NONE: 0,  # "None of the above"
}
POSTEROLATERAL_POINTS = {
    Posterolateral.BILATERAL: 3,  # "Bilateral"
    Posterolateral.UNILATERAL: 1,  # "Unilateral"
    Posterolateral.NONE: 0,  # "None of the above"
}
LEVEL_LOCATION = {
    level: (
        Location.JUNCTIONAL if level in {"C0", "C1", "C2", "C7", "T1", "T2", "T11", "T12", "L1", "L5", "S1"}
        else Location.MOBILE if level in {"C3", "C4", "C5", "C6", "L2", "L3", "L4"}
        else Location.SEMI_RIGID if level.startswith("T")
        else Location.RIGID
    )
    for level in Level
}
# The enumerated items and their tables, for the catalogue (numeric items are banded in code).
ITEM_POINTS = {"location": LOCATION_POINTS, "pain": PAIN_POINTS, "lesion": LESION_POINTS,
               "alignment": ALIGNMENT_POINTS, "collapse": COLLAPSE_POINTS, "posterolateral": POSTEROLATERAL_POINTS}
BANDS = (
    Band(code="stable", low=0, high=6, rule_id="SP-4", action="radiotherapy"),
    Band(code="potentially_unstable", low=7, high=12, rule_id="SP-3", action="surgical_opinion"),
    Band(code="unstable", low=13, high=18, rule_id="SP-3", action="surgical_opinion"),
)
TOTAL_RANGE = (0, 18)


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"level": "T12", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
           "collapse_percent": 30, "posterolateral": "none"}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One spinal lesion. Give `location` or `level` (or both, if they agree), and either `collapse` or
    `collapse_percent` (with `body_involvement_over_50` when nothing has collapsed)."""

    pain: Annotated[Pain, Meta(description="mechanical: pain relieved by recumbency and/or worse with "
                                           "movement or loading of the spine.")]
    lesion: Annotated[Lesion, Meta(description="Bone lesion type.")]
    alignment: Annotated[Alignment, Meta(description="Radiographic spinal alignment. Posterior-wall "
                                                     "retropulsion is not scored here.")]
    posterolateral: Annotated[Posterolateral, Meta(description="Posterolateral involvement of spinal "
                                                               "elements (facet, pedicle or costovertebral "
                                                               "joint fracture or tumour).")]
    location: Annotated[Location, Meta(description="Spinal segment of the lesion.")] | None = None
    level: Annotated[Level, Meta(description="Vertebral level (C0 = occiput); location is derived "
                                             "from it.")] | None = None
    collapse: Annotated[Collapse, Meta(description="Vertebral body collapse.")] | None = None
    collapse_percent: (
        Annotated[float, Meta(ge=0, le=100, description="Vertebral body height lost, in %. 50 % itself "
                                                        "scores as ≥ 50 % (3 points) with a warning.")]
        | None
    ) = None
    body_involvement_over_50: (
        Annotated[bool, Meta(description="More than 50 % of the vertebral body involved; needed with "
                                         "collapse_percent = 0.")]
        | None
    ) = None


def location_item(inputs: Inputs) -> ItemScore:
    if inputs.level is None:
        if inputs.location is None:
            raise InputRejected([FieldProblem(field="location", message="give location or level",
                                              allowed=[v.value for v in Location])])
        return item("location", inputs.location, LOCATION_POINTS)
    derived = LEVEL_LOCATION[inputs.level]
    if inputs.location is not None and inputs.location != derived:
        raise InputRejected(
            [FieldProblem(field="location",
                          message=f"level {inputs.level.value} is {derived.value}, not {inputs.location.value}",
                          allowed=[derived.value])],
            contradiction=True,
        )
    return ItemScore(item="location", value=derived.value, points=LOCATION_POINTS[derived],
                     derived_from=inputs.level.value)


def collapse_from_percent(percent: float, body_involvement_over_50: bool | None) -> Collapse:
    if percent >= 50:
        return Collapse.OVER_50
    if percent > 0:
        return Collapse.UNDER_50
    if body_involvement_over_50 is None:
        raise InputRejected([FieldProblem(field="body_involvement_over_50",
                                          message="required when collapse_percent is 0",
                                          allowed=[True, False])])
    return Collapse.NONE_OVER_50_INVOLVED if body_involvement_over_50 else Collapse.NONE


def compute(inputs: Inputs, lang: Language = "en") -> ScoreResult:
    exactly_one(inputs, "collapse", "collapse_percent")
    warnings = ()
    if inputs.collapse is not None:
        collapse_item = item("collapse", inputs.collapse, COLLAPSE_POINTS)
    else:
        collapse = collapse_from_percent(inputs.collapse_percent, inputs.body_involvement_over_50)
        collapse_item = ItemScore(item="collapse", value=collapse.value, points=COLLAPSE_POINTS[collapse],
                                  derived_from=inputs.collapse_percent)
        if inputs.collapse_percent == 50:
            warnings = (warning("boundary_collapse_50_percent", lang),)
    items = [
        location_item(inputs),
        item("pain", inputs.pain, PAIN_POINTS),
        item("lesion", inputs.lesion, LESION_POINTS),
        item("alignment", inputs.alignment, ALIGNMENT_POINTS),
        collapse_item,
        item("posterolateral", inputs.posterolateral, POSTEROLATERAL_POINTS),
    ]
    return result(NAME, items, BANDS, CITATIONS, lang, warnings)
