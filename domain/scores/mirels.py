"""Mirels score: risk of pathological fracture of a long-bone metastasis (no established fracture)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from domain.model import Band, ItemScore, Language, ScoreResult
from domain.model import Inputs as InputsBase
from domain.scores._scoring import exactly_one, item, result

NAME = "mirels"
CITATIONS = (
    "Mirels H. Metastatic disease in long bones. A proposed scoring system for diagnosing impending "
    "pathologic fractures. Clin Orthop Relat Res. 1989;(249):256-264. PMID: 2684463",
)


class Site(StrEnum):
    UPPER_LIMB = "upper_limb"
    LOWER_LIMB = "lower_limb"
    PERITROCHANTERIC = "peritrochanteric"


class Pain(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    FUNCTIONAL = "functional"


class Lesion(StrEnum):
    BLASTIC = "blastic"
    MIXED = "mixed"
    LYTIC = "lytic"


class Size(StrEnum):
    UNDER_ONE_THIRD = "under_one_third"
    ONE_TO_TWO_THIRDS = "one_to_two_thirds"
    OVER_TWO_THIRDS = "over_two_thirds"


SITE_POINTS = {
    Site.UPPER_LIMB: 1,  # "upper limb"
    Site.LOWER_LIMB: 2,  # "lower limb"
    Site.PERITROCHANTERIC: 3,  # "peritrochanteric" (femoral neck and trochanteric region)
}
PAIN_POINTS = {
    Pain.MILD: 1,  # "mild"
    Pain.MODERATE: 2,  # "moderate"
    Pain.FUNCTIONAL: 3,  # "functional" (pain that limits function)
}
LESION_POINTS = {
    Lesion.BLASTIC: 1,  # "blastic"
    Lesion.MIXED: 2,  # "mixed"
    Lesion.LYTIC: 3,  # "lytic"
}
SIZE_POINTS = {
    Size.UNDER_ONE_THIRD: 1,  # "< 1/3" of the cortex
    Size.ONE_TO_TWO_THIRDS: 2,  # "1/3 - 2/3"
    Size.OVER_TWO_THIRDS: 3,  # "> 2/3"
}
# The enumerated items and their tables, for the catalogue (numeric items are banded in code).
ITEM_POINTS = {"site": SITE_POINTS, "pain": PAIN_POINTS, "lesion": LESION_POINTS, "size": SIZE_POINTS}
BANDS = (
    Band(code="low", low=4, high=7, rule_id="LB-2", action="radiotherapy"),
    Band(code="borderline", low=8, high=8, rule_id="LB-3", action="rcp_discussion"),
    Band(code="high", low=9, high=12, rule_id="LB-4", action="prophylactic_surgery"),
)
TOTAL_RANGE = (4, 12)


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"site": "peritrochanteric", "pain": "functional", "lesion": "lytic", "size": "one_to_two_thirds"}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One long-bone lesion without an established fracture. Give `size` or
    `cortical_destruction_fraction`, exactly one."""

    site: Annotated[Site, Meta(description="Where the lesion is; peritrochanteric covers the femoral neck "
                                           "and trochanteric region.")]
    pain: Annotated[Pain, Meta(description="Pain; functional = pain that limits function.")]
    lesion: Annotated[Lesion, Meta(description="Radiological nature of the lesion.")]
    size: Annotated[Size, Meta(description="Share of the cortex (diameter) destroyed.")] | None = None
    cortical_destruction_fraction: (
        Annotated[float, Meta(ge=0, le=1, description="Share of the cortex destroyed, 0 to 1: < 1/3 → 1 "
                                                      "point, 1/3 to 2/3 inclusive → 2, > 2/3 → 3.")]
        | None
    ) = None


def size_from_fraction(fraction: float) -> Size:
    """Mirels' thirds, with 1/3 and 2/3 themselves in the middle third (clinical-rules.md 1.1)."""
    if fraction < 1 / 3:
        return Size.UNDER_ONE_THIRD
    if fraction <= 2 / 3:
        return Size.ONE_TO_TWO_THIRDS
    return Size.OVER_TWO_THIRDS


def compute(inputs: Inputs, lang: Language = "en") -> ScoreResult:
    exactly_one(inputs, "size", "cortical_destruction_fraction")
    if inputs.size is not None:
        size_item = item("size", inputs.size, SIZE_POINTS)
    else:
        fraction = inputs.cortical_destruction_fraction
        size = size_from_fraction(fraction)
        size_item = ItemScore(item="size", value=size.value, points=SIZE_POINTS[size], derived_from=fraction)
    items = [
        item("site", inputs.site, SITE_POINTS),
        item("pain", inputs.pain, PAIN_POINTS),
        item("lesion", inputs.lesion, LESION_POINTS),
        size_item,
    ]
    return result(NAME, items, BANDS, CITATIONS, lang)
