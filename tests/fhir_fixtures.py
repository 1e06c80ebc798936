"""FHIR resources as an EHR would send them in a CDS Hooks call, each checked with fhir.resources (R4B: the
package's R4-line models; Patient, Observation, Condition, MedicationRequest, Procedure, ServiceRequest and Bundle
are the same in R4 for every element used here) before a test uses it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

LOINC, SNOMED, UCUM, ATC = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org", \
    "http://www.whocc.no/atc"
PATIENT_ID = "pat-1288992"


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def days_ago(days: int, today: dt.date | None = None) -> str:
    return ((today or dt.date.today()) - dt.timedelta(days=days)).isoformat()


def patient(born: str = "1955-03-02", gender: str = "male") -> dict[str, Any]:
    return valid({"resourceType": "Patient", "id": PATIENT_ID, "birthDate": born, "gender": gender})


def observation(code: str, *, days: int = 3, status: str = "final", **value: Any) -> dict[str, Any]:
    return valid({"resourceType": "Observation", "id": f"obs-{uuid.uuid4().hex[:8]}", "status": status,
                  "code": {"coding": [{"system": LOINC, "code": code}]},
                  "subject": {"reference": f"Patient/{PATIENT_ID}"}, "effectiveDateTime": days_ago(days), **value})


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def creatinine(value: float, unit: str = "mg/dL", **kw: Any) -> dict[str, Any]:
    return observation("2160-0" if unit in ("mg/dL", "mg/L") else "14682-9", **quantity(value, unit), **kw)


def weight(value: float, unit: str = "kg", **kw: Any) -> dict[str, Any]:
    return observation("29463-7", **quantity(value, unit), **kw)


def karnofsky(value: int, **kw: Any) -> dict[str, Any]:
    return observation("89243-0", valueInteger=value, **kw)


def ecog(value: int, **kw: Any) -> dict[str, Any]:
    return observation("89247-1", valueInteger=value, **kw)


def condition(system: str, code: str, display: str) -> dict[str, Any]:
    return valid({"resourceType": "Condition", "id": f"cond-{code}",
                  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                 "code": "active"}]},
                  "code": {"coding": [{"system": system, "code": code, "display": display}]},
                  "subject": {"reference": f"Patient/{PATIENT_ID}"}})


BONE_METASTASIS = ("http://snomed.info/sct", "94222008", "Secondary malignant neoplasm of bone")
LUNG_CANCER = ("http://hl7.org/fhir/sid/icd-10", "C34.1", "Malignant neoplasm of upper lobe, bronchus or lung")


def medication(atc: str, name: str, *, days: int, status: str = "active", rid: str | None = None,
               **extra: Any) -> dict[str, Any]:
    return valid({"resourceType": "MedicationRequest", "id": rid or f"med-{uuid.uuid4().hex[:8]}", "status": status,
                  "intent": "order", "subject": {"reference": f"Patient/{PATIENT_ID}"},
                  "medicationCodeableConcept": {"coding": [{"system": ATC, "code": atc, "display": name}]},
                  "authoredOn": days_ago(days), **extra})


def service_request(code: str, display: str, *, rid: str, when: str | None = None) -> dict[str, Any]:
    resource = {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
                "subject": {"reference": f"Patient/{PATIENT_ID}"},
                "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]}}
    if when:
        resource["occurrenceDateTime"] = when
    return valid(resource)


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return valid({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]})


def prefetch(*, patient_resource: dict[str, Any] | None = None, observations: tuple[dict[str, Any], ...] = (),
             conditions: tuple[dict[str, Any], ...] = (), medications: tuple[dict[str, Any], ...] = (),
             procedures: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """Every key of the services' prefetch templates, as the EHR fills them."""
    codes = {"creatinine": ("2160-0", "14682-9"), "weight": ("29463-7",), "performance": ("89243-0", "89247-1")}

    def with_codes(names: tuple[str, ...]) -> dict[str, Any]:
        return bundle(*(o for o in observations if o["code"]["coding"][0]["code"] in names))

    return {"patient": patient_resource or patient(), **{key: with_codes(names) for key, names in codes.items()},
            "conditions": bundle(*conditions), "medications": bundle(*medications), "procedures": bundle(*procedures)}
