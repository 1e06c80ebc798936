"""Interventional radiology (IR): cementoplasty, percutaneous and thermal ablation."""

from __future__ import annotations

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import (
    CORD_COMPRESSION,
    CORD_THREAT,
    PUNCTURE_SITE_INFECTION,
    RETROPULSION,
    UNCONTROLLED_SEPSIS,
    opt,
)
from domain.pathways._rules import Collector, PathwayResult, compression_implies_threat
from domain.safety import CEMENTOPLASTY_CONTRAINDICATIONS

NAME = "interventional"
RULE_IDS = ("IR-1", "IR-2", "IR-3")
CEMENTOPLASTY_INDICATIONS = ("pain_poorly_controlled", "opioid_intolerance", "other_techniques_ineffective",
                             "stabilisation_instead_of_surgery", "preventive_at_risk_zone")
ABLATION_PAIN_THRESHOLD = 4  # "> 4/10"


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"pain_poorly_controlled": True, "weight_bearing_long_bone": False, "puncture_site_infection": False,
           "uncontrolled_sepsis": False, "coagulation_checked": True}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A bone metastasis considered for interventional radiology."""

    pain_poorly_controlled: opt(bool, "Pain poorly controlled by analgesics.") = None
    opioid_intolerance: opt(bool, "Opioid complications or intolerance.") = None
    other_techniques_ineffective: opt(bool, "Other techniques ineffective or not indicated.") = None
    stabilisation_instead_of_surgery: opt(bool, "Analgesia and stabilisation instead of heavier surgery, "
                                                "or with RT.") = None
    preventive_at_risk_zone: opt(bool, "Preventive consolidation in an at-risk zone (cervical, "
                                       "thoracolumbar junction, acetabular roof).") = None
    weight_bearing_long_bone: opt(bool, "The lesion is in a weight-bearing long bone (pre-fracture).") = None
    puncture_site_infection: PUNCTURE_SITE_INFECTION = None
    uncontrolled_sepsis: UNCONTROLLED_SEPSIS = None
    posterior_wall_retropulsion: RETROPULSION = None
    cord_threat: CORD_THREAT = None
    cord_compression: CORD_COMPRESSION = None
    vertebral: opt(bool, "The lesion is vertebral (then cord threat and retropulsion must be known).") = None
    coagulation_checked: opt(bool, "Coagulation checked; anticoagulants and antiplatelet agents managed.") = None
    very_large_lesion: opt(bool, "Very large lesion.") = None
    mostly_soft_tissue: opt(bool, "Mostly soft-tissue extension.") = None
    oligometastatic: opt(bool, "Oligometastatic disease.") = None
    inflammatory_pain: opt(bool, "Inflammatory pain.") = None
    pain_score: opt(float, "Pain despite analgesics, 0-10.", ge=0, le=10) = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    compression_implies_threat(inputs)
    out = Collector(lang)
    cementoplasty(inputs, out)
    if out.any_of("IR-2", inputs, "very_large_lesion", "mostly_soft_tissue"):
        out.fire("IR-2", "percutaneous_ablation_preferred", inputs=inputs,
                 fields=("very_large_lesion", "mostly_soft_tissue"))
    thermal_ablation(inputs, out)
    return out.result(NAME)


def cementoplasty(inputs: Inputs, out: Collector) -> None:
    """IR-1: an indication, not alone in a weight-bearing long bone, none of SAFE-2's contraindications.
    Asked (an indication given), the answer is given either way (SAFE-8)."""
    indicated = out.any_of("IR-1", inputs, *CEMENTOPLASTY_INDICATIONS)
    if all(getattr(inputs, name) is None for name in CEMENTOPLASTY_INDICATIONS):
        return  # not asked (a lesion's findings handed over from its spine block do not ask it)
    indications = [name for name in CEMENTOPLASTY_INDICATIONS if getattr(inputs, name)]
    found = tuple(name for name in CEMENTOPLASTY_CONTRAINDICATIONS if getattr(inputs, name))
    if found:
        reasons = tuple(out.reason(name) for name in found)
        out.fire("IR-1", "cementoplasty_contraindicated", inputs=inputs, fields=found, reasons=reasons,
                 values={"contraindications": list(found)})
        if indicated:
            out.withhold("IR-1", "cementoplasty", by="SAFE-2", reason=reasons[0])
        return
    if not indicated:
        if all(getattr(inputs, name) is False for name in CEMENTOPLASTY_INDICATIONS):
            out.fire("IR-1", "cementoplasty_not_indicated", inputs=inputs, fields=CEMENTOPLASTY_INDICATIONS,
                     reasons=(out.reason("no_cementoplasty_indication"),))
        return
    if not out.need("IR-1", inputs, "weight_bearing_long_bone"):
        return
    if inputs.weight_bearing_long_bone:  # not alone in a pre-fracture weight-bearing long bone (LB-5 instead)
        out.warn("cementoplasty_long_bone_adjunct_only")
        out.fire("IR-1", "cementoplasty_not_indicated", inputs=inputs, fields=("weight_bearing_long_bone",),
                 reasons=(out.reason("weight_bearing_long_bone"),))
        return
    # SAFE-2: every contraindication known before a yes (at a vertebra, the cord and the posterior wall too)
    spinal = ("posterior_wall_retropulsion", "cord_threat") if inputs.vertebral else ()
    if not out.need("IR-1", inputs, "puncture_site_infection", "uncontrolled_sepsis", *spinal):
        return
    if not inputs.coagulation_checked:
        out.warn("check_coagulation")
    out.fire("IR-1", "cementoplasty", inputs=inputs, fields=tuple(indications), values={"indications": indications})


def thermal_ablation(inputs: Inputs, out: Collector) -> None:
    """IR-3: oligometastatic disease and/or inflammatory pain, and pain > 4/10; asked, answered (SAFE-8)."""
    indicated = out.any_of("IR-3", inputs, "oligometastatic", "inflammatory_pain")
    fields = tuple(f for f in ("oligometastatic", "inflammatory_pain", "pain_score") if getattr(inputs, f) is not None)
    reasons = []
    if not indicated and inputs.oligometastatic is False and inputs.inflammatory_pain is False:
        reasons.append(out.reason("not_oligometastatic_nor_inflammatory"))
    elif not indicated:
        return
    if inputs.pain_score is None:
        if not reasons:
            out.need("IR-3", inputs, "pain_score")
            return
    else:
        if inputs.pain_score == ABLATION_PAIN_THRESHOLD:
            out.warn("boundary_ablation_pain_4")
        if inputs.pain_score <= ABLATION_PAIN_THRESHOLD:
            reasons.append(out.reason("pain_4_or_less", pain=out.number(inputs.pain_score)))
    if reasons:
        out.fire("IR-3", "not_eligible_ablation", inputs=inputs, fields=fields, reasons=tuple(reasons))
    elif inputs.cord_compression:  # a compressed cord: emergency radiotherapy leads (MSCC-1), not ablation
        out.withhold("IR-3", "thermal_ablation", by="MSCC-1", reason=out.reason("cord_compression"))
    else:
        out.fire("IR-3", "thermal_ablation", inputs=inputs, fields=fields)
