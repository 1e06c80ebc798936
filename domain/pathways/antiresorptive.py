"""Bone-resorption inhibitors (AR): when to start, zoledronic acid dosed on Cockcroft–Gault, denosumab, the
checklist, duration, spacing, the denosumab relay, stopping, and the creatinine withhold/resume rule."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from domain.model import Inputs as InputsBase
from domain.model import Language, Struct
from domain.pathways._fields import LIFE_EXPECTANCY_MONTHS, LIFE_EXPECTANCY_WEEKS, opt
from domain.pathways._rules import DAYS_PER_MONTH, Collector, PathwayResult, life_expectancy_days

NAME = "antiresorptive"
RULE_IDS = ("AR-1", "AR-2", "AR-3", "AR-4", "AR-5", "AR-6", "AR-7")
START_MIN_DAYS = 3 * DAYS_PER_MONTH  # "> 3 mois"
UMOL_PER_MG_DL = 88.4
CREATININE_MG_DL_RANGE = (0.1, 40.0)
# Zometa label: clearance (mL/min, unrounded) -> dose (mg). Read from the top: > 60 -> 4.0, 50-60 -> 3.5,
# 40-49 -> 3.3, 30-39 -> 3.0; under 30 not given.
ZOLEDRONIC_DOSES = ((60.0, False, 4.0), (50.0, True, 3.5), (40.0, True, 3.3), (30.0, True, 3.0))
NORMAL_BASELINE_MAX_MG_DL = 1.4  # label: normal baseline < 1.4 mg/dL, abnormal > 1.4
ROSEN = ("Rosen LS, et al. Zoledronic acid versus placebo in the treatment of skeletal metastases in patients "
         "with lung cancer and other solid tumors. J Clin Oncol. 2003;21(16):3150-3157", "Zometa (zoledronic acid) "
         "prescribing information: dose reduction for creatinine clearance ≤ 60 mL/min")
HENRY = ("Henry DH, et al. Randomized, double-blind study of denosumab versus zoledronic acid in the treatment "
         "of bone metastases in patients with advanced cancer or multiple myeloma. J Clin Oncol. "
         "2011;29(9):1125-1132",)


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class CreatinineUnit(StrEnum):
    MG_DL = "mg_dl"
    UMOL_L = "umol_l"


class Creatinine(Struct, forbid_unknown_fields=True):
    """A serum creatinine with its unit, named explicitly."""

    value: Annotated[float, Meta(gt=0, le=5000, description="The measured value.")]
    unit: CreatinineUnit

    def __post_init__(self) -> None:
        # A plausible serum creatinine only: Cockcroft–Gault divides by it (fuzzing sent 5e-324 µmol/L).
        if not CREATININE_MG_DL_RANGE[0] <= self.mg_dl() <= CREATININE_MG_DL_RANGE[1]:
            low, high = CREATININE_MG_DL_RANGE
            raise ValueError(f"creatinine must be {low}-{high} mg/dL ({low * UMOL_PER_MG_DL:.1f}-"
                             f"{high * UMOL_PER_MG_DL:.0f} umol/L)")

    def mg_dl(self) -> float:
        return self.value / UMOL_PER_MG_DL if self.unit == CreatinineUnit.UMOL_L else self.value


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"life_expectancy_months": 6, "age": 70, "sex": "female", "weight_kg": 58,
           "creatinine": {"value": 95, "unit": "umol_l"}, "urgent": False}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A patient with a bone metastasis, for a bone-resorption inhibitor."""

    life_expectancy_weeks: LIFE_EXPECTANCY_WEEKS = None
    life_expectancy_months: LIFE_EXPECTANCY_MONTHS = None
    age: opt(int, "Age in years (Cockcroft–Gault).", ge=18, le=120) = None
    sex: opt(Sex, "Sex (Cockcroft–Gault: × 0.85 for women).") = None
    weight_kg: opt(float, "Body weight in kg.", gt=20, le=400) = None
    creatinine: opt(Creatinine, "Current serum creatinine, unit named.") = None
    urgent: opt(bool, "Treatment is urgent (skips the pre-treatment checklist).") = None
    months_on_treatment: opt(float, "Months of inhibitor already given.", ge=0, le=600) = None
    prolonged_bone_remission: opt(bool, "Prolonged bone remission.") = None
    stopping_denosumab: opt(bool, "Denosumab is being stopped.") = None
    denosumab_months: opt(float, "Months of denosumab taken.", ge=0, le=600) = None
    baseline_creatinine: opt(Creatinine, "Creatinine before zoledronic acid began.") = None
    zoledronic_withheld: opt(bool, "Zoledronic acid is currently withheld for a creatinine rise.") = None


def cockcroft_gault(age: int, sex: Sex, weight_kg: float, creatinine_mg_dl: float) -> float:
    """Creatinine clearance in mL/min: (140 − age) × weight / (72 × creatinine), × 0.85 for women. Unrounded."""
    clearance = (140 - age) * weight_kg / (72 * creatinine_mg_dl)
    return clearance * 0.85 if sex == Sex.FEMALE else clearance


def zoledronic_dose(clearance: float) -> float | None:
    for limit, inclusive, dose in ZOLEDRONIC_DOSES:
        if clearance > limit or (inclusive and clearance == limit):
            return dose
    return None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    out = Collector(lang)
    if started(inputs, out):
        zoledronic_acid(inputs, out)
        if out.need("AR-4", inputs, "urgent") and not inputs.urgent:
            out.fire("AR-4", "pretreatment_checklist", inputs=inputs, fields=("urgent",))
    duration(inputs, out)
    if out.need("AR-6", inputs, "stopping_denosumab") and inputs.stopping_denosumab and out.need(
            "AR-6", inputs, "denosumab_months") and inputs.denosumab_months > 6:
        out.fire("AR-6", "bisphosphonate_relay", inputs=inputs, fields=("stopping_denosumab", "denosumab_months"))
    creatinine_monitoring(inputs, out)
    return out.result(NAME)


def started(inputs: Inputs, out: Collector) -> bool:
    days = life_expectancy_days(inputs)
    if days is None:
        out.missing("AR-1", "life_expectancy_weeks|life_expectancy_months")
        return False
    if days == START_MIN_DAYS:
        out.warn("boundary_life_expectancy_3_months")
    if days <= START_MIN_DAYS:
        return False
    fields = ("life_expectancy_weeks",) if inputs.life_expectancy_weeks is not None else ("life_expectancy_months",)
    out.fire("AR-1", "start_antiresorptive", inputs=inputs, fields=fields)
    return True


def zoledronic_acid(inputs: Inputs, out: Collector) -> None:
    """AR-2 dosed on the unrounded clearance; AR-3 denosumab always offered, alone under 30 mL/min."""
    if out.need("AR-2", inputs, "age", "sex", "weight_kg", "creatinine"):
        clearance = cockcroft_gault(inputs.age, inputs.sex, inputs.weight_kg, inputs.creatinine.mg_dl())
        dose = zoledronic_dose(clearance)
        fields = ("age", "sex", "weight_kg", "creatinine")
        values = {"creatinine_clearance_ml_min": round(clearance, 1), "dose_mg": dose}
        if dose is None:
            out.warn("zoledronic_acid_renal_contraindication")
            out.fire("AR-2", "zoledronic_acid_not_given", inputs=inputs, fields=fields, values=values, citations=ROSEN)
        else:
            out.fire("AR-2", "zoledronic_acid", inputs=inputs, fields=fields, values=values, citations=ROSEN)
    out.fire("AR-3", "denosumab", inputs=inputs, fields=(), values={"dose_mg": 120}, citations=HENRY)


def duration(inputs: Inputs, out: Collector) -> None:
    if not out.need("AR-5", inputs, "months_on_treatment"):
        return
    months = inputs.months_on_treatment
    if months < 24:
        out.fire("AR-5", "continue_treatment", inputs=inputs, fields=("months_on_treatment",),
                 values={"may_space_zoledronic_acid_to_12_weeks": months >= 6})
    elif out.need("AR-7", inputs, "prolonged_bone_remission") and inputs.prolonged_bone_remission:
        out.fire("AR-7", "discuss_stopping", inputs=inputs, fields=("months_on_treatment", "prolonged_bone_remission"),
                 rcp=True)


def creatinine_monitoring(inputs: Inputs, out: Collector) -> None:
    """Label: withhold after a rise ≥ 0.5 mg/dL from a normal baseline (≥ 1.0 from an abnormal one); resume
    when back within 10 % of baseline. Evaluated only when a baseline is given."""
    if inputs.baseline_creatinine is None or not out.need("AR-2", inputs, "creatinine"):
        return
    baseline, current = inputs.baseline_creatinine.mg_dl(), inputs.creatinine.mg_dl()
    if abs(baseline - NORMAL_BASELINE_MAX_MG_DL) < 1e-9:
        out.warn("boundary_baseline_creatinine_1_4")
    limit = 0.5 if baseline <= NORMAL_BASELINE_MAX_MG_DL + 1e-9 else 1.0
    values = {"baseline_mg_dl": round(baseline, 3), "current_mg_dl": round(current, 3), "rise_limit_mg_dl": limit}
    fields = ("baseline_creatinine", "creatinine")
    if current - baseline >= limit - 1e-9:
        out.fire("AR-2", "withhold_zoledronic_acid", inputs=inputs, fields=fields, values=values, citations=ROSEN)
    elif inputs.zoledronic_withheld and current <= baseline * 1.10 + 1e-9:
        out.fire("AR-2", "resume_zoledronic_acid", inputs=inputs, fields=(*fields, "zoledronic_withheld"),
                 values=values, citations=ROSEN)
