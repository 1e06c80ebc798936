"""One case, one safe answer (clinical-rules.md section 4): the policy every pathway applies through its
collector — how urgent each rule is (SAFE-7), which recommendations the RCP decides (SAFE-6), which ones are
surgery and fall to life expectancy (SAFE-1) — kept as data, in one place, so that a new rule without an urgency
fails its test instead of shipping unranked."""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Any


class Urgency(StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"


RANK = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}

# SAFE-7: emergency = cord compression (MSCC-*) and pathological fracture (LB-1); urgent = Mirels >= 9 (LB-4);
# SP-3 is urgent only for a threat to the cord or SINS >= 13, which the spine pathway says when it fires it.
# Every rule id the engine can fire is listed: tests/unit/test_safety_rules.py holds the catalogue to it.
RULE_URGENCY: dict[str, Urgency] = {
    **{f"MSCC-{n}": Urgency.EMERGENCY for n in range(1, 6)},
    "LB-1": Urgency.EMERGENCY, "LB-2": Urgency.ROUTINE, "LB-3": Urgency.ROUTINE, "LB-4": Urgency.URGENT,
    "LB-5": Urgency.ROUTINE,
    **{f"SP-{n}": Urgency.ROUTINE for n in range(1, 5)},
    **{f"SURG-{n}": Urgency.ROUTINE for n in range(1, 7)},
    **{f"SYS-{n}": Urgency.ROUTINE for n in range(1, 3)},
    **{f"AR-{n}": Urgency.ROUTINE for n in range(1, 8)},
    **{f"RT-{n}": Urgency.ROUTINE for n in range(1, 5)},
    **{f"IR-{n}": Urgency.ROUTINE for n in range(1, 4)},
    **{f"IMG-{n}": Urgency.ROUTINE for n in range(1, 9)},
    **{f"TRIAL-{n}": Urgency.ROUTINE for n in range(1, 4)},
}
# Score bands that are urgent by themselves (SAFE-7): SINS >= 13 and Mirels >= 9.
URGENT_BANDS = frozenset({("sins", "unstable"), ("mirels", "high")})

# Reading order within one urgency: the pathway, as the guideline's flowcharts go (a rule id is ranked by the
# first prefix it starts with).
PATHWAY_ORDER = ("MSCC-", "SURG-1", "LB-1", "SP-3", "LB-4", "LB-5", "SP-1", "SP-2", "LB-3", "SURG-",
                 "RT-2", "RT-3", "LB-2", "SP-4", "RT-1", "IR-", "RT-4", "SYS-", "AR-", "IMG-", "TRIAL-")

# SAFE-6: the RCP decides procedures — surgery, interventional radiology, stereotactic RT — when one is
# proposed (a "not eligible" answer needs no RCP), and MSCC-5 whichever way it goes. `None` = every action.
RCP_ACTIONS: dict[str, frozenset[str] | None] = {
    "LB-1": None, "LB-3": None, "LB-4": None, "LB-5": None, "SP-3": None, "MSCC-5": None,
    "MSCC-1": frozenset({"surgery_then_adjuvant_radiotherapy"}),
    "SURG-2": None, "SURG-3": None, "SURG-4": None, "SURG-5": None, "SURG-6": None, "AR-7": None,
    "SP-2": frozenset({"cementoplasty"}), "IR-1": frozenset({"cementoplasty"}),
    "IR-2": frozenset({"percutaneous_ablation_preferred"}), "IR-3": frozenset({"thermal_ablation"}),
    "RT-4": frozenset({"sbrt_candidate"}),
}

# SAFE-1: every recommendation of surgery, withheld by SURG-1 under 6 weeks of life expectancy.
SURGICAL = frozenset({
    ("LB-1", "surgery_then_adjuvant_rt"), ("LB-4", "prophylactic_surgery"), ("LB-5", "percutaneous_fixation_option"),
    ("LB-5", "percutaneous_fixation_option_without_cementoplasty"), ("LB-5", "percutaneous_screw_fixation"),
    ("SP-3", "surgical_opinion"), ("MSCC-5", "surgery_favoured"), ("MSCC-5", "rcp_discussion"),
    ("MSCC-1", "surgery_then_adjuvant_radiotherapy"),
    ("SURG-3", "resection_reconstruction"), ("SURG-4", "palliative_surgery"), ("SURG-4", "excisional_surgery"),
    ("SURG-5", "en_bloc_resection"), ("SURG-5", "intralesional_resection"), ("SURG-5", "palliative_surgery"),
    ("SURG-6", "favourable_functional_prognosis"),
})
# SAFE-1, 6 weeks to 1 year: the less aggressive modality (SURG-2), never resection-reconstruction.
RESECTION = frozenset({("SURG-3", "resection_reconstruction"), ("SURG-4", "excisional_surgery"),
                       ("SURG-5", "en_bloc_resection")})
# Procedures that take the SURG-2 modality note (what remains of SURGICAL once resections are withheld).
MODALITY_NOTE = SURGICAL - RESECTION - {("SURG-6", "favourable_functional_prognosis"), ("MSCC-5", "rcp_discussion")}
# SAFE-2: the cementoplasty contraindications, wherever cementoplasty is proposed, in the order they are named.
CEMENTOPLASTY_CONTRAINDICATIONS = ("cord_compression", "cord_threat", "posterior_wall_retropulsion",
                                   "puncture_site_infection", "uncontrolled_sepsis")
# SAFE-8: the negative decisions, each an explicit recommendation with its reasons.
NEGATIVE_ACTIONS = frozenset({
    ("RT-4", "not_eligible_sbrt"), ("AR-1", "antiresorptive_not_indicated"), ("IR-3", "not_eligible_ablation"),
    ("SP-2", "cementoplasty_not_indicated"), ("SP-2", "cementoplasty_contraindicated"),
    ("IR-1", "cementoplasty_not_indicated"), ("IR-1", "cementoplasty_contraindicated"),
    ("AR-2", "zoledronic_acid_not_given"),
})


def base_urgency(rule_id: str) -> Urgency:
    return RULE_URGENCY[rule_id]


def band_urgency(score: str, band: str, rule_id: str) -> Urgency:
    return Urgency.URGENT if (score, band) in URGENT_BANDS else base_urgency(rule_id)


def rcp_required(rule_id: str, action: str) -> bool:
    if rule_id not in RCP_ACTIONS:
        return False
    actions = RCP_ACTIONS[rule_id]
    return actions is None or action in actions


def highest(levels: Any) -> Urgency:
    return min(levels, key=RANK.__getitem__, default=Urgency.ROUTINE)


@functools.cache  # rule ids are a closed set: every recommendation of every answer is sorted by this
def pathway_rank(rule_id: str) -> int:
    return next((rank for rank, prefix in enumerate(PATHWAY_ORDER) if rule_id.startswith(prefix)),
                len(PATHWAY_ORDER))


def order_key(rec: Any) -> tuple[int, int]:
    """Emergency, then urgent, then routine; within one urgency, the pathway's place in the guideline."""
    return RANK[rec.urgency], pathway_rank(rec.rule_id)
