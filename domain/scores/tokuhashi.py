"""Revised Tokuhashi score (Tokuhashi 2005): preoperative prognosis of spinal metastases."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from domain import bounds
from domain.model import Band, ItemScore, Language, ScoreResult
from domain.model import Inputs as InputsBase
from domain.scores import frankel as frankel_grade
from domain.scores._scoring import item, result
from domain.scores.frankel import Grade

NAME = "tokuhashi"
CITATIONS = (
    "Tokuhashi Y, Matsuzaki H, Oda H, Oshima M, Ryu J. A revised scoring system for preoperative "
    "evaluation of metastatic spine tumor prognosis. Spine (Phila Pa 1976). 2005;30(19):2186-2191. "
    "doi:10.1097/01.brs.0000180401.06919.a5",
)


class Visceral(StrEnum):
    UNREMOVABLE = "unremovable"
    REMOVABLE = "removable"
    NONE = "none"


class Primary(StrEnum):
    LUNG = "lung"
    OSTEOSARCOMA = "osteosarcoma"
    STOMACH = "stomach"
    BLADDER = "bladder"
    ESOPHAGUS = "esophagus"
    PANCREAS = "pancreas"
    LIVER = "liver"
    GALLBLADDER = "gallbladder"
    UNIDENTIFIED = "unidentified"
    OTHER = "other"
    KIDNEY = "kidney"
    UTERUS = "uterus"
    RECTUM = "rectum"
    THYROID = "thyroid"
    BREAST = "breast"
    PROSTATE = "prostate"
    CARCINOID = "carcinoid"


# General condition (Karnofsky): "poor (10-40%)" 0, "moderate (50-70%)" 1, "good (80-100%)" 2.
KARNOFSKY_BANDS = ((40, 0), (70, 1), (100, 2))
# Extraspinal bone metastases foci: "≥ 3" 0, "1-2" 1, "0" 2.
EXTRASPINAL_POINTS = {0: 2, 1: 1, 2: 1}
EXTRASPINAL_THREE_OR_MORE = 0
# Metastases to the vertebral body: "≥ 3" 0, "2" 1, "1" 2.
VERTEBRAL_POINTS = {1: 2, 2: 1}
VERTEBRAL_THREE_OR_MORE = 0
VISCERAL_POINTS = {
    Visceral.UNREMOVABLE: 0,  # "unremovable"
    Visceral.REMOVABLE: 1,  # "removable"
    Visceral.NONE: 2,  # "no metastases"
}
PRIMARY_POINTS = {
    Primary.LUNG: 0, Primary.OSTEOSARCOMA: 0, Primary.STOMACH: 0,  # "lung, osteosarcoma, stomach,
    Primary.BLADDER: 0, Primary.ESOPHAGUS: 0, Primary.PANCREAS: 0,  #  bladder, esophagus, pancreas" 0
    Primary.LIVER: 1, Primary.GALLBLADDER: 1, Primary.UNIDENTIFIED: 1,  # "liver, gallbladder, unidentified" 1
    Primary.OTHER: 2,  # "others" 2
    Primary.KIDNEY: 3, Primary.UTERUS: 3,  # "kidney, uterus" 3
    Primary.RECTUM: 4,  # "rectum" 4
    Primary.THYROID: 5, Primary.BREAST: 5, Primary.PROSTATE: 5, Primary.CARCINOID: 5,  # "thyroid, breast,
}  #                                                            prostate, carcinoid tumour" 5
# Palsy: "complete (Frankel A, B)" 0, "incomplete (Frankel C, D)" 1, "none (Frankel E)" 2.
FRANKEL_POINTS = {Grade.A: 0, Grade.B: 0, Grade.C: 1, Grade.D: 1, Grade.E: 2}
# The enumerated items and their tables, for the catalogue (numeric items are banded in code).
ITEM_POINTS = {"visceral_metastases": VISCERAL_POINTS, "primary": PRIMARY_POINTS, "frankel": FRANKEL_POINTS}
BANDS = (
    Band(code="under_6_months", low=0, high=8, rule_id="SURG-4", action="conservative_treatment"),
    Band(code="over_6_months", low=9, high=11, rule_id="SURG-4", action="palliative_surgery"),
    Band(code="over_12_months", low=12, high=15, rule_id="SURG-4", action="excisional_surgery"),
)
TOTAL_RANGE = (0, 15)


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"karnofsky": 70, "extraspinal_bone_metastases": 2, "vertebral_body_metastases": 1,
           "visceral_metastases": "none", "primary": "lung", "frankel": "E"}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A patient with spinal metastases: the six items of the revised score."""

    karnofsky: bounds.KARNOFSKY
    extraspinal_bone_metastases: Annotated[int, Meta(ge=0, le=1000, description="Number of extraspinal "
                                                                                "bone metastatic foci.")]
    vertebral_body_metastases: Annotated[int, Meta(ge=1, le=33, description="Number of vertebral bodies "
                                                                            "with metastases (at least 1).")]
    visceral_metastases: Annotated[Visceral, Meta(description="Metastases to major internal organs.")]
    primary: Annotated[Primary, Meta(description="Primary site of the cancer.")]
    frankel: Annotated[Grade, Meta(description="Frankel grade (A-E) of the palsy; or give `frankel_findings`.")] \
        | None = None
    frankel_findings: Annotated[frankel_grade.Findings, Meta(
        description="The motor and sensory findings the Frankel grade stands for (instead of `frankel`; both "
                    "given must agree).")] | None = None


def karnofsky_points(karnofsky: int) -> int:
    return next(points for upper, points in KARNOFSKY_BANDS if karnofsky <= upper)


def compute(inputs: Inputs, lang: Language = "en") -> ScoreResult:
    grade = frankel_grade.resolve(inputs.frankel, inputs.frankel_findings, required=True)
    findings = frankel_grade.describe(inputs.frankel_findings) if inputs.frankel_findings else None
    extraspinal, vertebral = inputs.extraspinal_bone_metastases, inputs.vertebral_body_metastases
    items = [
        ItemScore(item="karnofsky", value=inputs.karnofsky, points=karnofsky_points(inputs.karnofsky)),
        ItemScore(item="extraspinal_bone_metastases", value=extraspinal,
                  points=EXTRASPINAL_POINTS.get(extraspinal, EXTRASPINAL_THREE_OR_MORE)),
        ItemScore(item="vertebral_body_metastases", value=vertebral,
                  points=VERTEBRAL_POINTS.get(vertebral, VERTEBRAL_THREE_OR_MORE)),
        item("visceral_metastases", inputs.visceral_metastases, VISCERAL_POINTS),
        item("primary", inputs.primary, PRIMARY_POINTS),
        ItemScore(item="frankel", value=grade.value, points=FRANKEL_POINTS[grade], derived_from=findings),
    ]
    return result(NAME, items, BANDS, CITATIONS, lang)
