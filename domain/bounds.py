"""One definition per bound (clinical-rules.md SAFE-11, SAFE-4): every score, pathway, whole case and bulk line
that takes one of these values takes it through the type below, so the same bad value is refused the same way
everywhere, with the same message."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from msgspec import Meta

from domain.model import FieldProblem, InputRejected

KARNOFSKY = Annotated[int, Meta(ge=10, le=100, multiple_of=10,
                                description="Karnofsky performance status, 10 to 100 in steps of 10.")]
AGE = Annotated[int, Meta(ge=18, le=120, description="Age in years (an adult: 18 to 120).")]
WEIGHT_KG = Annotated[float, Meta(ge=30, le=250, description="Body weight in kg (30 to 250).")]
LIFE_EXPECTANCY_WEEKS = Annotated[float, Meta(gt=0, le=5200, description="Estimated life expectancy in weeks "
                                                                         "(or give months); more than 0.")]
LIFE_EXPECTANCY_MONTHS = Annotated[float, Meta(gt=0, le=1200, description="Estimated life expectancy in months "
                                                                          "(or give weeks); more than 0.")]
ASA_CLASS = Annotated[int, Meta(ge=1, le=5, description="ASA physical status (1-5); few comorbidities = ASA 1-2.")]

# Serum creatinine (SAFE-4): outside 0.2-20 mg/dL the value is refused ("check the unit": 10 umol/L sent as
# mg/dL, or the reverse); under 0.4 mg/dL Cockcroft-Gault overestimates the clearance (warning).
UMOL_PER_MG_DL = 88.4
CREATININE_MG_DL_RANGE = (0.2, 20.0)
CREATININE_LOW_MG_DL = 0.4
IMPLAUSIBLE_CLEARANCE_ML_MIN = 150.0


def creatinine_out_of_range(mg_dl: float) -> str | None:
    """The message for an implausible serum creatinine, or None when it is plausible."""
    low, high = CREATININE_MG_DL_RANGE
    if low <= mg_dl <= high:
        return None
    return (f"creatinine out of range: must be {low}-{high} mg/dL ({low * UMOL_PER_MG_DL:.1f}-"
            f"{high * UMOL_PER_MG_DL:.0f} umol/L); check the unit")


def not_after(day: dt.date | None, field: str, evaluation_date: dt.date | None, evaluation_field: str) -> None:
    """A dated event of the case (surgery, G-CSF, treatment start) cannot follow the evaluation (SAFE-10): 422
    naming both fields."""
    if day is not None and evaluation_date is not None and day > evaluation_date:
        raise InputRejected([FieldProblem(
            field=field, message=f"{day.isoformat()} is after {evaluation_field} ({evaluation_date.isoformat()}): "
            "an event of the case cannot follow its evaluation", allowed=[f"<= {evaluation_date.isoformat()}"])],
            contradiction=True)
