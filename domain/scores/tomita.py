"""Tomita score (Tomita 2001): surgical strategy for spinal metastases."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from domain.model import Band, Language, ScoreResult
from domain.model import Inputs as InputsBase
from domain.scores._scoring import item, result

NAME = "tomita"
CITATIONS = (
    "Tomita K, Kawahara N, Kobayashi T, Yoshida A, Murakami H, Akamaru T. Surgical strategy for spinal "
    "metastases. Spine (Phila Pa 1976). 2001;26(3):298-306. doi:10.1097/00007632-200102010-00016",
)


class Growth(StrEnum):
    SLOW = "slow"
    MODERATE = "moderate"
    RAPID = "rapid"


class Visceral(StrEnum):
    NONE = "none"
    TREATABLE = "treatable"
    UNTREATABLE = "untreatable"


class Bone(StrEnum):
    SOLITARY = "solitary"
    MULTIPLE = "multiple"


GROWTH_POINTS = {
    Growth.SLOW: 1,  # "slow growth (breast, thyroid, etc.)"
    Growth.MODERATE: 2,  # "moderate growth (kidney, uterus, etc.)"
    Growth.RAPID: 4,  # "rapid growth (lung, stomach, etc.)"
}
VISCERAL_POINTS = {
    Visceral.NONE: 0,  # "no metastasis"
    Visceral.TREATABLE: 2,  # "treatable"
    Visceral.UNTREATABLE: 4,  # "untreatable"
}
BONE_POINTS = {
    Bone.SOLITARY: 1,  # "solitary or isolated"
    Bone.MULTIPLE: 2,  # "multiple"
}
# The enumerated items and their tables, for the catalogue (numeric items are banded in code).
ITEM_POINTS = {"growth": GROWTH_POINTS, "visceral_metastases": VISCERAL_POINTS, "bone_metastases": BONE_POINTS}
BANDS = (
    Band(code="en_bloc_resection", low=2, high=3, rule_id="SURG-5", action="en_bloc_resection"),
    Band(code="intralesional_resection", low=4, high=5, rule_id="SURG-5", action="intralesional_resection"),
    Band(code="palliative_surgery", low=6, high=7, rule_id="SURG-5", action="palliative_surgery"),
    Band(code="supportive_care", low=8, high=10, rule_id="SURG-5", action="supportive_care"),
)
TOTAL_RANGE = (2, 10)


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A patient with spinal metastases: Tomita's three prognostic factors."""

    growth: Annotated[Growth, Meta(description="Growth rate of the primary tumour. Lung cancer is rapid "
                                               "in Tomita's table; a clinician may say otherwise (e.g. "
                                               "EGFR-mutant disease under TKI).")]
    visceral_metastases: Annotated[Visceral, Meta(description="Visceral metastases.")]
    bone_metastases: Annotated[Bone, Meta(description="Bone metastases, spinal ones included.")]


def compute(inputs: Inputs, lang: Language = "en") -> ScoreResult:
    items = [
        item("growth", inputs.growth, GROWTH_POINTS),
        item("visceral_metastases", inputs.visceral_metastases, VISCERAL_POINTS),
        item("bone_metastases", inputs.bone_metastases, BONE_POINTS),
    ]
    return result(NAME, items, BANDS, CITATIONS, lang)
