"""Every text the engine returns, in English and French, keyed by rule id, band or warning code.

Codes and rule ids never change with the language; only these texts do.
"""

from domain.model import Language
from domain.texts.pathways import PATHWAY_TEXTS, PATHWAY_WARNINGS, REASONS

# Recommendation texts, keyed by (rule id, action): one rule may carry several actions (SURG-4, SURG-5).
RECOMMENDATIONS: dict[tuple[str, str], dict[Language, str]] = {
    ("LB-2", "radiotherapy"): {
        "en": "Low risk of pathological fracture: radiotherapy (8 Gy in 1 fraction or 30 Gy in 10 fractions).",
        "fr": "Risque fracturaire faible : radiothérapie (8 Gy en 1 fraction ou 30 Gy en 10 fractions).",
    },
    ("LB-3", "rcp_discussion"): {
        "en": "Borderline risk of pathological fracture: discuss in the multidisciplinary meeting (RCP).",
        "fr": "Risque fracturaire intermédiaire : discussion en réunion de concertation pluridisciplinaire (RCP).",
    },
    ("LB-4", "prophylactic_surgery"): {
        "en": "High risk of pathological fracture: prophylactic surgery (osteosynthesis or arthroplasty), "
        "then adjuvant radiotherapy 30 Gy in 10 fractions.",
        "fr": "Risque fracturaire élevé : chirurgie prophylactique (ostéosynthèse ou arthroplastie), "
        "puis radiothérapie adjuvante 30 Gy en 10 fractions.",
    },
    ("SP-3", "surgical_opinion"): {
        "en": "Potentially unstable or unstable spine (SINS ≥ 7): ask for a surgical opinion; "
        "if operated, adjuvant radiotherapy of the surgical bed.",
        "fr": "Rachis potentiellement instable ou instable (SINS ≥ 7) : solliciter un avis chirurgical ; "
        "si chirurgie, radiothérapie adjuvante du lit opératoire.",
    },
    ("SP-4", "radiotherapy"): {
        "en": "Stable spine (SINS < 7): radiotherapy.",
        "fr": "Rachis stable (SINS < 7) : radiothérapie.",
    },
    ("MSCC-2", "rt_8gy_1fr"): {
        "en": "Rades group 1 (low chance to remain ambulatory, no benefit of surgery): "
        "radiotherapy 8 Gy in 1 fraction.",
        "fr": "Groupe 1 de Rades (faible probabilité de rester ambulatoire, pas de bénéfice de la chirurgie) : "
        "radiothérapie 8 Gy en 1 fraction.",
    },
    ("MSCC-3", "rt_20gy_5fr_or_30gy_10fr_with_or_without_surgery"): {
        "en": "Rades group 2 (intermediate; no significant benefit of laminectomy): radiotherapy "
        "20 Gy in 5 fractions or 30 Gy in 10 fractions, with or without surgery.",
        "fr": "Groupe 2 de Rades (intermédiaire ; pas de bénéfice significatif de la laminectomie) : "
        "radiothérapie 20 Gy en 5 fractions ou 30 Gy en 10 fractions, avec ou sans chirurgie.",
    },
    ("MSCC-4", "rt_20gy_5fr_or_30gy_10fr"): {
        "en": "Rades group 3 (high chance to remain ambulatory, excellent result without surgery): "
        "radiotherapy 20 Gy in 5 fractions or 30 Gy in 10 fractions.",
        "fr": "Groupe 3 de Rades (forte probabilité de rester ambulatoire, excellent résultat sans chirurgie) : "
        "radiothérapie 20 Gy en 5 fractions ou 30 Gy en 10 fractions.",
    },
    ("SURG-4", "conservative_treatment"): {
        "en": "Revised Tokuhashi 0–8 (expected survival under 6 months): conservative treatment; "
        "discuss in RCP.",
        "fr": "Tokuhashi révisé 0–8 (espérance de vie inférieure à 6 mois) : traitement conservateur ; "
        "discussion en RCP.",
    },
    ("SURG-4", "palliative_surgery"): {
        "en": "Revised Tokuhashi 9–11 (expected survival over 6 months): palliative surgery; discuss in RCP.",
        "fr": "Tokuhashi révisé 9–11 (espérance de vie supérieure à 6 mois) : chirurgie palliative ; "
        "discussion en RCP.",
    },
    ("SURG-4", "excisional_surgery"): {
        "en": "Revised Tokuhashi 12–15 (expected survival over 1 year): excisional surgery; discuss in RCP.",
        "fr": "Tokuhashi révisé 12–15 (espérance de vie supérieure à 1 an) : chirurgie d'exérèse ; "
        "discussion en RCP.",
    },
    ("SURG-5", "en_bloc_resection"): {
        "en": "Tomita 2–3: en bloc resection; discuss in RCP.",
        "fr": "Tomita 2–3 : résection en bloc ; discussion en RCP.",
    },
    ("SURG-5", "intralesional_resection"): {
        "en": "Tomita 4–5: intralesional resection; discuss in RCP.",
        "fr": "Tomita 4–5 : résection intra-lésionnelle ; discussion en RCP.",
    },
    ("SURG-5", "palliative_surgery"): {
        "en": "Tomita 6–7: palliative surgery; discuss in RCP.",
        "fr": "Tomita 6–7 : chirurgie palliative ; discussion en RCP.",
    },
    ("SURG-5", "supportive_care"): {
        "en": "Tomita 8–10: supportive care; discuss in RCP.",
        "fr": "Tomita 8–10 : soins de support ; discussion en RCP.",
    },
}

# What each band means, keyed by (score, band code).
BAND_MEANINGS: dict[tuple[str, str], dict[Language, str]] = {
    ("mirels", "low"): {"en": "Low risk of pathological fracture", "fr": "Risque fracturaire faible"},
    ("mirels", "borderline"): {"en": "Borderline risk of pathological fracture",
                               "fr": "Risque fracturaire limite"},
    ("mirels", "high"): {"en": "High risk of pathological fracture (impending fracture)",
                         "fr": "Risque fracturaire élevé (fracture imminente)"},
    ("sins", "stable"): {"en": "Stable", "fr": "Stable"},
    ("sins", "potentially_unstable"): {"en": "Potentially unstable", "fr": "Potentiellement instable"},
    ("sins", "unstable"): {"en": "Unstable", "fr": "Instable"},
    ("rades", "group_1"): {"en": "Low chance to remain ambulatory after radiotherapy",
                           "fr": "Faible probabilité de maintien ambulatoire après radiothérapie"},
    ("rades", "group_2"): {"en": "Intermediate chance to remain ambulatory after radiotherapy",
                           "fr": "Probabilité intermédiaire de maintien ambulatoire après radiothérapie"},
    ("rades", "group_3"): {"en": "High chance to remain ambulatory after radiotherapy",
                           "fr": "Forte probabilité de maintien ambulatoire après radiothérapie"},
    ("tokuhashi", "under_6_months"): {"en": "Expected survival under 6 months",
                                      "fr": "Espérance de vie inférieure à 6 mois"},
    ("tokuhashi", "over_6_months"): {"en": "Expected survival over 6 months",
                                     "fr": "Espérance de vie supérieure à 6 mois"},
    ("tokuhashi", "over_12_months"): {"en": "Expected survival over 1 year",
                                      "fr": "Espérance de vie supérieure à 1 an"},
    ("tomita", "en_bloc_resection"): {"en": "Long-term local control: en bloc resection",
                                      "fr": "Contrôle local à long terme : résection en bloc"},
    ("tomita", "intralesional_resection"): {"en": "Middle-term local control: intralesional resection",
                                            "fr": "Contrôle local à moyen terme : résection intra-lésionnelle"},
    ("tomita", "palliative_surgery"): {"en": "Short-term palliation: palliative surgery",
                                       "fr": "Palliation à court terme : chirurgie palliative"},
    ("tomita", "supportive_care"): {"en": "Supportive care", "fr": "Soins de support"},  # SAFE-14: not "terminal"
}

# Warning messages, keyed by warning code.
WARNINGS: dict[str, dict[Language, str]] = {
    "boundary_collapse_50_percent": {
        "en": "Vertebral collapse of exactly 50 %: Fisher's table leaves it unassigned; scored as ≥ 50 % "
        "(3 points), the safety-conservative reading.",
        "fr": "Tassement vertébral d'exactement 50 % : la table de Fisher ne l'attribue pas ; compté ≥ 50 % "
        "(3 points), lecture la plus prudente.",
    },
    "boundary_rades_interval_15_months": {
        "en": "Interval of exactly 15 months between tumour diagnosis and cord compression: the guideline "
        "prints '< 15 / > 15'; scored as ≤ 15 months (6 points), as in Rades' score.",
        "fr": "Intervalle d'exactement 15 mois entre le diagnostic et la compression médullaire : le "
        "référentiel indique « < 15 / > 15 » ; compté ≤ 15 mois (6 points), comme dans le score de Rades.",
    },
}


def pathway_text(rule_id: str, action: str, lang: Language) -> str:
    """A pathway's text; rules that a score's band fires (LB-2, SP-3, MSCC-2...) share the score's text."""
    return (PATHWAY_TEXTS.get((rule_id, action)) or RECOMMENDATIONS[(rule_id, action)])[lang]


def recommendation_text(rule_id: str, action: str, lang: Language) -> str:
    return RECOMMENDATIONS[(rule_id, action)][lang]


def band_meaning(score: str, band: str, lang: Language) -> str:
    return BAND_MEANINGS[(score, band)][lang]


WARNINGS.update(PATHWAY_WARNINGS)


def warning_text(code: str, lang: Language) -> str:
    return WARNINGS[code][lang]


def reason_text(code: str, lang: Language) -> str:
    return REASONS[code][lang]
