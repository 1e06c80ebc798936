"""bonemets' answers as FHIR R4 resources (issue 13), for EHRs that store results as FHIR: a score is an
Observation (a component per item, its band as interpretation, the algorithm and its version as method); a
prognostic score (Tokuhashi, Tomita, Rades) is also a RiskAssessment; each recommendation is a GuidanceResponse,
and a pathway or whole-case answer is a Bundle of them. No LOINC or SNOMED CT code exists for these scores, so
their codes come from the service's own CodeSystem, published at GET /fhir/CodeSystem/bonemets with its ValueSet.

No patient reference in clear ever appears: a resource about a patient names them by the keyed hash the audit
trail holds (identifier system urn:bonemets:patient-ref:hmac-sha256)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from domain import version
from domain.catalogue import catalogue
from domain.kinds import KINDS
from domain.scores import SCORES
from domain.texts import labels
from infra.fhir import PATIENT_HMAC

SYSTEM = "https://bonemets.org/fhir/CodeSystem/bonemets"
VALUE_SET = "https://bonemets.org/fhir/ValueSet/bonemets"
PROGNOSTIC = frozenset({"tokuhashi", "tomita", "rades"})
SURVEY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey",
                      "display": "Survey"}]}


def coding(code: str, display: str | None = None) -> dict[str, Any]:
    found = {"system": SYSTEM, "code": code}
    if display:
        found["display"] = display
    return found


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _subject(patient_hash: str | None) -> dict[str, Any]:
    if patient_hash is None:  # a RiskAssessment must name its subject: say it is not identified
        return {"subject": {"display": "patient not identified in the request"}}
    return {"subject": {"identifier": {"system": PATIENT_HMAC, "value": patient_hash}}}


def _value(score: str, item: dict[str, Any]) -> dict[str, Any]:
    value = item["value"]
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueQuantity": {"value": value}}
    display = labels.VALUES.get((score, item["item"], value), {}).get("en")
    return {"valueCodeableConcept": {"coding": [coding(f"{score}.{item['item']}.{value}", display)]}}


def method() -> dict[str, Any]:
    return {"coding": [coding("bonemets-engine", "bonemets scoring engine")],
            "text": f"bonemets {version.ENGINE_VERSION}, rules {version.RULES_VERSION}, guideline "
                    f"{version.GUIDELINE_VERSION}"}


def observation(score: dict[str, Any], *, issued: str, patient_hash: str | None,
                derived_from: list[str] | None = None) -> dict[str, Any]:
    name = score["score"]
    band = labels.BANDS[(name, score["band"])]["en"]
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": str(uuid.uuid4()), "status": "final", "category": [SURVEY],
        "code": {"coding": [coding(name, labels_of_score(name))]}, **_subject(patient_hash),
        "effectiveDateTime": issued, "issued": issued, "valueInteger": score["total"],
        "interpretation": [{"coding": [coding(f"{name}.{score['band']}", band)], "text": score["band_meaning"]}],
        "method": method(),
        "component": [{"code": {"coding": [coding(f"{name}.{i['item']}", labels.ITEMS.get(
            (name, i["item"]), labels.FIELDS.get(i["item"], {})).get("en"))]}, **_value(name, i),
            "interpretation": [{"text": f"{i['points']} points"}]} for i in score["items"]],
    }
    if derived_from:
        resource["derivedFrom"] = [{"reference": ref} for ref in derived_from]
    return resource


def labels_of_score(name: str) -> str:
    return {"mirels": "Mirels score", "sins": "Spinal Instability Neoplastic Score (SINS)",
            "rades": "Rades score", "tokuhashi": "Revised Tokuhashi score", "tomita": "Tomita score"}[name]


def risk_assessment(score: dict[str, Any], observation_ref: str, *, issued: str,
                    patient_hash: str | None) -> dict[str, Any]:
    name = score["score"]
    return {"resourceType": "RiskAssessment", "id": str(uuid.uuid4()), "status": "final", **_subject(patient_hash),
            "occurrenceDateTime": issued, "method": method(), "code": {"coding": [coding(name, labels_of_score(name))]},
            "basis": [{"reference": observation_ref}],
            "prediction": [{"outcome": {"coding": [coding(f"{name}.{score['band']}",
                                                          labels.BANDS[(name, score["band"])]["en"])],
                                        "text": score["band_meaning"]}}]}


def guidance(rec: dict[str, Any], *, issued: str, patient_hash: str | None, withheld: bool = False) -> dict[str, Any]:
    resource = {
        "resourceType": "GuidanceResponse", "id": str(uuid.uuid4()), "status": "success",
        "moduleCodeableConcept": {"coding": [coding(rec["rule_id"])], "text": rec["rule_id"]},
        **_subject(patient_hash), "occurrenceDateTime": issued,
        "reasonCode": [{"coding": [coding(f"action.{rec['action']}", labels.ACTIONS[rec["action"]]["en"])]}],
        "note": [{"text": rec["text"]}],
    }
    if withheld:
        resource["note"].append({"text": f"Withheld by {rec['withheld_by']}: {rec['reason']['text']}"})
    return resource


def data_requested(missing: dict[str, Any], *, issued: str, patient_hash: str | None) -> dict[str, Any]:
    return {"resourceType": "GuidanceResponse", "id": str(uuid.uuid4()), "status": "data-requested",
            "moduleCodeableConcept": {"coding": [coding(missing["rule_id"])], "text": missing["rule_id"]},
            **_subject(patient_hash), "occurrenceDateTime": issued,
            "dataRequirement": [{"type": "Observation", "mustSupport": list(missing["missing"])}]}


def score_resources(score: dict[str, Any], *, issued: str, patient_hash: str | None) -> list[dict[str, Any]]:
    obs = observation(score, issued=issued, patient_hash=patient_hash)
    found = [obs]
    if score["score"] in PROGNOSTIC:
        # the Observation's fullUrl in the Bundle (urn:uuid:<id>): the reference resolves inside it
        found.append(risk_assessment(score, f"urn:uuid:{obs['id']}", issued=issued, patient_hash=patient_hash))
    return found


def answer(output: dict[str, Any], *, issued: str, patient_hash: str | None) -> dict[str, Any]:
    """An answer of the API as FHIR: a score -> its Observation (a Bundle with its RiskAssessment when prognostic,
    and the GuidanceResponse of its recommendation); a pathway or an evaluation -> a collection Bundle."""
    scores = [output] if "score" in output else output.get("scores", [])  # a lesion's scores are among them
    resources = [r for s in scores for r in score_resources(s, issued=issued, patient_hash=patient_hash)]
    recs = [output["recommendation"]] if "score" in output else output["recommendations"]
    resources += [guidance(r, issued=issued, patient_hash=patient_hash) for r in recs]
    resources += [guidance(w, issued=issued, patient_hash=patient_hash, withheld=True)
                  for w in output.get("withheld", [])]
    resources += [data_requested(n, issued=issued, patient_hash=patient_hash) for n in output.get("not_evaluable", [])]
    return {"resourceType": "Bundle", "type": "collection", "timestamp": issued,
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def bulk_line(line: dict[str, Any], issued: str) -> dict[str, Any]:
    """One bulk result line as FHIR (Bulk Data's FHIR NDJSON): a collection Bundle of its answer, identified by its
    audit record, or an OperationOutcome for a line in error; `id` names the line."""
    if not line["ok"]:
        problem = line["error"]
        issues = [{"severity": "error", "code": "invalid" if problem["status"] < 500 else "exception",
                   "diagnostics": f"{e['field']}: {e['message']}", "expression": [e["field"]]}
                  for e in problem.get("errors") or []]
        return {"resourceType": "OperationOutcome", "id": f"line-{line['line']}",
                "issue": issues or [{"severity": "error", "code": "exception", "diagnostics": problem["detail"]}]}
    bundle = answer(line["result"], issued=issued, patient_hash=None)
    return {**bundle, "id": f"line-{line['line']}",
            "identifier": {"system": "urn:bonemets:audit-record", "value": line["result"]["audit_id"]}}


def code_system() -> dict[str, Any]:
    """Every code the service's FHIR resources use: scores, items, item values, bands, rules and actions."""
    cat = catalogue("en")
    concepts: list[dict[str, Any]] = [{"code": "bonemets-engine", "display": "bonemets scoring engine"}]
    for name, module in SCORES.items():
        children = [{"code": f"{name}.{item}", "display": labels.ITEMS.get((name, item), labels.FIELDS.get(
            item, {"en": item}))["en"], "concept": [
                {"code": f"{name}.{item}.{value}", "display": label["en"]}
                for (s, i, value), label in labels.VALUES.items() if (s, i) == (name, item)] or None}
            for item in items_of(name)]
        children += [{"code": f"{name}.{band.code}", "display": labels.BANDS[(name, band.code)]["en"]}
                     for band in module.BANDS]
        concepts.append({"code": name, "display": labels_of_score(name),
                         "concept": [{k: v for k, v in c.items() if v is not None} for c in children]})
    rules = sorted({a["rule_id"] for p in cat["pathways"] for a in p["actions"]})
    concepts += [{"code": rule, "display": f"Guideline rule {rule}"} for rule in rules]
    concepts += [{"code": f"action.{code}", "display": label["en"],
                  "designation": [{"language": "fr", "value": label["fr"]}]} for code, label in labels.ACTIONS.items()]
    return {"resourceType": "CodeSystem", "id": "bonemets", "url": SYSTEM, "version": version.RULES_VERSION,
            "name": "Bonemets", "title": "bonemets scores, bands, rules and actions", "status": "active",
            "experimental": False, "publisher": "bonemets", "content": "complete", "caseSensitive": True,
            "valueSet": VALUE_SET, "hierarchyMeaning": "part-of", "concept": concepts,
            "description": "Codes of the scores (Mirels, SINS, Rades, revised Tokuhashi, Tomita), their items, values "
                           "and bands, the rules of the OncoBFC / NEON / ONCORIF 2024 guideline and their actions. No "
                           "LOINC or SNOMED CT code exists for these scores."}


def items_of(name: str) -> list[str]:
    """Every item a score reports, in its order: the categorical ones of its tables and the counted ones (a score
    reports every item on every answer, so its example's answer names them all)."""
    kind = KINDS[name]
    return [i.item for i in kind.compute(msgspec.convert(kind.example, kind.inputs), "en").items]


def value_set() -> dict[str, Any]:
    return {"resourceType": "ValueSet", "id": "bonemets", "url": VALUE_SET, "version": version.RULES_VERSION,
            "name": "Bonemets", "status": "active", "compose": {"include": [{"system": SYSTEM}]}}
