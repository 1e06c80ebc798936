"""The words of the PDF reports, in English and French."""

from domain.model import Language

LABELS: dict[str, dict[Language, str]] = {
    "patient_title": {"en": "Bone metastases — decision-support report",
                      "fr": "Métastases osseuses — rapport d'aide à la décision"},
    "registry_title": {"en": "Bulk evaluation — registry summary", "fr": "Évaluation en lot — synthèse registre"},
    "patient": {"en": "Patient (pseudonymised)", "fr": "Patient (pseudonymisé)"},
    "not_given": {"en": "not given", "fr": "non renseigné"},
    "evaluation_date": {"en": "Evaluation date", "fr": "Date d'évaluation"},
    "evaluated_at": {"en": "Computed at (UTC)", "fr": "Calculé le (UTC)"},
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
    "disclaimer": {
        "en": "Advisory only. This report restates the regional guideline (OncoBFC / NEON / ONCORIF, 2024) for the "
              "data entered; it does not replace clinical judgement. The multidisciplinary meeting (RCP) decides.",
        "fr": "À titre indicatif. Ce rapport applique le référentiel régional (OncoBFC / NEON / ONCORIF, 2024) aux "
              "données saisies ; il ne remplace pas le jugement clinique. La réunion de concertation "
              "pluridisciplinaire (RCP) décide."},
}


def labels(lang: Language) -> dict[str, str]:
    return {key: text[lang] for key, text in LABELS.items()}
