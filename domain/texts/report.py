"""The words of the PDF reports, in English and French."""

from domain.model import Language

LABELS: dict[str, dict[Language, str]] = {
    "patient_title": {"en": "Bone metastases — decision-support report",
                      "fr": "Métastases osseuses — rapport d'aide à la décision"},
    "registry_title": {"en": "Bulk evaluation — registry summary", "fr": "Évaluation en lot — synthèse registre"},
    "patient": {"en": "Patient code", "fr": "Code patient"},
    "patient_note": {"en": "A pseudonym: only the calling system links it to the patient's chart.",
                     "fr": "Pseudonyme : seul le système appelant fait le lien avec le dossier du patient."},
    "summary": {"en": "Case data the advice was computed from", "fr": "Données du cas ayant servi au calcul"},
    "lesions": {"en": "Lesions", "fr": "Lésions"},
    "references": {"en": "References", "fr": "Références"},
    "rules_changed": {
        "en": "The rules have changed since this answer was given: its texts are printed as they were recorded, in "
              "the language of the original request.",
        "fr": "Les règles ont changé depuis cette réponse : ses textes sont reproduits tels qu'enregistrés, dans la "
              "langue de la demande d'origine."},
    "not_recomputed": {
        "en": "The texts are printed as they were recorded with the answer, in the language of the original "
              "request.",
        "fr": "Les textes sont reproduits tels qu'enregistrés avec la réponse, dans la langue de la demande "
              "d'origine."},
    "not_given": {"en": "not given", "fr": "non renseigné"},
    "evaluation_date": {"en": "Evaluation date", "fr": "Date d'évaluation"},
    "evaluated_at": {"en": "Computed on", "fr": "Calculé le"},
    "request": {"en": "Request", "fr": "Requête"},
    "scores": {"en": "Scores", "fr": "Scores"},
    "item": {"en": "Item", "fr": "Item"},
    "value": {"en": "Value", "fr": "Valeur"},
    "points": {"en": "Points", "fr": "Points"},
    "total": {"en": "Total", "fr": "Total"},
    "band": {"en": "Band", "fr": "Stade"},
    "lesion": {"en": "Lesion", "fr": "Lésion"},
    "recommendations": {"en": "Recommendations", "fr": "Recommandations"},
    "rcp": {"en": "Discuss in RCP", "fr": "Discussion en RCP"},
    "emergency": {"en": "Emergency", "fr": "Urgence"},
    "urgent": {"en": "Urgent", "fr": "Urgent"},
    "routine": {"en": "Routine", "fr": "Programmé"},
    "withheld": {"en": "Withheld by a safety rule (considered, not recommended)",
                 "fr": "Écartées par une règle de sécurité (envisagées, non recommandées)"},
    "withheld_by": {"en": "withheld by", "fr": "écartée par"},
    "warnings": {"en": "Warnings", "fr": "Avertissements"},
    "not_evaluable": {"en": "Not evaluable (missing inputs)", "fr": "Non évaluable (données manquantes)"},
    "traceability": {"en": "Traceability", "fr": "Traçabilité"},
    "audit_id": {"en": "Audit record", "fr": "Enregistrement d'audit"},
    "audit_hash": {"en": "Record hash (SHA-256)", "fr": "Empreinte de l'enregistrement (SHA-256)"},
    "guideline": {"en": "Guideline", "fr": "Référentiel"},
    "engine": {"en": "Engine / rules", "fr": "Moteur / règles"},
    "job": {"en": "Job", "fr": "Lot"},
    "lines": {"en": "Lines", "fr": "Lignes"},
    "done": {"en": "Evaluated", "fr": "Évaluées"},
    "failed": {"en": "In error", "fr": "En erreur"},
    "time_span": {"en": "Time span", "fr": "Période"},
    "band_distribution": {"en": "Bands by score", "fr": "Répartition des stades par score"},
    "action_distribution": {"en": "Recommended actions", "fr": "Actions recommandées"},
    "errors": {"en": "Lines in error", "fr": "Lignes en erreur"},
    "more_errors": {"en": "more lines in error (see the NDJSON results)",
                    "fr": "autres lignes en erreur (voir les résultats NDJSON)"},
    "page": {"en": "Page", "fr": "Page"},
    "colon": {"en": ": ", "fr": " : "},  # French typography puts a space before a colon
    "causes": {"en": "Most frequent causes of error", "fr": "Causes d'erreur les plus fréquentes"},
    "field": {"en": "Field", "fr": "Champ"},
    "message": {"en": "Message", "fr": "Message"},
    "count": {"en": "Lines", "fr": "Lignes"},
    "first_lines": {"en": "First lines", "fr": "Premières lignes"},
    "more_causes": {"en": "other causes", "fr": "autres causes"},
    "first_errors": {"en": "First lines in error", "fr": "Premières lignes en erreur"},
    "line": {"en": "Line", "fr": "Ligne"},
    "of_lines": {"en": "of the lines", "fr": "des lignes"},
    "scored": {"en": "lines scored", "fr": "lignes calculées"},
    "actions_of": {"en": "share of the lines evaluated", "fr": "part des lignes évaluées"},
    "messages_as_recorded": {"en": "Error messages are printed as recorded, in the language the job was submitted "
                                   "in.",
                             "fr": "Les messages d'erreur sont reproduits tels qu'enregistrés, dans la langue de "
                                   "soumission du lot."},
    "disclaimer": {
        "en": "Advisory only. This report restates the regional guideline (OncoBFC / NEON / ONCORIF, 2024) for the "
              "data entered; it does not replace clinical judgement. The multidisciplinary meeting (RCP) decides.",
        "fr": "À titre indicatif. Ce rapport applique le référentiel régional (OncoBFC / NEON / ONCORIF, 2024) aux "
              "données saisies ; il ne remplace pas le jugement clinique. La réunion de concertation "
              "pluridisciplinaire (RCP) décide."},
}


def labels(lang: Language) -> dict[str, str]:
    return {key: text[lang] for key, text in LABELS.items()}


def _v(fr: str, en: str, unit: tuple[str, str] | None = None) -> dict:
    return {"fr": fr, "en": en} if unit is None else {"fr": fr, "en": en, "unit": {"fr": unit[0], "en": unit[1]}}


_MG_DL = ("mg/dL", "mg/dL")
_WEEKS = ("semaines", "weeks")
_DAYS = ("jours", "days")

# The computed values a recommendation carries (its `values`), as the patient report prints them beside it. A
# test holds every key any rule produces labelled here.
VALUE_LABELS: dict[str, dict] = {
    "creatinine_clearance_ml_min": _v("Clairance de la créatinine (Cockcroft–Gault)",
                                      "Creatinine clearance (Cockcroft–Gault)", ("mL/min", "mL/min")),
    "dose_mg": _v("Dose", "Dose", ("mg", "mg")),
    "baseline_mg_dl": _v("Créatininémie de base", "Baseline creatinine", _MG_DL),
    "current_mg_dl": _v("Créatininémie actuelle", "Current creatinine", _MG_DL),
    "rise_limit_mg_dl": _v("Hausse qui fait suspendre", "Rise that withholds", _MG_DL),
    "resume_at_or_below": _v("Reprise à partir de", "Resume at or below"),
    "may_space_zoledronic_acid_to_12_weeks": _v("Espacement possible à 12 semaines",
                                                "May be spaced to every 12 weeks"),
    "mirels_total": _v("Score de Mirels", "Mirels score"),
    "mirels_band": _v("Risque de fracture (Mirels)", "Fracture risk (Mirels)"),
    "sins_total": _v("Score SINS", "SINS score"),
    "rades_total": _v("Score de Rades", "Rades score"),
    "rades_group": _v("Groupe de Rades", "Rades group"),
    "tokuhashi_total": _v("Score de Tokuhashi révisé", "Revised Tokuhashi score"),
    "tokuhashi_band": _v("Pronostic (Tokuhashi)", "Prognosis (Tokuhashi)"),
    "tomita_total": _v("Score de Tomita", "Tomita score"),
    "tomita_band": _v("Stratégie (Tomita)", "Strategy (Tomita)"),
    "life_expectancy_weeks": _v("Espérance de vie", "Life expectancy", _WEEKS),
    "life_expectancy_days": _v("Espérance de vie", "Life expectancy", _DAYS),
    "life_expectancy_months": _v("Espérance de vie", "Life expectancy", ("mois", "months")),
    "days_after_gcsf": _v("Jours depuis le G-CSF", "Days since G-CSF", _DAYS),
    "earliest_pet_date": _v("TEP possible à partir du", "PET possible from"),
    "months_since_treatment_start": _v("Mois depuis le début du traitement", "Months since treatment start",
                                       ("mois", "months")),
    "day_after_surgery": _v("Jour après la chirurgie", "Day after surgery"),
    "window_start": _v("Début de la fenêtre", "Window opens"),
    "window_end": _v("Fin de la fenêtre", "Window closes"),
    "earliest_start": _v("Début au plus tôt", "Earliest start"),
    "schedules": _v("Schémas", "Schedules"),
    "30_gy_10_fr": _v("30 Gy en 10 fractions", "30 Gy in 10 fractions"),
    "24_gy_6_fr": _v("24 Gy en 6 fractions", "24 Gy in 6 fractions"),
    "20_gy_5_fr": _v("20 Gy en 5 fractions", "20 Gy in 5 fractions"),
    "8_gy_1_fr": _v("8 Gy en 1 fraction", "8 Gy in 1 fraction"),
    "contraindications": _v("Contre-indications", "Contraindications"),
    "indications": _v("Indications", "Indications"),
    "factors": _v("Facteurs", "Factors"),
    "trial": _v("Essai", "Trial"),
    "sponsor": _v("Promoteur", "Sponsor"),
    "opens": _v("Ouverture", "Opens"),
    "closes": _v("Clôture", "Closes"),
    "tokuhashi_at_least_6": _v("Tokuhashi ≥ 6", "Tokuhashi ≥ 6"),
    "tomita_at_most_8": _v("Tomita ≤ 8", "Tomita ≤ 8"),
    "age_under_70": _v("Âge < 70 ans", "Age under 70"),
    "early_discovery": _v("Découverte précoce", "Early discovery"),
    "few_comorbidities": _v("Peu de comorbidités (ASA ≤ 2)", "Few comorbidities (ASA ≤ 2)"),
}
