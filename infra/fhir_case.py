"""FHIR R4 resources -> the facts of a case, in one place (issue 13): what a CDS Hooks call's prefetch (or the
EHR's FHIR server) says of the patient, unit-aware, each fact traced to the resource it came from.

The rule for an observation (documented in the README, tested in tests/unit/test_fhir_case.py): among the
Observations with the fact's code, keep those whose status is final, amended or corrected, whose value converts
to the fact's unit and lies in its plausible range, and whose effective date is not after the evaluation and not
older than the fact's window (creatinine and weight 90 days, performance status 30 days); take the most recent
(ties: the first listed, as the server sorted them). Each observation set aside is reported with why, so a card
can say "the latest creatinine (2025-01-02) is older than 90 days"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from domain import bounds

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm", "http://id.who.int/icd/release/10")
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

CREATININE_MASS = "2160-0"  # Creatinine [Mass/volume] in Serum or Plasma
CREATININE_MOLES = "14682-9"  # Creatinine [Moles/volume] in Serum or Plasma
BODY_WEIGHT = "29463-7"
KARNOFSKY = "89243-0"  # mCODE KarnofskyPerformanceStatus
ECOG = "89247-1"  # mCODE ECOGPerformanceStatus

# UCUM unit -> (case unit, factor)
CREATININE_UNITS = {"mg/dL": ("mg_dl", 1.0), "umol/L": ("umol_l", 1.0), "mmol/L": ("umol_l", 1000.0),
                    "mg/L": ("mg_dl", 0.1)}
WEIGHT_UNITS = {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237}
# LOINC answer codes of the performance scales (LL4986-7, LL529-9)
KARNOFSKY_ANSWERS = {"LA29175-9": 100, "LA29176-7": 90, "LA29177-5": 80, "LA29178-3": 70, "LA29179-1": 60,
                     "LA29180-9": 50, "LA29181-7": 40, "LA29182-5": 30, "LA29183-3": 20, "LA29184-1": 10,
                     "LA9627-6": 0}
ECOG_ANSWERS = {"LA9622-7": 0, "LA9623-5": 1, "LA9624-3": 2, "LA9625-0": 3, "LA9626-8": 4, "LA9627-6": 5}
WINDOW_DAYS = {"creatinine": 90, "weight_kg": 90, "karnofsky": 30, "ecog": 30}
USABLE_STATUS = frozenset({"final", "amended", "corrected"})

# Conditions: bone metastasis and primary lung cancer
BONE_METASTASIS = {(SNOMED, "94222008"), *((system, "C79.5") for system in ICD10),
                   *((system, "C79.51") for system in ICD10)}
LUNG_CANCER_SNOMED = {"363358000", "254637007", "254632001", "93880001", "187875007"}
# Medications (ATC and RxNorm ingredient codes)
ZOLEDRONIC = {(ATC, "M05BA08"), (RXNORM, "77655")}
DENOSUMAB = {(ATC, "M05BX04"), (RXNORM, "993449")}
GCSF = {(ATC, "L03AA02"), (ATC, "L03AA13"), (ATC, "L03AA14"), (RXNORM, "68442"), (RXNORM, "338036")}
# Procedures
RADIOTHERAPY = {(SNOMED, "108290001"), (SNOMED, "1287742003"), (SNOMED, "33195004")}
PET = {(SNOMED, "82918005"), (SNOMED, "450436003"), (LOINC, "44139-4")}
SURGICAL_CONSULT = {(SNOMED, "103696004"), (SNOMED, "306181000"), (SNOMED, "183545006")}


class Fact(msgspec.Struct, omit_defaults=True):
    value: Any
    source: str  # "Observation/123, 2025-05-30"


class SetAside(msgspec.Struct):
    fact: str
    source: str
    why: str


class EhrFacts(msgspec.Struct, omit_defaults=True):
    """What the EHR said of the patient, each fact with its source; what was set aside, with why."""

    facts: dict[str, Fact] = msgspec.field(default_factory=dict)
    set_aside: list[SetAside] = msgspec.field(default_factory=list)
    bone_metastasis: bool | None = None
    lung_cancer: bool | None = None

    def value(self, name: str) -> Any:
        fact = self.facts.get(name)
        return None if fact is None else fact.value


def codings(concept: Any) -> set[tuple[str, str]]:
    if not isinstance(concept, dict):
        return set()
    return {(c.get("system", ""), c.get("code", "")) for c in concept.get("coding") or [] if isinstance(c, dict)}


def resources(value: Any) -> list[dict[str, Any]]:
    """A prefetch value (a resource, a searchset Bundle, None) -> its resources; OperationOutcomes dropped."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        found = [e.get("resource") for e in value.get("entry") or [] if isinstance(e, dict)]
        return [r for r in found if isinstance(r, dict) and r.get("resourceType") != "OperationOutcome"]
    return [] if value.get("resourceType") == "OperationOutcome" else [value]


def _date(text: Any) -> dt.date | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def effective_date(resource: dict[str, Any]) -> dt.date | None:
    for key in ("effectiveDateTime", "issued", "performedDateTime", "authoredOn", "occurrenceDateTime"):
        if key in resource:
            return _date(resource[key])
    for key in ("effectivePeriod", "performedPeriod"):
        if isinstance(resource.get(key), dict):
            period = resource[key]
            return _date(period.get("end") or period.get("start"))
    return None


def _ref(resource: dict[str, Any], day: dt.date | None) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}" + (f", {day.isoformat()}" if day else "")


def _quantity(obs: dict[str, Any], units: dict[str, Any]) -> tuple[float, str] | str:
    """(value, UCUM unit) of an observation's valueQuantity in one of `units`, or why it has none."""
    quantity = obs.get("valueQuantity")
    if not isinstance(quantity, dict) or not _numeric(quantity.get("value")):
        return "no numeric value"
    unit = quantity.get("code") or quantity.get("unit")
    if unit not in units:
        return f"unit {unit!r} is not one of {', '.join(units)}"
    return quantity["value"], unit


def _numeric(value: Any) -> bool:
    """A JSON number — not a boolean, which Python counts as one (true would read as 1 mg/dL)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _creatinine(obs: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    read = _quantity(obs, CREATININE_UNITS)
    if isinstance(read, str):
        return None, read
    case_unit, factor = CREATININE_UNITS[read[1]]
    value = round(read[0] * factor, 3)
    implausible = bounds.creatinine_out_of_range(value / bounds.UMOL_PER_MG_DL if case_unit == "umol_l" else value)
    return (None, implausible) if implausible else ({"value": value, "unit": case_unit}, "")


def _weight(obs: dict[str, Any]) -> tuple[float | None, str]:
    read = _quantity(obs, WEIGHT_UNITS)
    if isinstance(read, str):
        return None, read
    kg = round(read[0] * WEIGHT_UNITS[read[1]], 1)
    return (kg, "") if 20 <= kg <= 300 else (None, f"{kg} kg is outside the plausible range (20-300 kg)")


def _scale(obs: dict[str, Any], answers: dict[str, int], allowed: range) -> tuple[int | None, str]:
    value = obs.get("valueInteger")
    if value is None and isinstance(obs.get("valueQuantity"), dict):
        value = obs["valueQuantity"].get("value")
    if value is None:
        value = next((answers[code] for system, code in codings(obs.get("valueCodeableConcept"))
                      if system == LOINC and code in answers), None)
    if not _numeric(value) or int(value) != value or int(value) not in allowed:
        return None, "no value on the scale"
    return int(value), ""


READERS = {
    "creatinine": ({CREATININE_MASS, CREATININE_MOLES}, _creatinine),
    "weight_kg": ({BODY_WEIGHT}, _weight),
    "karnofsky": ({KARNOFSKY}, lambda obs: _scale(obs, KARNOFSKY_ANSWERS, range(0, 101, 10))),
    "ecog": ({ECOG}, lambda obs: _scale(obs, ECOG_ANSWERS, range(0, 6))),
}


def _observations(found: EhrFacts, observations: list[dict[str, Any]], today: dt.date) -> None:
    for name, (codes, read) in READERS.items():
        best: tuple[dt.date, Any, str] | None = None
        for obs in observations:
            if not {code for system, code in codings(obs.get("code")) if system == LOINC} & codes:
                continue
            day = effective_date(obs)
            where = _ref(obs, day)
            value, why = read(obs)
            if obs.get("status") not in USABLE_STATUS:
                why = f"status {obs.get('status')!r} (final, amended or corrected needed)"
            elif day is None:
                why = "no effective date"
            elif day > today:
                why = "dated after the evaluation"
            elif (today - day).days > WINDOW_DAYS[name]:
                why = f"older than {WINDOW_DAYS[name]} days"
            if why:
                found.set_aside.append(SetAside(fact=name, source=where, why=why))
            elif best is None or day > best[0]:  # type: ignore[operator]
                best = (day, value, where)  # type: ignore[assignment]
        if best is not None:
            found.facts[name] = Fact(value=best[1], source=best[2])


def _patient(found: EhrFacts, patient: dict[str, Any] | None, today: dt.date) -> None:
    if not patient:
        return
    where = "Patient"  # never its id: a patient reference in clear must not reach a card or the audit trail
    born = _date(patient.get("birthDate"))
    if born is None and "birthDate" in patient:
        found.set_aside.append(SetAside(fact="age", source=where, why="birthDate is not a date"))
    elif born is not None and born > today:
        found.set_aside.append(SetAside(fact="age", source=where, why="birthDate is after the evaluation"))
    if born is not None and born <= today:
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if 18 <= age <= 120:
            found.facts["age"] = Fact(value=age, source=where)
        else:
            found.set_aside.append(SetAside(fact="age", source=where, why=f"age {age} outside 18-120"))
    if patient.get("gender") in ("female", "male"):
        found.facts["sex"] = Fact(value=patient["gender"], source=where)


def _medications(found: EhrFacts, requests: list[dict[str, Any]], today: dt.date) -> None:
    """The last G-CSF prescribed (its authoredOn: a MedicationAdministration would say when it was given), and since
    when the current inhibitor course runs (its active requests only: a course stopped years ago is not this one)."""
    for name, codes in (("last_gcsf_date", GCSF), ("denosumab_since", DENOSUMAB), ("zoledronic_since", ZOLEDRONIC)):
        dated = []
        for request in requests:
            if request.get("status") in ("entered-in-error", "cancelled", "draft"):
                continue
            if name != "last_gcsf_date" and request.get("status") not in ("active", "on-hold"):
                continue
            if codings(request.get("medicationCodeableConcept")) & codes:
                day = effective_date(request)
                if day is not None and day <= today:
                    dated.append((day, _ref(request, day)))
                else:  # said, not dropped: an undated G-CSF may still forbid a PET (IMG-2)
                    found.set_aside.append(SetAside(fact=name, source=_ref(request, day), why=(
                        "no date (authoredOn)" if day is None else "dated after the evaluation")))
        if dated:
            pick = max(dated) if name == "last_gcsf_date" else min(dated)
            found.facts[name] = Fact(value=pick[0], source=pick[1])


def _procedures(found: EhrFacts, procedures: list[dict[str, Any]], today: dt.date) -> None:
    for procedure in procedures:
        if procedure.get("status") != "completed":
            continue
        day = effective_date(procedure)
        if day is None or day > today:
            continue
        name = "last_radiotherapy_date" if codings(procedure.get("code")) & RADIOTHERAPY else None
        if name is None and any(system == SNOMED and code == "387713003"
                                for system, code in codings(procedure.get("category"))):
            name = "last_surgery_date"  # category: surgical procedure
        if name and (found.value(name) is None or day > found.value(name)):
            found.facts[name] = Fact(value=day, source=_ref(procedure, day))


def _conditions(found: EhrFacts, conditions: list[dict[str, Any]]) -> None:
    active = [c for c in conditions if "resolved" not in str(c.get("clinicalStatus", ""))
              and "entered-in-error" not in str(c.get("verificationStatus", ""))]
    coded = [codings(c.get("code")) for c in active]
    found.bone_metastasis = any(c & BONE_METASTASIS for c in coded) if conditions else None
    found.lung_cancer = any(any((system == SNOMED and code in LUNG_CANCER_SNOMED) or
                                (system in ICD10 and code.startswith("C34")) for system, code in c)
                            for c in coded) if conditions else None


def read(prefetch: dict[str, Any], today: dt.date) -> EhrFacts:
    """The facts of every prefetched resource, whatever key it came under."""
    every = [r for value in prefetch.values() for r in resources(value)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in every:
        by_type.setdefault(str(resource.get("resourceType")), []).append(resource)
    found = EhrFacts()
    _patient(found, (by_type.get("Patient") or [None])[0], today)
    _observations(found, by_type.get("Observation", []), today)
    _medications(found, by_type.get("MedicationRequest", []), today)
    _procedures(found, by_type.get("Procedure", []), today)
    _conditions(found, by_type.get("Condition", []))
    return found


def case_of(found: EhrFacts, today: dt.date, findings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole-case request (domain.evaluation.Case, as JSON) the EHR's facts make, with the findings only a
    clinician holds (lesions, neurology, surgery...) merged in when the call carries them."""
    patient = {name: found.value(name) for name in ("age", "sex", "weight_kg", "creatinine", "karnofsky")
               if found.value(name) is not None}
    case: dict[str, Any] = {"evaluation_date": today.isoformat(), **(findings or {})}
    case["patient"] = {**patient, **(case.get("patient") or {})}
    antiresorptive = dict(case.get("antiresorptive") or {})
    since = found.value("denosumab_since")
    if since is not None and "denosumab_months" not in antiresorptive:
        antiresorptive["denosumab_months"] = round((today - since).days / 30.4375, 1)
    first = min((d for d in (since, found.value("zoledronic_since")) if d is not None), default=None)
    if first is not None and "months_on_treatment" not in antiresorptive:  # already on an inhibitor (AR-5..7)
        antiresorptive["months_on_treatment"] = round((today - first).days / 30.4375, 1)
    if antiresorptive:
        case["antiresorptive"] = antiresorptive
    if found.value("last_gcsf_date") is not None:
        imaging = dict(case.get("imaging") or {})
        imaging.setdefault("last_gcsf_date", found.value("last_gcsf_date").isoformat())
        case["imaging"] = imaging
    return case
