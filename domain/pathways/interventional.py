"""Interventional radiology (IR): cementoplasty, percutaneous and thermal ablation."""

from __future__ import annotations

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import opt
from domain.pathways._rules import Collector, PathwayResult

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
    puncture_site_infection: opt(bool, "Infection at the puncture site.") = None
    uncontrolled_sepsis: opt(bool, "Uncontrolled or unexplained sepsis.") = None
    coagulation_checked: opt(bool, "Coagulation checked and anticoagulants managed.") = None
    very_large_lesion: opt(bool, "Very large lesion.") = None
    mostly_soft_tissue: opt(bool, "Mostly soft-tissue extension.") = None
    oligometastatic: opt(bool, "Oligometastatic disease.") = None
    inflammatory_pain: opt(bool, "Inflammatory pain.") = None
    pain_score: opt(float, "Pain despite analgesics, 0-10.", ge=0, le=10) = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    out = Collector(lang)
    cementoplasty(inputs, out)
    if out.any_of("IR-2", inputs, "very_large_lesion", "mostly_soft_tissue"):
        out.fire("IR-2", "percutaneous_ablation_preferred", inputs=inputs,
                 fields=("very_large_lesion", "mostly_soft_tissue"))
    thermal_ablation(inputs, out)
    return out.result(NAME)


def cementoplasty(inputs: Inputs, out: Collector) -> None:
    if not out.any_of("IR-1", inputs, *CEMENTOPLASTY_INDICATIONS) or not out.need(
            "IR-1", inputs, "weight_bearing_long_bone"):
        return
    indications = [name for name in CEMENTOPLASTY_INDICATIONS if getattr(inputs, name)]
    if inputs.weight_bearing_long_bone:  # not alone in a pre-fracture weight-bearing long bone (LB-5 instead)
        out.warn("cementoplasty_long_bone_adjunct_only")
        return
    if not out.need("IR-1", inputs, "puncture_site_infection", "uncontrolled_sepsis"):
        return
    if inputs.puncture_site_infection or inputs.uncontrolled_sepsis:
        out.fire("IR-1", "cementoplasty_contraindicated", inputs=inputs,
                 fields=("puncture_site_infection", "uncontrolled_sepsis"))
        return
    if not inputs.coagulation_checked:
        out.warn("check_coagulation")
    out.fire("IR-1", "cementoplasty", inputs=inputs, fields=tuple(indications), values={"indications": indications})


def thermal_ablation(inputs: Inputs, out: Collector) -> None:
    if not out.any_of("IR-3", inputs, "oligometastatic", "inflammatory_pain") or not out.need(
            "IR-3", inputs, "pain_score"):
        return
    if inputs.pain_score == ABLATION_PAIN_THRESHOLD:
        out.warn("boundary_ablation_pain_4")
    if inputs.pain_score > ABLATION_PAIN_THRESHOLD:
        out.fire("IR-3", "thermal_ablation", inputs=inputs, fields=("oligometastatic", "inflammatory_pain",
                                                                    "pain_score"))
