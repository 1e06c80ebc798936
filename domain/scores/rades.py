"""Rades score: chance to remain ambulatory after radiotherapy for metastatic spinal cord compression."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from domain.model import Band, ItemScore, Language, ScoreResult
from domain.model import Inputs as InputsBase
from domain.scores._scoring import item, result, warning

NAME = "rades"
CITATIONS = (
    "Rades D, Rudat V, Veninga T, et al. A score predicting posttreatment ambulatory status in patients "
    "irradiated for metastatic spinal cord compression. Int J Radiat Oncol Biol Phys. 2008;72(3):905-908. "
    "doi:10.1016/j.ijrobp.2008.02.018",
    "Rades D, Douglas S, Huttenlocher S, et al. Validation of a score predicting post-treatment ambulatory "
    "status after radiotherapy for metastatic spinal cord compression. Int J Radiat Oncol Biol Phys. "
    "2011;79(5):1503-1506 (three groups: 21-28, 29-37, 38-44 points)",
)


class Primary(StrEnum):
    BREAST = "breast"
    PROSTATE = "prostate"
    MYELOMA_LYMPHOMA = "myeloma_lymphoma"
    NSCLC = "nsclc"
    SCLC = "sclc"
    UNKNOWN_PRIMARY = "unknown_primary"
    KIDNEY = "kidney"
    COLORECTAL = "colorectal"
    OTHER = "other"


class MotorFunction(StrEnum):
    AMBULATORY_WITHOUT_AID = "ambulatory_without_aid"
    AMBULATORY_WITH_AID = "ambulatory_with_aid"
    NOT_AMBULATORY = "not_ambulatory"
    PARAPLEGIC = "paraplegic"


PRIMARY_POINTS = {
    Primary.BREAST: 8,  # "Breast cancer"
    Primary.PROSTATE: 7,  # "Prostate cancer"
    Primary.MYELOMA_LYMPHOMA: 9,  # "Myeloma/lymphoma"
    Primary.NSCLC: 5,  # "Non-small cell lung cancer"
    Primary.SCLC: 6,  # "Small cell lung cancer"
    Primary.UNKNOWN_PRIMARY: 5,  # "Cancer of unknown primary"
    Primary.KIDNEY: 6,  # "Renal cell carcinoma"
    Primary.COLORECTAL: 6,  # "Colorectal cancer"
    Primary.OTHER: 6,  # "Other tumors"
}
MOTOR_FUNCTION_POINTS = {
    MotorFunction.AMBULATORY_WITHOUT_AID: 10,  # "Ambulatory without aid"
    MotorFunction.AMBULATORY_WITH_AID: 9,  # "Ambulatory with aid"
    MotorFunction.NOT_AMBULATORY: 3,  # "Not ambulatory"
    MotorFunction.PARAPLEGIC: 1,  # "Paraplegic"
}
VISCERAL_POINTS = {True: 5, False: 8}  # "Visceral metastases at RT: yes / no"
INTERVAL_BOUNDARY_MONTHS = 15  # "≤ 15 months" 6 points, "> 15 months" 8 points
# Time developing motor deficits before RT: "1-7 days" 4, "8-14 days" 7, "> 14 days" 9,
# extended to half-open intervals so that fractional days have one reading (clinical-rules.md 3).
ONSET_BANDS = ((7, 4), (14, 7))
ONSET_BEYOND_POINTS = 9
# The enumerated items and their tables, for the catalogue (numeric items are banded in code).
ITEM_POINTS = {"primary": PRIMARY_POINTS, "motor_function": MOTOR_FUNCTION_POINTS}
BANDS = (
    Band(code="group_1", low=21, high=28, rule_id="MSCC-2", action="rt_8gy_1fr"),
    Band(code="group_2", low=29, high=37, rule_id="MSCC-3",
         action="rt_20gy_5fr_or_30gy_10fr_with_or_without_surgery"),
    Band(code="group_3", low=38, high=44, rule_id="MSCC-4", action="rt_20gy_5fr_or_30gy_10fr"),
)
TOTAL_RANGE = (21, 44)


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"primary": "nsclc", "interval_months": 8, "visceral_metastases": False,
           "motor_function": "ambulatory_with_aid", "deficit_onset_days": 10}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A patient with metastatic spinal cord compression, before radiotherapy."""

    primary: Annotated[Primary, Meta(description="Primary tumour type.")]
    interval_months: Annotated[float, Meta(ge=0, le=1200, description="Months from tumour diagnosis to "
                                                                      "cord compression: ≤ 15 → 6 points, "
                                                                      "> 15 → 8.")]
    visceral_metastases: Annotated[bool, Meta(description="Visceral metastases at the time of RT.")]
    motor_function: Annotated[MotorFunction, Meta(description="Motor function before RT.")]
    deficit_onset_days: Annotated[float, Meta(gt=0, le=36500, description="Days over which the motor "
                                                                          "deficit developed before RT: "
                                                                          "(0, 7] → 4, (7, 14] → 7, > 14 → 9.")]


def onset_points(days: float) -> int:
    for upper, points in ONSET_BANDS:
        if days <= upper:
            return points
    return ONSET_BEYOND_POINTS


def compute(inputs: Inputs, lang: Language = "en") -> ScoreResult:
    months = inputs.interval_months
    warnings = ()
    if months == INTERVAL_BOUNDARY_MONTHS:
        warnings = (warning("boundary_rades_interval_15_months", lang),)
    items = [
        item("primary", inputs.primary, PRIMARY_POINTS),
        ItemScore(item="interval_months", value=months,
                  points=6 if months <= INTERVAL_BOUNDARY_MONTHS else 8),
        ItemScore(item="visceral_metastases", value=inputs.visceral_metastases,
                  points=VISCERAL_POINTS[inputs.visceral_metastases]),
        item("motor_function", inputs.motor_function, MOTOR_FUNCTION_POINTS),
        ItemScore(item="deficit_onset_days", value=inputs.deficit_onset_days,
                  points=onset_points(inputs.deficit_onset_days)),
    ]
    return result(NAME, items, BANDS, CITATIONS, lang, warnings)
