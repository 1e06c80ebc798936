"""Audit records as FHIR R4 AuditEvent resources, after the IHE Basic Audit Log Patterns (BALP)."""

from __future__ import annotations

from typing import Any

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
BALP_ENTITY = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
PATIENT_HMAC = "urn:bonemets:patient-ref:hmac-sha256"
# What each audit action is, as a RESTful interaction and an AuditEvent.action code (C R U D E).
INTERACTIONS = {
    "score.computed": ("operation", "E"), "pathway.evaluated": ("operation", "E"),
    "evaluation.computed": ("operation", "E"), "job.submitted": ("create", "C"),
    "report.rendered": ("create", "C"), "audit.queried": ("search-type", "R"), "audit.purged": ("delete", "D"),
}


def audit_event(record: dict[str, Any]) -> dict[str, Any]:
    interaction, action = INTERACTIONS.get(record["action"], ("operation", "E"))
    entities: list[dict[str, Any]] = []
    if record["patient_hash"]:
        entities.append({
            "what": {"identifier": {"system": PATIENT_HMAC, "value": record["patient_hash"]}},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"}})
    entities.append({"what": {"identifier": {"value": record["request_id"]}},
                     "type": {"system": BALP_ENTITY, "code": "XrequestId", "display": "X-Request-Id"}})
    entities.append({
        "what": {"identifier": {"system": "urn:bonemets:audit-record", "value": record["id"]}},
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        "description": record["endpoint"],
        "detail": [{"type": name, "valueString": str(record[name])} for name in
                   ("action", "rule_ids", "seq", "hash", "prev_hash", "guideline_version", "engine_version",
                    "rules_version", "job_id") if record.get(name) not in (None, "")]})
    return {
        "resourceType": "AuditEvent",
        "id": record["id"],
        "meta": {"profile": ["https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientCreate"
                             if record["patient_hash"] else
                             "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Create"]},
        "type": {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "Restful Operation"},
        "subtype": [{"system": RESTFUL, "code": interaction}],
        "action": action,
        "recorded": record["created_at"],
        "outcome": "0",
        "agent": [
            {"type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
             "who": {"display": record["client"]}, "requestor": True,
             "role": [{"text": role} for role in record["roles"].split(",") if role]},
            {"type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
             "who": {"display": "bonemets"}, "requestor": False},
        ],
        "source": {"observer": {"display": "bonemets"},
                   "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}]},
        "entity": entities,
    }


def bundle(records: list[dict[str, Any]], next_link: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(records),
                              "entry": [{"resource": audit_event(r)} for r in records]}
    if next_link:
        result["link"] = [{"relation": "next", "url": next_link}]
    return result
