"""Local versus systemic treatment (SYS): the two oligometastatic thresholds are applied apart."""

from __future__ import annotations

from domain.model import Inputs as InputsBase
from domain.model import Language
from domain.pathways._fields import opt
from domain.pathways._rules import Collector, PathwayResult

NAME = "systemic"
RULE_IDS = ("SYS-1", "SYS-2")
LOCAL_TREATMENT_MAX_SITES = 2  # "≤ 2 sites" (local treatment); SBRT's "1 à 3 sites" is RT-4's own


# A request a clinician's system could send (documentation: OpenAPI examples, catalogue).
EXAMPLE = {"bone_metastases": 2, "metastatic_sites": 2}

class Inputs(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The extent of the metastatic disease."""

    bone_metastases: opt(int, "Number of bone metastases.", ge=0, le=1000) = None
    metastatic_sites: opt(int, "Number of metastatic sites, bone and visceral.", ge=0, le=1000) = None


def evaluate(inputs: Inputs, lang: Language = "en") -> PathwayResult:
    out = Collector(lang)
    if out.need("SYS-1", inputs, "bone_metastases") and inputs.bone_metastases >= 2:
        out.fire("SYS-1", "systemic_antiresorptive", inputs=inputs, fields=("bone_metastases",))
    if out.need("SYS-2", inputs, "metastatic_sites") and 1 <= inputs.metastatic_sites <= LOCAL_TREATMENT_MAX_SITES:
        out.fire("SYS-2", "local_treatment_options", inputs=inputs, fields=("metastatic_sites",))
    return out.result(NAME)
