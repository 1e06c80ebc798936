"""Bone-resorption inhibitors (AR): when to start, zoledronic acid dosed on Cockcroft–Gault, denosumab, the
checklist, duration, spacing, the denosumab relay, stopping, and the creatinine withhold/resume rule."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from domain import bounds
from domain.model import Inputs as InputsBase
from domain.model import Language, Struct
from domain.pathways._fields import AGE, LIFE_EXPECTANCY_MONTHS, LIFE_EXPECTANCY_WEEKS, WEIGHT_KG, opt
from domain.pathways._rules import DAYS_PER_MONTH, Collector, PathwayResult, Reason, life_expectancy_days

NAME = "antiresorptive"
RULE_IDS = ("AR-1", "AR-2", "AR-3", "AR-4", "AR-5", "AR-6", "AR-7")
START_MIN_DAYS = 3 * DAYS_PER_MONTH  # "> 3 mois"
UMOL_PER_MG_DL = bounds.UMOL_PER_MG_DL
# Zometa label: clearance (mL/min, unrounded) -> dose (mg). Read from the top: > 60 -> 4.0, 50-60 -> 3.5,
# 40-49 -> 3.3, 30-39 -> 3.0; under 30 not given.
ZOLEDRONIC_DOSES = ((60.0, False, 4.0), (50.0, True, 3.5), (40.0, True, 3.3), (30.0, True, 3.0))
SEVERE_RENAL_ML_MIN = 30.0
NORMAL_BASELINE_MAX_MG_DL = 1.4  # label: normal baseline < 1.4 mg/dL, abnormal > 1.4
RESUME_WITHIN = 1.10  # label: resume when back within 10 % of baseline
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

    # the one bound is the plausible range below (SAFE-4, SAFE-11), checked in mg/dL whatever the unit
    value: Annotated[float, Meta(description="The measured value: 0.2-20 mg/dL (17.7-1768 umol/L); anything "
                                             "else is refused (check the unit).")]
    unit: CreatinineUnit

    def __post_init__(self) -> None:
        # SAFE-4: a plausible serum creatinine only; 10 umol/L sent for 10 mg/dL must not be dosed.
        problem = bounds.creatinine_out_of_range(self.mg_dl())
        if problem:
            raise ValueError(problem)

    def mg_dl(self) -> float:
        return self.value / UMOL_PER_MG_DL if self.unit == CreatinineUnit.UMOL_L else self.value

    def display(self, mg_dl: float, lang: str = "en") -> str:
        """`mg_dl` in this creatinine's own unit, for a text."""
        if self.unit == CreatinineUnit.UMOL_L:
            return f"{mg_dl * UMOL_PER_MG_DL:.0f} µmol/L"
        text = f"{mg_dl:.2f} mg/dL"
        return text.replace(".", ",") if lang == "fr" else text


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"life_expectancy_months": 6, "age": 70, "sex": "female", "weight_kg": 58,
           "creatinine": {"value": 95, "unit": "umol_l"}, "urgent": False, "dental_assessment_done": True}


class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A patient with a bone metastasis, for a bone-resorption inhibitor."""

    life_expectancy_weeks: LIFE_EXPECTANCY_WEEKS = None
    life_expectancy_months: LIFE_EXPECTANCY_MONTHS = None
    age: AGE = None
    sex: opt(Sex, "Sex (Cockcroft–Gault: × 0.85 for women).") = None
    weight_kg: WEIGHT_KG = None
    creatinine: opt(Creatinine, "Current serum creatinine, unit named.") = None
    urgent: opt(bool, "Treatment is urgent (skips the pre-treatment checklist).") = None
    dental_assessment_done: opt(bool, "The dental assessment with panoramic X-ray is done (AR-4).") = None
    dialysis: opt(bool, "The patient is on dialysis.") = None
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
    withheld = creatinine_monitoring(inputs, out)
    # already on an inhibitor: the start (AR-1, AR-4) is behind; duration and stopping (AR-5..7) answer instead
    on_treatment = inputs.months_on_treatment is not None and inputs.months_on_treatment > 0
    start = None if on_treatment else started(inputs, out)
    clearance = renal_dosing(inputs, out, start, withheld)
    if start:
        denosumab(inputs, clearance, out)
        if out.need("AR-4", inputs, "urgent") and not inputs.urgent:
            out.fire("AR-4", "pretreatment_checklist", inputs=inputs, fields=("urgent",))
    duration(inputs, out)
    relay(inputs, clearance, withheld, out)
    return out.result(NAME)


def relay(inputs: Inputs, clearance: float | None, withheld: Reason | None, out: Collector) -> None:
    """AR-6: stopping denosumab taken over 6 months -> a bisphosphonate relay, unless the kidneys forbid the
    bisphosphonate (clearance under 30 mL/min, dialysis, a creatinine withhold): then a specialist decides."""
    if not (out.need("AR-6", inputs, "stopping_denosumab") and inputs.stopping_denosumab and out.need(
            "AR-6", inputs, "denosumab_months") and inputs.denosumab_months > 6):
        return
    fields = ("stopping_denosumab", "denosumab_months")
    reasons = [reason for reason in (
        withheld,
        out.reason("dialysis") if inputs.dialysis else None,
        out.reason("clearance_under_30", clearance=out.number(clearance, 1))
        if clearance is not None and clearance < SEVERE_RENAL_ML_MIN else None) if reason is not None]
    if reasons:
        out.fire("AR-6", "relay_needs_specialist_opinion", inputs=inputs, fields=fields, reasons=tuple(reasons))
    else:
        out.fire("AR-6", "bisphosphonate_relay", inputs=inputs, fields=fields)


def started(inputs: Inputs, out: Collector) -> bool | None:
    """AR-1 with AR-4 (SAFE-12): start when life expectancy is over 3 months, after the dental assessment
    unless urgent; "not indicated" said with its reason (SAFE-8). None when the start cannot be decided."""
    days = life_expectancy_days(inputs)
    if days is None:
        out.missing("AR-1", "life_expectancy_weeks|life_expectancy_months")
        return None
    fields = ("life_expectancy_weeks",) if inputs.life_expectancy_weeks is not None else ("life_expectancy_months",)
    if days == START_MIN_DAYS:
        out.warn("boundary_life_expectancy_3_months")
    if days <= START_MIN_DAYS:
        out.fire("AR-1", "antiresorptive_not_indicated", inputs=inputs, fields=fields,
                 reasons=(out.reason("life_expectancy_3_months_or_less", months=out.number(days / DAYS_PER_MONTH)),))
        return False
    if inputs.urgent or inputs.dental_assessment_done:
        out.fire("AR-1", "start_antiresorptive", inputs=inputs,
                 fields=(*fields, *(f for f in ("urgent", "dental_assessment_done") if getattr(inputs, f))))
        return True
    if inputs.urgent is False and inputs.dental_assessment_done is False:
        out.fire("AR-1", "start_after_dental_assessment", inputs=inputs,
                 fields=(*fields, "urgent", "dental_assessment_done"))
        return True
    out.missing("AR-1", *(f for f in ("urgent", "dental_assessment_done") if getattr(inputs, f) is None))
    return None


def renal_dosing(inputs: Inputs, out: Collector, start: bool | None, withheld: Reason | None) -> float | None:
    """AR-2 dosed on the unrounded clearance, whenever its inputs are given (SAFE-12): a dose when the start is
    indicated, information otherwise; a withhold of the drug supersedes its dose (SAFE-3)."""
    names = ("age", "sex", "weight_kg", "creatinine")
    if any(getattr(inputs, name) is None for name in names):
        if start:
            out.need("AR-2", inputs, *names)
        return None
    creatinine = inputs.creatinine.mg_dl()
    clearance = cockcroft_gault(inputs.age, inputs.sex, inputs.weight_kg, creatinine)
    if creatinine < bounds.CREATININE_LOW_MG_DL:
        out.warn("low_creatinine_overestimates_clearance")
    if clearance > bounds.IMPLAUSIBLE_CLEARANCE_ML_MIN:
        out.warn("implausible_clearance")
    dose = zoledronic_dose(clearance)
    values = {"creatinine_clearance_ml_min": round(clearance, 1), "dose_mg": dose}
    say = {"clearance": out.number(clearance, 1), "dose": out.number(dose) if dose is not None else "-"}
    if dose is None:
        out.warn("zoledronic_acid_renal_contraindication")
    # SAFE-4: no dose from a clearance that cannot be trusted (dialysis, an implausible value)
    untrusted = [out.reason("dialysis")] if inputs.dialysis else []
    if clearance > bounds.IMPLAUSIBLE_CLEARANCE_ML_MIN:
        untrusted.append(out.reason("implausible_clearance", clearance=say["clearance"]))
    if withheld is not None:
        if dose is not None:
            out.withhold("AR-2", "zoledronic_acid", by="AR-2", reason=withheld, say=say)
    elif untrusted:
        action = "zoledronic_acid_not_given" if inputs.dialysis else "zoledronic_acid_not_dosed"
        out.fire("AR-2", action, inputs=inputs, fields=(*names, *(("dialysis",) if inputs.dialysis else ())),
                 values=values, citations=ROSEN, reasons=tuple(untrusted))
    elif start:
        action = "zoledronic_acid" if dose is not None else "zoledronic_acid_not_given"
        reasons = () if dose is not None else (out.reason("clearance_under_30", clearance=say["clearance"]),)
        out.fire("AR-2", action, inputs=inputs, fields=names, values=values, citations=ROSEN, say=say,
                 reasons=reasons)
    else:
        action = "renal_dosing_information" if dose is not None else "renal_dosing_information_under_30"
        out.fire("AR-2", action, inputs=inputs, fields=names, values=values, citations=ROSEN, say=say)
    return clearance


def denosumab(inputs: Inputs, clearance: float | None, out: Collector) -> None:
    """AR-3, offered when the start is indicated, with the calcium of SAFE-5; not while denosumab is being
    stopped (AR-6 answers then)."""
    if inputs.stopping_denosumab:
        out.withhold("AR-3", "denosumab", by="AR-6", reason=out.reason("stopping_denosumab"))
        return
    if inputs.dialysis or (clearance is not None and clearance < SEVERE_RENAL_ML_MIN):
        out.warn("denosumab_severe_hypocalcaemia_risk")
    out.fire("AR-3", "denosumab", inputs=inputs, fields=(), values={"dose_mg": 120}, citations=HENRY)


def duration(inputs: Inputs, out: Collector) -> None:
    if not out.need("AR-5", inputs, "months_on_treatment"):
        return
    months = inputs.months_on_treatment
    if months < 24:
        out.fire("AR-5", "continue_treatment", inputs=inputs, fields=("months_on_treatment",),
                 values={"may_space_zoledronic_acid_to_12_weeks": months >= 6})
    elif out.need("AR-7", inputs, "prolonged_bone_remission") and inputs.prolonged_bone_remission:
        out.fire("AR-7", "discuss_stopping", inputs=inputs, fields=("months_on_treatment", "prolonged_bone_remission"))


def creatinine_monitoring(inputs: Inputs, out: Collector) -> Reason | None:
    """Label: withhold after a rise >= 0.5 mg/dL from a normal baseline (>= 1.0 from an abnormal one), and keep
    withholding until back within 10 % of baseline, the threshold stated in the baseline's unit (SAFE-3).
    Evaluated only when a baseline is given; returns the reason when zoledronic acid is withheld."""
    if inputs.baseline_creatinine is None or not out.need("AR-2", inputs, "creatinine"):
        return None
    baseline, current = inputs.baseline_creatinine.mg_dl(), inputs.creatinine.mg_dl()
    if abs(baseline - NORMAL_BASELINE_MAX_MG_DL) < 1e-9:
        out.warn("boundary_baseline_creatinine_1_4")
    limit = 0.5 if baseline <= NORMAL_BASELINE_MAX_MG_DL + 1e-9 else 1.0
    resume = baseline * RESUME_WITHIN
    values = {"baseline_mg_dl": round(baseline, 3), "current_mg_dl": round(current, 3), "rise_limit_mg_dl": limit,
              "resume_at_or_below_mg_dl": round(resume, 3),
              "resume_at_or_below": inputs.baseline_creatinine.display(resume)}
    shown = {"resume": inputs.baseline_creatinine.display(resume, out.lang)}
    fields = ("baseline_creatinine", "creatinine")
    say = shown
    rose = current - baseline >= limit - 1e-9
    still_high = bool(inputs.zoledronic_withheld) and current > resume + 1e-9
    if rose or still_high:
        code = "creatinine_rise" if rose else "creatinine_not_back_to_baseline"
        reason = out.reason(code, current=inputs.creatinine.display(current, out.lang),
                            baseline=inputs.baseline_creatinine.display(baseline, out.lang), resume=say["resume"])
        out.fire("AR-2", "withhold_zoledronic_acid", inputs=inputs, values=values, citations=ROSEN, say=say,
                 fields=(*fields, "zoledronic_withheld") if still_high and not rose else fields, reasons=(reason,))
        return reason
    if inputs.zoledronic_withheld:
        out.fire("AR-2", "resume_zoledronic_acid", inputs=inputs, fields=(*fields, "zoledronic_withheld"),
                 values=values, citations=ROSEN)
    return None
