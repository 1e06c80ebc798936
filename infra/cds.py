"""CDS Hooks services of bonemets: their discovery entries, and the cards a whole-case evaluation makes for the
`patient-view` and `order-select` hooks (issue 13).

The evaluation is the REST one (domain.evaluation.evaluate) on the case the EHR's FHIR resources make
(infra.fhir_case): the same SAFE rules, warnings and withheld recommendations reach the cards. A card's
indicator follows the urgency of what it says (emergency -> critical, urgent -> warning, routine -> info); an
order the guideline advises against is at least a warning, and one it contraindicates is critical."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

import msgspec

from domain import safety, version
from domain.evaluation import Case, EvaluationResult, evaluate
from domain.model import FieldProblem, InputRejected, Language
from domain.pathways import imaging
from domain.texts import labels
from domain.texts.messages import localise
from domain.texts.report import labels as report_labels
from domain.validation import convert
from infra import fhir_case
from infra.cds_models import Action, Card, Link, Service, Source, Suggestion
from infra.cds_models import Request as HookRequest

PATIENT_VIEW = "bonemets-patient-view"
ORDER_SELECT = "bonemets-order-select"
GUIDELINE_URL = "https://www.oncobfc.com/referentiels"
INDICATOR = {"emergency": "critical", "urgent": "warning", "routine": "info"}
RANK = {"info": 0, "warning": 1, "critical": 2}
FINDINGS_EXTENSION = "fr.bonemets.findings"  # the clinician's findings a SMART app may add to the call

# The minimum the service needs, fetched by the EHR before the call (CDS Hooks prefetch templates).
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "creatinine": "Observation?patient={{context.patientId}}&code=http://loinc.org|2160-0,http://loinc.org|14682-9"
                  "&_sort=-date&_count=5",
    "weight": "Observation?patient={{context.patientId}}&code=http://loinc.org|29463-7&_sort=-date&_count=5",
    "performance": "Observation?patient={{context.patientId}}&code=http://loinc.org|89243-0,"
                   "http://loinc.org|89247-1&_sort=-date&_count=5",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "medications": "MedicationRequest?patient={{context.patientId}}&_count=100",
    "procedures": "Procedure?patient={{context.patientId}}&_sort=-date&_count=50",
}
SERVICES = [
    Service(hook="patient-view", id=PATIENT_VIEW, title="Bone metastases of lung cancer — what the guideline says next",
            description="A summary card: what the regional guideline (OncoBFC / NEON / ONCORIF 2024) recommends next "
                        "for this patient's bone metastases, and what is missing to decide.",
            prefetch=PREFETCH,
            usage_requirements="Patients with a bone metastasis of a lung cancer; lesion findings (SINS, Mirels...) "
                               f"may be sent in the request's extension {FINDINGS_EXTENSION!r}."),
    Service(hook="order-select", id=ORDER_SELECT,
            title="Bone metastases of lung cancer — orders checked against the guideline",
            description="When a radiotherapy, a surgical or spine consult, a PET or a bone-resorption inhibitor is "
                        "selected: cards that support the order or warn against it, with the change to make.",
            prefetch=PREFETCH),
]
SERVICE_HOOKS = {s.id: s.hook for s in SERVICES}

WORDS: dict[str, dict[Language, str]] = {
    "summary": {"en": "Bone metastases: {n} recommendation(s) from the guideline",
                "fr": "Métastases osseuses : {n} recommandation(s) du référentiel"},
    "for_information": {"en": " ({k} for information only)", "fr": " ({k} pour information seulement)"},
    "nothing": {"en": "Bone metastases: nothing the guideline recommends can be decided yet",
                "fr": "Métastases osseuses : aucune recommandation du référentiel ne peut encore être décidée"},
    "missing": {"en": "Bone metastases: {n} finding(s) missing to decide",
                "fr": "Métastases osseuses : {n} donnée(s) manquante(s) pour décider"},
    "missing_intro": {"en": "These findings are not in the EHR; record them (or send them with the call) to get "
                            "the guideline's answer — the PDF report (link below) shows what each decision waits for:",
                      "fr": "Ces données ne sont pas dans le dossier ; renseignez-les (ou joignez-les à l'appel) "
                            "pour obtenir la réponse du référentiel — le rapport PDF (lien ci-dessous) montre ce que "
                            "chaque décision attend :"},
    "withheld": {"en": "Not recommended: set aside by a safety rule",
                 "fr": "Non recommandées : écartées par une règle de sécurité"},
    "warnings": {"en": "Warnings", "fr": "Avertissements"},
    "basis": {"en": "Taken from the EHR", "fr": "Repris du dossier"},
    "set_aside": {"en": "Not used", "fr": "Non utilisé"},
    "rcp": {"en": "discuss in RCP", "fr": "discussion en RCP"},
    "report": {"en": "PDF report of this evaluation", "fr": "Rapport PDF de cette évaluation"},
    "zol_contra": {"en": "Zoledronic acid: clearance {clearance} mL/min, contraindicated — denosumab",
                   "fr": "Acide zolédronique : clairance {clearance} mL/min, contre-indiqué — dénosumab"},
    "zol_contra_only": {"en": "Zoledronic acid: clearance {clearance} mL/min, contraindicated",
                        "fr": "Acide zolédronique : clairance {clearance} mL/min, contre-indiqué"},
    "zol_dose": {"en": "Zoledronic acid: clearance {clearance} mL/min, dose {dose} mg",
                 "fr": "Acide zolédronique : clairance {clearance} mL/min, dose {dose} mg"},
    "zol_unknown": {"en": "Zoledronic acid: cannot be dosed, missing: {missing}",
                    "fr": "Acide zolédronique : dose impossible, manque : {missing}"},
    "clearance_inputs": {"en": "creatinine, weight, age or sex", "fr": "créatinine, poids, âge ou sexe"},
    "denosumab_after_dental": {"en": "; denosumab once the dental assessment is done",
                               "fr": " ; dénosumab après le bilan bucco-dentaire"},
    "denosumab_calcium": {"en": "Denosumab: high risk of severe hypocalcaemia — correct and monitor calcium",
                          "fr": "Dénosumab : risque élevé d'hypocalcémie sévère — corriger et surveiller la calcémie"},
    "gcsf_undated": {"en": "PET: a G-CSF in the chart has no date — check the last dose before the PET (IMG-2)",
                     "fr": "TEP : un G-CSF du dossier n'a pas de date — vérifier la dernière dose avant la TEP "
                           "(IMG-2)"},
    "replace_denosumab": {"en": "Replace zoledronic acid by denosumab 120 mg SC every 4 weeks, with calcium and "
                                "vitamin D (correct any hypocalcaemia first)",
                          "fr": "Remplacer l'acide zolédronique par le dénosumab 120 mg SC toutes les 4 semaines, avec "
                                "calcium et vitamine D (corriger d'abord toute hypocalcémie)"},
    "denosumab_dosage": {"en": "120 mg SC every 4 weeks, with calcium and vitamin D; correct any hypocalcaemia first",
                         "fr": "120 mg SC toutes les 4 semaines, avec calcium et vitamine D ; corriger d'abord toute "
                               "hypocalcémie"},
    "zol_dosage": {"en": "{dose} mg IV every 4 weeks", "fr": "{dose} mg IV toutes les 4 semaines"},
    "not_recommended": {"en": "Not recommended: {action} — {reason}", "fr": "Non recommandé : {action} — {reason}"},
    "missing_short": {"en": "missing", "fr": "manque"},
    "cancel": {"en": "Cancel this order", "fr": "Annuler cette prescription"},
    "not_indicated": {"en": "Bone-resorption inhibitor not indicated (AR-1)",
                      "fr": "Inhibiteur de la résorption osseuse non indiqué (AR-1)"},
    "zol_undecided": {"en": "Zoledronic acid: start not decided (see what is missing); clearance {clearance} mL/min",
                      "fr": "Acide zolédronique : initiation non décidée (voir les données manquantes) ; clairance "
                            "{clearance} mL/min"},
    "after_dental": {"en": ", once the dental assessment is done", "fr": ", après le bilan bucco-dentaire"},
    "set_dose": {"en": "Set the dose to {dose} mg", "fr": "Fixer la dose à {dose} mg"},
    "pet_postpone": {"en": "PET within 15 days of G-CSF: postpone to {date}",
                     "fr": "TEP dans les 15 jours suivant le G-CSF : reporter au {date}"},
    "pet_reschedule": {"en": "Reschedule the PET on {date}", "fr": "Reprogrammer la TEP au {date}"},
    "order_rec": {"en": "{label} ({rule})", "fr": "{label} ({rule})"},
}


def word(key: str, lang: Language, **values: Any) -> str:
    return WORDS[key][lang].format(**values)


def source(lang: Language) -> Source:
    title = {"en": "Bone metastases of lung cancer", "fr": "Métastases osseuses et cancer du poumon"}[lang]
    return Source(label=f"OncoBFC / NEON / ONCORIF — {title} ({version.GUIDELINE_VERSION})", url=GUIDELINE_URL)


def _short(text: str) -> str:
    return text if len(text) < 140 else text[:136].rsplit(" ", 1)[0] + " …"


def _line(rec: dict[str, Any], lang: Language) -> str:
    lesion = f" [{rec['lesion']}]" if rec.get("lesion") else ""
    rcp = f" — *{word('rcp', lang)}*" if rec.get("rcp_required") else ""
    return f"- **{rec['rule_id']}**{lesion} ({report_labels(lang)[rec['urgency']].lower()}) : {rec['text']}{rcp}" \
        .replace(" : ", ": " if lang == "en" else " : ")


# The EHR's facts that are not request fields, in words (the others are in domain/texts/labels.py FIELDS).
FACTS: dict[str, dict[Language, str]] = {
    "ecog": {"en": "ECOG performance status (not used: the guideline scores Karnofsky)",
             "fr": "Indice ECOG (non utilisé : le référentiel emploie le Karnofsky)"},
    "denosumab_since": {"en": "Denosumab, current course since", "fr": "Dénosumab, traitement en cours depuis"},
    "zoledronic_since": {"en": "Zoledronic acid, current course since",
                         "fr": "Acide zolédronique, traitement en cours depuis"},
    "last_radiotherapy_date": {"en": "Last radiotherapy", "fr": "Dernière radiothérapie"},
    "last_surgery_date": {"en": "Last surgery", "fr": "Dernière chirurgie"},
}


def fact_label(name: str, lang: Language) -> str:
    return FACTS[name][lang] if name in FACTS else labels.FIELDS[name][lang]


def fact_unit(name: str, lang: Language) -> str | None:
    return labels.unit(name, lang) if name in labels.FIELDS else None


def _basis(found: fhir_case.EhrFacts, lang: Language) -> list[str]:
    lines = [f"- {fact_label(name, lang)} : {_shown(fact.value, lang)}"
             f"{' ' + unit if (unit := fact_unit(name, lang)) else ''} ({fact.source})"
             for name, fact in found.facts.items()]
    lines += [f"- {word('set_aside', lang)} — {fact_label(s.fact, lang)}, {s.source} : {localise(s.why, lang)}"
              for s in found.set_aside]
    return [line.replace(" : ", ": ") if lang == "en" else line for line in lines]


def _shown(value: Any, lang: Language) -> str:
    if isinstance(value, dict) and "unit" in value:
        return f"{labels.number(value['value'], lang)} {labels.ENUMS[('CreatinineUnit', value['unit'])][lang]}"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return labels.number(value, lang)
    if ("Sex", value) in labels.ENUMS:
        return labels.ENUMS[("Sex", value)][lang]
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _indicator(urgencies: Iterable[str]) -> str:
    return max((INDICATOR[u] for u in urgencies), key=RANK.__getitem__, default="info")


Served = tuple[Card, tuple[str, ...]]  # a card and the rule ids it speaks for (feedback is counted by them)


def patient_view(result: dict[str, Any], found: fhir_case.EhrFacts, lang: Language) -> list[Served]:
    """A summary card of what the guideline recommends next; a card of what is missing to decide."""
    recs = result["recommendations"]
    detail = [_line(r, lang) for r in recs]
    if result["withheld"]:
        detail += ["", f"**{word('withheld', lang)}**"]
        detail += [f"- ~~{w['rule_id']}~~ {labels.ACTIONS[w['action']][lang]}: {w['reason']['text']} "
                   f"({w['withheld_by']})" for w in result["withheld"]]
    if result["warnings"]:
        detail += ["", f"**{word('warnings', lang)}**", *(f"- {w['message']}" for w in result["warnings"])]
    detail += ["", f"**{word('basis', lang)}**", *_basis(found, lang)]
    decided = [r for r in recs if r["action"] not in INFORMATION_ONLY]  # a clearance "for information" is no advice
    informed = len(recs) - len(decided)
    headline = word("summary", lang, n=len(decided)) if decided else word("nothing", lang)
    cards = [(Card(uuid=str(uuid.uuid4()), source=source(lang),
                   summary=_short(headline + (word("for_information", lang, k=informed) if informed else "")),
                   indicator=max(_indicator(r["urgency"] for r in recs), "warning" if result["warnings"] else "info",
                                key=RANK.__getitem__), detail="\n".join(detail)),
              tuple(dict.fromkeys(r["rule_id"] for r in recs)))]
    missing = sorted({name for n in result["not_evaluable"] for name in n["missing"]})
    if missing:
        names = [{"fr": " ou ", "en": " or "}[lang].join(labels.FIELDS.get(part, {"en": part, "fr": part})[lang]
                                                         for part in name.split("|")) for name in missing]
        cards.append((Card(uuid=str(uuid.uuid4()), source=source(lang), indicator="info",
                           summary=_short(word("missing", lang, n=len(missing))),
                           detail="\n".join([word("missing_intro", lang), *(f"- {n}" for n in names)])),
                      tuple(dict.fromkeys(n["rule_id"] for n in result["not_evaluable"]))))
    return cards


def with_report_link(served: list[Served], url: str, lang: Language) -> list[Served]:
    """Every card with a link to the PDF report of the evaluation behind it (the same report for all of a call's
    cards: the link is signed for the call's audit record, infra.report_links)."""
    link = Link(label=word("report", lang), url=url, type="absolute")
    return [(msgspec.structs.replace(card, links=[*(card.links or []), link]), rules) for card, rules in served]


class Answered(NamedTuple):
    case: Case
    result: EvaluationResult
    served: list[Served]


def answer(hook: HookRequest, prefetch: dict[str, Any], day: dt.date, lang: Language) -> Answered:
    """A service call's answer: the case its FHIR resources make (with the clinician's findings from the call's
    extension, and what the selected orders add), evaluated exactly as `POST /v1/evaluations`, as cards.
    InputRejected names a bad finding where it was sent (`extension.fr.bonemets.findings.<field>`)."""
    found = fhir_case.read(prefetch, day)
    findings = (hook.extension or {}).get(FINDINGS_EXTENSION) if hook.extension is not msgspec.UNSET else None
    if findings is not None and not isinstance(findings, dict):
        raise InputRejected([FieldProblem(field=f"extension.{FINDINGS_EXTENSION}", message="must be an object shaped "
                                          "as the POST /v1/evaluations body")])
    findings = dict(findings or {})
    if "patient_ref" in findings:  # the patient is the context's: no reference of theirs travels in the findings
        raise InputRejected([FieldProblem(field=f"extension.{FINDINGS_EXTENSION}.patient_ref",
                                          message="the patient is context.patientId; no patient reference here")])
    orders = selected(hook.context) if hook.hook == "order-select" else []
    for block, values in order_findings(orders, day).items():
        findings[block] = {**(findings.get(block) or {}), **values}
    try:
        case = convert(fhir_case.case_of(found, day, findings), Case)
    except InputRejected as rejected:  # the clinician's findings, as sent in the extension
        raise InputRejected([FieldProblem(field=f"extension.{FINDINGS_EXTENSION}.{p.field}", message=p.message,
                                          allowed=p.allowed) for p in rejected.problems],
                            contradiction=rejected.contradiction) from None
    result = evaluate(case, lang)
    output = msgspec.to_builtins(result)
    if hook.hook == "patient-view":
        return Answered(case, result, patient_view(output, found, lang))
    # each selected PET on its own date: the imaging pathway, as POST /v1/pathways/imaging answers it (the case
    # itself was evaluated with the earliest, the one IMG-2 constrains most)
    pets = {_ref(order): msgspec.to_builtins(imaging.evaluate(msgspec.structs.replace(
        case.imaging or imaging.Inputs(), planned_pet_date=max(planned_date(order) or day, day)), lang))
        for order in orders if kind_of(order) == "pet"}
    undated = found.value("last_gcsf_date") is None and any(a.fact == "last_gcsf_date" for a in found.set_aside)
    patient = case.patient
    lacks = [name for name in CLEARANCE_INPUTS if patient is None or getattr(patient, name, None) is None]
    return Answered(case, result, order_select(output, orders, lang, pets, gcsf_undated=undated,
                                               clearance_lacks=lacks))


# --- order-select ---------------------------------------------------------------------------------------------


def selected(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The draft orders the clinician selected, by their `Type/id` in `selections`."""
    wanted = set(context.get("selections") or [])
    return [r for r in fhir_case.resources(context.get("draftOrders"))
            if f"{r.get('resourceType')}/{r.get('id')}" in wanted]


def kind_of(order: dict[str, Any]) -> str | None:
    codes = fhir_case.codings(order.get("medicationCodeableConcept")) | fhir_case.codings(order.get("code"))
    for kind, known in (("zoledronic", fhir_case.ZOLEDRONIC), ("denosumab", fhir_case.DENOSUMAB),
                        ("pet", fhir_case.PET), ("radiotherapy", fhir_case.RADIOTHERAPY),
                        ("surgical_consult", fhir_case.SURGICAL_CONSULT)):
        if codes & known:
            return kind
    return None


def _ref(order: dict[str, Any]) -> str:
    return f"{order.get('resourceType')}/{order.get('id')}"


def _rec(result: dict[str, Any], *rules: str) -> list[dict[str, Any]]:
    return [r for r in result["recommendations"] if r["rule_id"] in rules]


INFORMATION_ONLY = frozenset({"renal_dosing_information", "renal_dosing_information_under_30"})  # AR-2's, no dose
CLEARANCE_INPUTS = ("creatinine", "weight_kg", "age", "sex")  # Cockcroft-Gault's (AR-2)
CONTRAINDICATED = frozenset({"zoledronic_acid_not_given", "renal_dosing_information_under_30"})  # AR-2's actions


def _colon(lang: Language) -> str:
    return " : " if lang == "fr" else ": "


def _missing_lines(result: dict[str, Any], prefix: str, lang: Language) -> list[str]:
    return [f"- **{n['rule_id']}** — {word('missing_short', lang)}{_colon(lang)}" + ", ".join(
        {"fr": " ou ", "en": " or "}[lang].join(labels.FIELDS[p][lang] if p in labels.FIELDS else p
                                                for p in name.split("|")) for name in n["missing"])
        for n in result["not_evaluable"] if n["rule_id"].startswith(prefix)]


def _inhibitor_base(result: dict[str, Any], lang: Language, warning_codes: tuple[str, ...]) -> dict[str, Any]:
    ar = [r for r in result["recommendations"] if r["rule_id"].startswith("AR-")]
    return {"uuid": str(uuid.uuid4()), "source": source(lang),
            "detail": "\n".join([*(_line(r, lang) for r in ar), *_missing_lines(result, "AR-", lang),
                                 *(f"- {w['message']}" for w in result["warnings"]
                                   if any(code in w["code"] for code in warning_codes))]) or None}


def _cancel(order: dict[str, Any], lang: Language, recommended: bool = False) -> Suggestion:
    label = word("cancel", lang)
    return Suggestion(label=label, uuid=str(uuid.uuid4()), is_recommended=recommended or msgspec.UNSET,
                      actions=[Action(type="delete", description=label, resource_id=_ref(order))])


def _not_indicated(order: dict[str, Any], result: dict[str, Any], lang: Language,
                   codes: tuple[str, ...]) -> Card | None:
    """AR-1 says no bone-resorption inhibitor for this patient: any inhibitor ordered is a warning, cancel proposed."""
    if not any(r["action"] == "antiresorptive_not_indicated" for r in _rec(result, "AR-1")):
        return None
    return Card(**_inhibitor_base(result, lang, codes), indicator="warning",
                summary=_short(word("not_indicated", lang)), selection_behavior="at-most-one",
                suggestions=[_cancel(order, lang, recommended=True)])


def _zoledronic(order: dict[str, Any], result: dict[str, Any], lang: Language, lacking: list[str]) -> Card:
    """The inhibitor's whole pathway, as REST answers it, decides the card. Under 30 mL/min (AR-2, SAFE-3) it is
    critical whatever else is said: cancel proposed, and replaced by denosumab (AR-3's terms) only once the start is
    decided (AR-1); not indicated (AR-1) is a warning that proposes to cancel; a dose to give is an update of the
    order, with the pre-treatment checklist (AR-4) beside it; a start not decided (life expectancy, dental
    assessment missing) gives the clearance for information, and no dose."""
    codes = ("zoledronic", "creatinine", "denosumab")  # denosumab's too: it is what the card proposes instead
    ar2 = next((r for r in _rec(result, "AR-2")), None)
    values = ar2.get("values", {}) if ar2 else {}
    clearance = values.get("creatinine_clearance_ml_min")
    shown = labels.number(clearance, lang) if clearance is not None else None
    base = _inhibitor_base(result, lang, codes)
    started = {r["action"] for r in _rec(result, "AR-1")} & {"start_antiresorptive", "start_after_dental_assessment"}
    # contraindicated as AR-2 decided it (SAFE-3; the threshold is the domain's, not repeated here)
    if ar2 is not None and ar2["action"] in CONTRAINDICATED:
        if started != {"start_antiresorptive"}:  # not indicated, not decided, or after the dental assessment: no
            summary = word("zol_contra_only", lang, clearance=shown) + (  # inhibitor to put in its place yet
                word("denosumab_after_dental", lang) if started else "")
            return Card(**base, indicator="critical", summary=_short(summary),
                        selection_behavior="at-most-one", suggestions=[_cancel(order, lang, recommended=True)])
        denosumab = {"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
                     "subject": order.get("subject", {}),
                     "medicationCodeableConcept": {"coding": [
                         {"system": fhir_case.ATC, "code": "M05BX04", "display": "denosumab"}], "text": "Denosumab"},
                     "dosageInstruction": [{"text": word("denosumab_dosage", lang), "route": {"text": "SC"}}]}
        label = word("replace_denosumab", lang)
        return Card(**base, indicator="critical", summary=_short(word("zol_contra", lang, clearance=shown)),
                    selection_behavior="at-most-one",
                    suggestions=[Suggestion(label=label, uuid=str(uuid.uuid4()), is_recommended=True, actions=[
                        Action(type="delete", description=label, resource_id=_ref(order)),
                        Action(type="create", description=label, resource=denosumab)])])
    if (card := _not_indicated(order, result, lang, codes)) is not None:
        return card
    if clearance is None:  # what Cockcroft-Gault lacks, named
        return Card(**base, indicator="warning", summary=_short(word("zol_unknown", lang, missing=", ".join(
            labels.FIELDS[name][lang].lower() for name in lacking) or word("clearance_inputs", lang))))
    dose = values.get("dose_mg") if ar2 and ar2["action"] == "zoledronic_acid" else None
    if dose is None or not started:  # the start is not decided, or no plausible dose: the clearance, for information
        return Card(**base, indicator="warning", summary=_short(word("zol_undecided", lang, clearance=shown)))
    quantity = {"value": dose, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    updated = {**order, "dosageInstruction": [{"text": word("zol_dosage", lang, dose=labels.number(dose, lang)),
                                               "doseAndRate": [{"doseQuantity": quantity}]}]}
    later = "start_after_dental_assessment" in started
    set_dose = word("set_dose", lang, dose=labels.number(dose, lang))
    summary = word("zol_dose", lang, clearance=shown, dose=labels.number(dose, lang)) + (
        word("after_dental", lang) if later else "")
    return Card(**base, indicator="warning" if later else "info", summary=_short(summary),
                selection_behavior="at-most-one",
                suggestions=[Suggestion(label=set_dose, uuid=str(uuid.uuid4()), actions=[
                    Action(type="update", description=set_dose, resource=updated)])])


def _pet(order: dict[str, Any], result: dict[str, Any], lang: Language) -> Card | None:
    """IMG-2, as the domain decided it for this order's date: postpone a PET planned within 15 days of G-CSF."""
    postpone = [r for r in _rec(result, "IMG-2") if r["action"] == "postpone_pet"]
    if not postpone:
        return None
    date = postpone[0]["values"]["earliest_pet_date"]
    moved = rescheduled(order, dt.date.fromisoformat(date))
    shown = labels.date(dt.date.fromisoformat(date), lang)
    return Card(uuid=str(uuid.uuid4()), source=source(lang), indicator=max(
        "warning", INDICATOR[postpone[0]["urgency"]], key=RANK.__getitem__),
                summary=_short(word("pet_postpone", lang, date=shown)), detail=_line(postpone[0], lang),
                selection_behavior="at-most-one",
                suggestions=[Suggestion(label=word("pet_reschedule", lang, date=shown), uuid=str(uuid.uuid4()),
                                        is_recommended=True, actions=[Action(
                                            type="update", description=word("pet_reschedule", lang, date=shown),
                                            resource=moved)])])


def rescheduled(order: dict[str, Any], day: dt.date) -> dict[str, Any]:
    """The order moved to `day` within the occurrence[x] it already uses, its time of day kept: a period starts on
    `day` and keeps its end if `day` is still inside it (else it keeps its length); an order without one gets
    occurrenceDateTime."""
    def on(text: Any, moved: dt.date) -> str:  # a FHIR date or dateTime moved to another day, its time kept
        return moved.isoformat() + (text[10:] if isinstance(text, str) and len(text) > 10 else "")

    period = order.get("occurrencePeriod")
    if isinstance(period, dict) and period.get("start"):
        start, end = fhir_case._date(period["start"]), fhir_case._date(period.get("end"))
        moved = {**period, "start": on(period["start"], day)}
        if start is not None and end is not None and end < day:  # the window is past: the same length from `day`
            moved["end"] = on(period["end"], day + (end - start))
        return {**order, "occurrencePeriod": moved}
    return {**order, "occurrenceDateTime": on(order.get("occurrenceDateTime"), day)}


def planned_date(order: dict[str, Any]) -> dt.date | None:
    """When an order is to be carried out: its occurrence (a date, or a period's start) — never when it was written."""
    period = order.get("occurrencePeriod")
    return fhir_case._date(order.get("occurrenceDateTime") or (period.get("start") if isinstance(period, dict)
                                                                 else None))


def order_findings(orders: list[dict[str, Any]], today: dt.date) -> dict[str, Any]:
    """What the selected orders add to the case: the earliest planned PET (IMG-2 decides whether it must wait; each
    PET's own card is judged on its own date)."""
    pets = [order for order in orders if kind_of(order) == "pet"]
    if not pets:
        return {}
    earliest = min(max(planned_date(order) or today, today) for order in pets)
    return {"imaging": {"planned_pet_date": earliest.isoformat()}}


def _related(order: dict[str, Any], result: dict[str, Any], rules: tuple[str, ...], lang: Language,
             against: frozenset[tuple[str, str]]) -> list[Served]:
    """The guideline's own recommendations and withholdings about the kind of order selected, a card each; a
    withheld recommendation that is this very order (`against`: its rule and action) proposes to cancel it."""
    cards = [(Card(uuid=str(uuid.uuid4()), source=source(lang), indicator=INDICATOR[r["urgency"]],
                   summary=_short(word("order_rec", lang, label=labels.ACTIONS[r["action"]][lang],
                                       rule=r["rule_id"])),
                   detail=_line(r, lang)), (r["rule_id"],)) for r in _rec(result, *rules)]
    for w in result["withheld"]:
        if w["rule_id"] not in rules:
            continue
        this_order = (w["rule_id"], w["action"]) in against
        cards.append((Card(uuid=str(uuid.uuid4()), source=source(lang), indicator="warning",
                           summary=_short(word("not_recommended", lang, action=labels.ACTIONS[w["action"]][lang],
                                               reason=w["reason"]["text"])),
                           detail=f"~~{w['rule_id']}~~ {w['text']} ({w['withheld_by']}: {w['reason']['text']})",
                           **({"selection_behavior": "at-most-one", "suggestions": [_cancel(order, lang)]}
                              if this_order else {})),
                      (w["rule_id"], w["withheld_by"])))
    return cards


ORDER_RULES = {
    "radiotherapy": ("SURG-1", "SURG-2", "SP-3", "SP-4", "RT-1", "RT-2", "RT-3", "RT-4", "RT-5", "MSCC-1", "MSCC-5",
                     "LB-2", "LB-3", "LB-4"),
    "surgical_consult": ("SURG-1", "SURG-2", "SURG-3", "SURG-4", "SURG-5", "SP-3", "MSCC-5", "LB-1", "LB-4"),
    "denosumab": ("AR-1", "AR-3", "AR-4", "AR-5", "AR-6", "AR-7"),
}


# Per kind of order: the rules that speak of it, and the recommendations (rule, action) that are the order itself
# (withheld, they propose to cancel it).
ORDER_AGAINST = {"surgical_consult": safety.SURGICAL, "radiotherapy": frozenset(), "denosumab": frozenset()}


def _calcium(result: dict[str, Any], lang: Language) -> Card | None:
    """Denosumab with a clearance under 30 mL/min or dialysis: the engine's hypocalcaemia warning, as a card."""
    found = [w for w in result["warnings"] if w["code"] == "denosumab_severe_hypocalcaemia_risk"]
    if not found:
        return None
    return Card(uuid=str(uuid.uuid4()), source=source(lang), indicator="warning",
                summary=_short(word("denosumab_calcium", lang)), detail="\n".join(f"- {w['message']}" for w in found))


def order_select(result: dict[str, Any], orders: list[dict[str, Any]], lang: Language,
                 pets: dict[str, dict[str, Any]] | None = None, gcsf_undated: bool = False,
                 clearance_lacks: list[str] | None = None) -> list[Served]:
    """For each selected order the guideline speaks of: a card supporting it, changing it or warning against it. A
    recommendation that speaks for several selected orders is one card (the first order's), and an order is proposed
    for cancelling by one card only; each PET is judged on its own date (`pets`: the imaging pathway's answer by
    order reference), and a PET while a G-CSF in the chart has no date is a warning (`gcsf_undated`); a zoledronic
    acid that cannot be dosed names what the clearance lacks (`clearance_lacks`: patient fields)."""
    clearance_lacks = clearance_lacks or []
    cards: list[Served] = []
    for order in orders:
        kind = kind_of(order)
        if kind == "zoledronic":
            cards.append((_zoledronic(order, result, lang, clearance_lacks), ("AR-2",)))
        elif kind == "pet":
            card = _pet(order, (pets or {}).get(_ref(order), result), lang)
            if card is None and gcsf_undated:
                card = Card(uuid=str(uuid.uuid4()), source=source(lang), indicator="warning",
                            summary=_short(word("gcsf_undated", lang)))
            cards.extend([(card, ("IMG-2",))] if card else [])
        elif kind == "denosumab" and (card := _not_indicated(order, result, lang, ("denosumab",))) is not None:
            cards.append((card, ("AR-1",)))
        elif kind in ORDER_RULES:
            if kind == "denosumab" and (card := _calcium(result, lang)) is not None:
                cards.append((card, ("AR-3",)))
            cards.extend(_related(order, result, ORDER_RULES[kind], lang, ORDER_AGAINST[kind]))
    unique: dict[tuple[str, str | None], list[Served]] = {}
    for card, rules in cards:  # the same words for two orders (a radiotherapy and a consult share SURG-1) once:
        same = unique.setdefault((card.summary, card.detail or None), [])  # the one that proposes a change wins
        if not same or (card.suggestions and same[0][0].suggestions):
            same.append((card, rules))
        elif card.suggestions:
            same[0] = (card, rules)
    cancelled: set[str] = set()
    kept: list[Served] = []
    for card, rules in (served for same in unique.values() for served in same):
        deletes = {a.resource_id for s in card.suggestions or [] for a in s.actions or [] if a.type == "delete"}
        if deletes and deletes <= cancelled:  # already proposed by a card before: the warning stays, not the delete
            card = msgspec.structs.replace(card, suggestions=msgspec.UNSET, selection_behavior=msgspec.UNSET)
        cancelled |= deletes
        kept.append((card, rules))
    return kept
