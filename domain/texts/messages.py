"""French for the messages of problem documents: the details the service writes and every field message the
validator, the decoder (msgspec) and the domain's consistency checks write (issue 12).

The messages are made in English where they arise (the domain, msgspec, Litestar); a problem document in French
translates them here, by pattern, so a message with values in it (a field, a bound, a date) keeps its values.
`translate` answers None for a message it has no pattern for: `localise` then keeps the English, and the tests
hold every message the service can send to a pattern (tests/unit/test_messages.py,
tests/integration/test_languages.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

from domain.model import Language

# msgspec's names of JSON types, in French
TYPES = {"int": "un entier", "float": "un nombre", "str": "un texte", "bool": "un booléen", "date": "une date",
         "datetime": "une date et heure", "null": "null", "array": "un tableau", "object": "un objet",
         "number": "un nombre", "string": "un texte"}

# Phrases the consistency checks put inside their messages (domain/consistency.py)
PHRASES = {
    "visceral metastases present": "métastases viscérales présentes",
    "no visceral metastasis": "pas de métastase viscérale",
    "a neurological deficit": "un déficit neurologique",
    "E, no deficit": "E, sans déficit",
    "surgery.tokuhashi extraspinal and vertebral counts": "les comptes extrarachidien et vertébral de "
                                                         "surgery.tokuhashi",
}


# msgspec's reasons for malformed JSON
JSON_REASONS = {
    "object keys must be strings": "les clés d'un objet doivent être des textes",
    "trailing characters": "caractères après la fin",
    "invalid escape character in string": "caractère d'échappement invalide dans un texte",
    "trailing comma in object": "virgule finale dans un objet",
    "trailing comma in array": "virgule finale dans un tableau",
    "invalid number": "nombre invalide",
    "invalid character": "caractère invalide",
    "invalid utf-8 sequence": "séquence UTF-8 invalide",
    "control character (\\u0000-\\u001F) must be escaped": "un caractère de contrôle doit être échappé",
}


def _json_reason(text: str) -> str:
    for english, french in (("expected ", "attendu : "),):
        if text.startswith(english):
            return french + text[len(english):].replace(" or ", " ou ")
    return JSON_REASONS.get(text, text)


def _types(text: str) -> str:
    """`int | null` -> `un entier ou null`."""
    return " ou ".join(TYPES.get(part.strip(), part.strip()) for part in text.split("|"))


def _ops(text: str) -> str:
    return text.replace(" and ", " et ").replace("an integer", "un entier").replace("a number", "un nombre") \
        .replace(", a multiple of ", ", multiple de ")


def _phrase(text: str) -> str:
    text = PHRASES.get(text, text)
    for english, french in ((" bone lesions", " lésions osseuses"),
                            (" extraspinal (long-bone or pelvic) lesions",
                             " lésions extrarachidiennes (os long ou bassin)")):
        text = text.replace(english, french)
    return text


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _rule(pattern: str, render: str | Callable[[re.Match[str]], str]) -> Rule:
    return (re.compile(pattern + r"\Z", re.DOTALL),
            render if callable(render) else lambda m, template=render: template.format(*m.groups()))


RULES: list[Rule] = [
    # the service's own details
    _rule(r"The request does not match the input schema\.", "La requête ne respecte pas le schéma d'entrée."),
    _rule(r"The values are each valid but contradict each other\.",
          "Chaque valeur est valide, mais elles se contredisent."),
    _rule(r"The audit trail cannot be written; no recommendation is given\. Retry later\.",
          "La piste d'audit ne peut pas être écrite ; aucune recommandation n'est donnée. Réessayez plus tard."),
    _rule(r"The task queue cannot be reached; nothing was queued and nothing was kept\. Retry later\.",
          "La file de tâches est injoignable ; rien n'a été mis en file ni conservé. Réessayez plus tard."),
    _rule(r"The database cannot be reached; nothing was kept\. Retry later\.",
          "La base de données est injoignable ; rien n'a été conservé. Réessayez plus tard."),
    _rule(r"The metrics need the token of BONEMETS_METRICS_TOKEN: Authorization: Bearer <token>\.",
          "Les métriques demandent le jeton de BONEMETS_METRICS_TOKEN : Authorization: Bearer <jeton>."),
    _rule(r"The metrics are served to a scraper on this host only; set BONEMETS_METRICS_TOKEN to "
          r"let one elsewhere read them with that token\.",
          "Les métriques ne sont servies qu'à un collecteur de cet hôte ; définissez BONEMETS_METRICS_TOKEN pour "
          "les servir à un autre muni de ce jeton."),
    _rule(r"An unexpected error occurred; it has been logged\.",
          "Une erreur inattendue s'est produite ; elle est journalisée."),
    _rule(r"The request body cannot be read\.", "Le corps de la requête est illisible."),
    _rule(r"The request's parameters are not valid\.", "Les paramètres de la requête ne sont pas valides."),
    _rule(r"This line cannot be evaluated\.", "Cette ligne ne peut pas être évaluée."),
    _rule(r"This line could not be evaluated because of an internal error; it has been logged\.",
          "Cette ligne n'a pas pu être évaluée à cause d'une erreur interne ; elle est journalisée."),
    _rule(r"This line is (\d+) bytes, over the per-line limit of (\d+) bytes \(BONEMETS_BULK_MAX_LINE_BYTES\); "
          r"nothing of it was kept\.", "Cette ligne fait {0} octets, au-delà de la limite par ligne de {1} octets "
          "(BONEMETS_BULK_MAX_LINE_BYTES) ; rien n'en a été conservé."),
    _rule(r"An API key is required: Authorization: Bearer <key>\.",
          "Une clé d'API est requise : Authorization: Bearer <clé>."),
    _rule(r"The API key is unknown, revoked or expired\.", "La clé d'API est inconnue, révoquée ou expirée."),
    _rule(r"The CDS client's token is not accepted\.", "Le jeton du client CDS n'est pas accepté."),
    _rule(r"No CDS service (\S+)\.", "Aucun service CDS {0}."),
    _rule(r"No card (\S+) served by (\S+) to this client\.", "Aucune carte {0} servie par {1} à ce client."),
    _rule(r"this service answers (\S+)", "ce service répond à {0}"),
    _rule(r"already used for another service", "déjà utilisé pour un autre service"),
    _rule(r"already used for another call", "déjà utilisé pour un autre appel"),
    _rule(r"A call with this hookInstance is still being answered; retry in a moment\.",
          "Un appel avec ce hookInstance est encore en cours de réponse ; réessayez dans un instant."),
    _rule(r"the patient is context\.patientId; no patient reference here",
          "le patient est context.patientId ; aucune référence de patient ici"),
    _rule(r"fhirServer is required when fhirAuthorization is given",
          "fhirServer est obligatoire quand fhirAuthorization est donné"),
    _rule(r"acceptedSuggestions is required when the outcome is accepted",
          "acceptedSuggestions est obligatoire quand le résultat est accepted"),
    _rule(r"overrideReason is for an overridden card, not an accepted one",
          "overrideReason concerne une carte écartée (overridden), pas une carte acceptée"),
    _rule(r"acceptedSuggestions is for an accepted card, not an overridden one",
          "acceptedSuggestions concerne une carte acceptée, pas une carte écartée (overridden)"),
    _rule(r"not a suggestion of this card", "pas une suggestion de cette carte"),
    _rule(r"outcomeTimestamp must be an ISO 8601 date and time, e\.g\. (\S+)",
          "outcomeTimestamp doit être une date et heure ISO 8601, par exemple {0}"),
    _rule(r"must be an object shaped as the POST /v1/evaluations body",
          "doit être un objet de la forme du corps de POST /v1/evaluations"),
    _rule(r"This endpoint declares no role; it is closed\.", "Ce point d'accès ne déclare aucun rôle ; il est fermé."),
    _rule(r"This endpoint needs the (.+) role; the key has (.*)\.",
          lambda m: f"Ce point d'accès exige le rôle {m[1].replace(' or ', ' ou ')} ; la clé a : {m[2]}."),
    _rule(r"No audited answer (\S+) for this client\.", "Aucune réponse auditée {0} pour ce client."),
    _rule(r"No bulk job (\S+)\.", "Aucun traitement de masse {0}."),
    _rule(r"No report (\S+)\.", "Aucun rapport {0}."),
    _rule(r"Report (\S+) could not be rendered \((.*)\); ask for a new one\.",
          "Le rapport {0} n'a pas pu être produit ({1}) ; demandez-en un nouveau."),
    _rule(r"Report (\S+) could not be rendered \((.*)\)\.", "Le rapport {0} n'a pas pu être produit ({1})."),
    _rule(r"This report link has expired; open the patient's chart again for a new one\.",
          "Ce lien de rapport a expiré ; rouvrez le dossier du patient pour en obtenir un nouveau."),
    _rule(r"No such report link\.", "Aucun lien de rapport de ce type."),
    _rule(r"The answer this link was made for is not in the audit trail\.",
          "La réponse pour laquelle ce lien a été fait n'est pas dans la piste d'audit."),
    _rule(r"Job (\S+) is (\w+); its summary can be made once it has finished\.",
          "Le traitement {0} est à l'état {1} ; sa synthèse pourra être produite quand il sera terminé."),
    _rule(r"Job (\S+) is (\w+): its results are complete once it has finished \(poll its status\), or ask for the "
          r"lines finished so far with partial=true\.",
          "Le traitement {0} est à l'état {1} : ses résultats seront complets quand il sera terminé (interrogez "
          "son état), ou demandez les lignes déjà traitées avec partial=true."),
    _rule(r"Poll this job at most every (\S+) s \(Retry-After says when to come back\); it is (\w+), ([\d.]+)% "
          r"done\.", "Interrogez ce traitement au plus toutes les {0} s (Retry-After dit quand revenir) ; il est à "
          "l'état {1}, {2} % fait."),
    _rule(r"Send (\S+) or application/json \(an array\), not (.*)\.",
          lambda m: f"Envoyez {m[1]} ou application/json (un tableau), pas "
                    f"{'rien' if m[2] == 'nothing' else m[2]}."),
    _rule(r"Idempotency-Key must be 1 to 128 characters\.", "Idempotency-Key doit compter de 1 à 128 caractères."),
    _rule(r"Idempotency-Key already used for job (\S+), with another body: send the same body to get that job "
          r"back, or a new key for a new job\.",
          "Idempotency-Key déjà utilisée pour le traitement {0}, avec un autre corps : renvoyez le même corps pour "
          "retrouver ce traitement, ou une nouvelle clé pour un nouveau traitement."),
    _rule(r"a JSON body must be an array of lines", "un corps JSON doit être un tableau de lignes"),
    _rule(r"text after the end of the JSON array", "du texte suit la fin du tableau JSON"),
    _rule(r"an empty element in the JSON array", "un élément vide dans le tableau JSON"),
    _rule(r"the JSON array is not terminated", "le tableau JSON n'est pas terminé"),
    _rule(r"the body exceeds (\d+) bytes", "le corps dépasse {0} octets"),
    _rule(r"cursor is not one this service issued", "ce curseur n'a pas été émis par ce service"),
    _rule(r"cursor must be text of at most 2048 characters, without NUL",
          "le curseur doit être un texte d'au plus 2048 caractères, sans NUL"),
    _rule(r"this cursor belongs to another query: send it alone \(it carries its filters and limit\), or the same "
          r"filters and limit",
          "ce curseur appartient à une autre requête : envoyez-le seul (il porte ses filtres et sa limite), ou avec "
          "les mêmes filtres et la même limite"),
    _rule(r"an export streams every match: send its filters, not a cursor \(cursors page format=json and "
          r"format=fhir\)",
          "un export diffuse toutes les correspondances : envoyez ses filtres, pas un curseur (les curseurs "
          "paginent format=json et format=fhir)"),
    _rule(r"send the export's query token or its filters, not both",
          "envoyez le jeton de requête de l'export ou ses filtres, pas les deux"),
    _rule(r"through_seq (\d+) is past the chain head \((\d+)\)", "through_seq {0} dépasse la tête de la chaîne ({1})"),
    _rule(r"(\w+) must be an ISO 8601 date or date-time from year 1 to 9999",
          "{0} doit être une date ou une date et heure ISO 8601, de l'an 1 à 9999"),
    _rule(r"(\w+) must be text of at most 256 characters, without NUL",
          "{0} doit être un texte d'au plus 256 caractères, sans NUL"),
    _rule(r"Not Found", "Introuvable"),
    _rule(r"Request Entity Too Large", "Corps de requête trop volumineux"),
    _rule(r"Method Not Allowed", "Méthode non permise"),
    # the validator's and the decoder's field messages
    _rule(r"required", "obligatoire"),
    _rule(r"required \((.+)\)", lambda m: f"obligatoire ({_ops(m[1])})"),
    _rule(r"unknown field", "champ inconnu"),
    _rule(r"expected a JSON object", "un objet JSON est attendu"),
    _rule(r"malformed JSON", "JSON mal formé"),
    _rule(r"malformed JSON: JSON is malformed: (.+) \(byte (\d+)\)",
          lambda m: f"JSON mal formé : {_json_reason(m[1])} (octet {m[2]})"),
    _rule(r"malformed JSON: (.*)", lambda m: f"JSON mal formé : {translate(m[1]) or m[1]}"),
    _rule(r"JSON is malformed: (.+) \(byte (\d+)\)", lambda m: f"JSON mal formé : {_json_reason(m[1])} (octet {m[2]})"),
    _rule(r"Input data was truncated", "données tronquées"),
    _rule(r"Number out of range", "nombre hors limites"),
    _rule(r"unreadable line", "ligne illisible"),
    _rule(r"must be a string or an integer", "doit être un texte ou un entier"),
    _rule(r"unknown or missing kind", "type (kind) inconnu ou absent"),
    _rule(r"a string of 1 to 256 characters", "un texte de 1 à 256 caractères"),
    _rule(r"the body is not valid JSON", "le corps n'est pas du JSON valide"),
    _rule(r"the body is empty: a JSON object is expected", "le corps est vide : un objet JSON est attendu"),
    _rule(r"the body is nested too deeply", "le corps est trop profondément imbriqué"),
    _rule(r"the body is not valid UTF-8 text", "le corps n'est pas un texte UTF-8 valide"),
    _rule(r"a patient reference is accepted only at the top level of a request",
          "une référence patient n'est acceptée qu'au premier niveau d'une requête"),
    _rule(r"(.+?)( \(allowed: (.+)\))",
          lambda m: f"{translate(m[1]) or m[1]} (valeurs permises : {_ops(m[3])})"),
    _rule(r"Expected `([^`]+)`, got `([^`]+)`", lambda m: f"attendu : {_types(m[1])} ; reçu : {_types(m[2])}"),
    _rule(r"Expected `str` of length (>=|<=) (\d+)", "attendu : un texte de longueur {0} {1}"),
    _rule(r"Expected `array` of length (>=|<=) (\d+)", "attendu : un tableau de longueur {0} {1}"),
    _rule(r"Expected `object` of length (>=|<=) (\d+)", "attendu : un objet de longueur {0} {1}"),
    _rule(r"Expected `([^`]+)` (>=|<=|>|<) (\S+)", lambda m: f"attendu : {_types(m[1])} {m[2]} {m[3]}"),
    _rule(r"Expected `([^`]+)` that's a multiple of (\S+)",
          lambda m: f"attendu : {_types(m[1])} multiple de {m[2]}"),
    _rule(r"Expected `([^`]+)`", lambda m: f"attendu : {_types(m[1])}"),
    _rule(r"Invalid enum value (.+)", "valeur non reconnue {0}"),
    _rule(r"Invalid RFC3339 encoded date", "date invalide (attendu : AAAA-MM-JJ)"),
    _rule(r"Invalid RFC3339 encoded datetime", "date et heure invalides (attendu : RFC 3339)"),
    _rule(r"Object missing required field `([^`]+)`", "objet sans le champ obligatoire `{0}`"),
    _rule(r"Object contains unknown field `([^`]+)`", "objet avec un champ inconnu `{0}`"),
    _rule(r"(\w+) must be a date from (\S+) to (\S+)", "{0} doit être une date du {1} au {2}"),
    # why an EHR observation was not used (infra/fhir_case.py)
    _rule(r"older than (\d+) days", "antérieure de plus de {0} jours"),
    _rule(r"dated after the evaluation", "datée après l'évaluation"),
    _rule(r"no effective date", "sans date"),
    _rule(r"status (.+) \(final, amended or corrected needed\)", "statut {0} (final, amended ou corrected attendu)"),
    _rule(r"no value on the scale", "pas de valeur sur l'échelle"),
    _rule(r"no numeric value", "pas de valeur numérique"),
    _rule(r"birthDate is not a date", "birthDate n'est pas une date"),
    _rule(r"birthDate is after the evaluation", "birthDate est postérieure à l'évaluation"),
    _rule(r"no date \(authoredOn\)", "sans date (authoredOn)"),
    _rule(r"unit (.+) is not one of (.+)", "unité {0} non prise en charge (acceptées : {1})"),
    _rule(r"(\S+) kg is outside the plausible range \(20-300 kg\)",
          "{0} kg hors de l'intervalle plausible (20-300 kg)"),
    _rule(r"age (\d+) outside 18-120", "âge {0} hors de 18-120"),
    # the domain's checks
    _rule(r"creatinine out of range: must be (\S+) mg/dL \((\S+) umol/L\); check the unit",
          lambda m: f"créatinine hors limites : elle doit être de {m[1].replace('.', ',')} mg/dL "
                    f"({m[2].replace('.', ',')} µmol/L) ; vérifiez l'unité"),
    _rule(r"give location or level", "donnez location ou level"),
    _rule(r"give exactly one of the two", "donnez exactement l'un des deux"),
    _rule(r"give exactly one of the two, not both", "donnez exactement l'un des deux, pas les deux"),
    _rule(r"give exactly one of the two; neither was given", "donnez exactement l'un des deux ; aucun n'a été donné"),
    _rule(r"give the Frankel grade or the findings it stands for",
          "donnez le grade de Frankel ou les constatations qu'il résume"),
    _rule(r"required when collapse_percent is 0", "obligatoire quand collapse_percent vaut 0"),
    _rule(r"level (\S+) is (\S+), not (\S+)", "le niveau {0} est {1}, pas {2}"),
    _rule(r"false, yet (\S+) is true: a compressed cord is a threatened one",
          "false, alors que {0} est true : une moelle comprimée est une moelle menacée"),
    _rule(r"lesion id (.+) is used twice; each lesion needs its own",
          "l'identifiant de lésion {0} est utilisé deux fois ; chaque lésion a le sien"),
    _rule(r"a (\w+) block on a lesion of kind (\w+)", "un bloc {0} sur une lésion de type {1}"),
    _rule(r"Mirels scores long bones only; location (\w+) is a flat bone \(cementoplasty and interventional "
          r"radiology\)",
          "le score de Mirels ne s'applique qu'aux os longs ; la localisation {0} est un os plat (cimentoplastie "
          "et radiologie interventionnelle)"),
    _rule(r"(\S+) is after (\S+) \((\S+)\): an event of the case cannot follow its evaluation",
          "{0} est postérieur à {1} ({2}) : un événement du cas ne peut pas suivre son évaluation"),
    _rule(r"(.+) disagrees with (\S+) \(motor (\w+), sensory (\w+) -> (\w+)\)",
          "{0} contredit {1} (motricité {2}, sensibilité {3} -> {4})"),
    _rule(r"(.+) disagrees with (\S+) \((.*)\)", "{0} contredit {1} ({2})"),
    _rule(r"(.+) disagrees with location (\w+)", "{0} contredit la localisation {1}"),
    _rule(r"(.+) contradicts (.+) \((.*)\)",
          lambda m: f"{_phrase(m[1])} contredit {_phrase(m[2])} ({_phrase(m[3])})"),
    _rule(r"Not ready: (.*)\.", "Pas prêt : {0}."),
    _rule(r"This client has used its (\d+) requests per (\d+) s for (\S+) calls; retry in (\d+) s\.",
          "Ce client a utilisé ses {0} requêtes par {1} s pour les appels {2} ; réessayez dans {3} s."),
]


def translate(message: str) -> str | None:
    """The French of an English message of a problem document, or None when no pattern knows it."""
    for pattern, render in RULES:
        match = pattern.match(message)
        if match:
            return render(match)
    return None


def localise(message: str, lang: Language | str) -> str:
    """`message` in `lang`: French where a pattern knows it, the English otherwise (and always for `en`)."""
    if lang != "fr":
        return message
    return translate(message) or message
