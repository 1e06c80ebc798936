"""RFC 9457 problem documents, shared by the API's error responses and the bulk results' error lines."""

from __future__ import annotations

from typing import Any

from domain.model import FieldProblem
from domain.texts.messages import localise

TITLES = {
    400: "Invalid request", 401: "Authentication required", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 410: "Gone", 413: "Request body too large",
    415: "Unsupported media type",
    422: "Contradictory input", 429: "Too many requests", 500: "Internal error", 503: "Service unavailable",
}
TITLES_FR = {
    400: "Requête invalide", 401: "Authentification requise", 403: "Accès refusé", 404: "Introuvable",
    405: "Méthode non permise", 409: "Conflit", 410: "Expiré", 413: "Corps de requête trop volumineux",
    415: "Type de média non pris en charge",
    422: "Données contradictoires", 429: "Trop de requêtes", 500: "Erreur interne", 503: "Service indisponible",
}
SLUGS = {400: "invalid-input", 422: "contradictory-input", 503: "audit-unavailable"}


def problem_body(status: int, detail: str, *, errors: list[FieldProblem] | None = None,
                 instance: str | None = None, slug: str | None = None, title: str | None = None,
                 language: str = "en") -> dict[str, Any]:
    """The problem document; its `type` is the same in every language, its title, detail and field messages in
    `language` (fr/en; domain/texts/messages.py)."""
    slug = slug or SLUGS.get(status, TITLES.get(status, "error").lower().replace(" ", "-"))
    titles = TITLES_FR if language == "fr" else TITLES
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title or titles.get(status, "Error"),
                            "status": status, "detail": localise(detail, language)}
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = [{"field": e.field, "message": localise(e.message, language), "allowed": e.allowed}
                          for e in errors]
    return body
