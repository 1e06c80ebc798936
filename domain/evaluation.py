"""A whole patient case -> every applicable score per lesion and every pathway's recommendations,
de-duplicated and ordered by urgency (cord compression first).

Facts shared by several pathways (age, life expectancy, evaluation date...) are given once, on the case,
and handed to each pathway that uses them; a pathway's own block may repeat one only if it agrees.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from domain import version
from domain.model import FieldProblem, InputRejected, Language, ScoreResult, Struct
from domain.model import Inputs as InputsBase
from domain.model import Warning as EngineWarning
from domain.pathways import (
    antiresorptive,
    cord_compression,
    imaging,
    interventional,
    long_bone,
    radiotherapy,
    spine,
    surgery,
    systemic,
    trials,
)
from domain.pathways._fields import LIFE_EXPECTANCY_MONTHS, LIFE_EXPECTANCY_WEEKS, opt
from domain.pathways._rules import NotEvaluable, PathwayRecommendation, PathwayResult
from domain.scores import frankel, rades

# Earlier in this list = more urgent; a rule id is ranked by the first entry it starts with.
URGENCY = ("MSCC-1", "MSCC-2", "MSCC-3", "MSCC-4", "MSCC-5", "LB-1", "SP-3", "LB-4", "LB-5", "SP-1", "SP-2",
           "LB-3", "SURG-", "RT-2", "RT-3", "LB-2", "SP-4", "RT-1", "IR-", "RT-4", "SYS-", "AR-", "IMG-", "TRIAL-")
AMBULATORY = {rades.MotorFunction.AMBULATORY_WITHOUT_AID: True, rades.MotorFunction.AMBULATORY_WITH_AID: True,
              rades.MotorFunction.NOT_AMBULATORY: False, rades.MotorFunction.PARAPLEGIC: False}


# A whole case a clinician's system could send (documentation: OpenAPI example).
EXAMPLE = {
    "evaluation_date": "2025-06-01",
    "patient": {"age": 58, "sex": "female", "weight_kg": 62, "creatinine": {"value": 70, "unit": "umol_l"},
                "karnofsky": 80, "life_expectancy_months": 24},
    "disease": {"bone_metastases": 2, "metastatic_sites": 1, "visceral_metastases": False},
    "lesions": [
        {"id": "femur-R", "kind": "long_bone", "long_bone": {
            "pathological_fracture": False, "location": "proximal_femur",
            "mirels": {"site": "peritrochanteric", "pain": "functional", "lesion": "lytic",
                       "cortical_destruction_fraction": 0.5}}},
        {"id": "T12", "kind": "spine", "spine": {
            "vertebral_involvement": True, "compression_fracture": True, "posterior_wall_retropulsion": False,
            "pain_uncontrolled": True, "cord_threat": False,
            "sins": {"level": "T12", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
                     "collapse_percent": 30, "posterolateral": "none"}}},
    ],
    "surgery": {"tomita": {"growth": "moderate", "visceral_metastases": "none", "bone_metastases": "multiple"}},
    "antiresorptive": {"urgent": False},
}

class LesionKind(StrEnum):
    LONG_BONE = "long_bone"
    SPINE = "spine"


class Lesion(Struct, forbid_unknown_fields=True):
    """One bone lesion: long-bone (or pelvic) or spinal, with what each of its pathways needs."""

    id: Annotated[str, Meta(min_length=1, max_length=64, description="The caller's name for the lesion.")]
    kind: Annotated[LesionKind, Meta(description="Which pathway routes it.")]
    long_bone: opt(long_bone.Inputs, "Long-bone findings (kind long_bone).") = None
    spine: opt(spine.Inputs, "Spinal findings (kind spine).") = None
    radiotherapy: opt(radiotherapy.Inputs, "Radiotherapy findings and history of this lesion.") = None
    interventional: opt(interventional.Inputs, "Interventional radiology findings.") = None


class Patient(Struct, forbid_unknown_fields=True):
    age: opt(int, "Age in years.", ge=18, le=120) = None
    sex: opt(antiresorptive.Sex, "Sex.") = None
    weight_kg: opt(float, "Body weight in kg.", gt=20, le=400) = None
    creatinine: opt(antiresorptive.Creatinine, "Current serum creatinine, unit named.") = None
    karnofsky: opt(int, "Karnofsky performance status.", ge=0, le=100) = None
    asa_class: opt(int, "ASA physical status (1-5).", ge=1, le=5) = None
    life_expectancy_weeks: LIFE_EXPECTANCY_WEEKS = None
    life_expectancy_months: LIFE_EXPECTANCY_MONTHS = None


class Disease(Struct, forbid_unknown_fields=True):
    bone_metastases: opt(int, "Number of bone metastases.", ge=0, le=1000) = None
    metastatic_sites: opt(int, "Number of metastatic sites.", ge=0, le=1000) = None
    visceral_metastases: opt(bool, "Any visceral metastasis.") = None
    disease_stabilised: opt(bool, "Stabilised disease.") = None


class Case(InputsBase, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A whole patient case."""

    evaluation_date: Annotated[dt.date, Meta(description="The date the case is evaluated on (trials, windows).")]
    patient: opt(Patient, "The patient's data, shared by every pathway.") = None
    disease: opt(Disease, "Extent of the disease, shared by every pathway.") = None
    lesions: Annotated[list[Lesion], Meta(max_length=50, description="The bone lesions, each routed by its "
                                                                     "kind.")] = []  # noqa: RUF012
    cord_compression: opt(cord_compression.Inputs, "Neurology: cord compression, Rades, the surgery box.") = None
    frankel: opt(frankel.Grade, "Frankel grade of the patient's neurological function.") = None
    surgery: opt(surgery.Inputs, "Surgery: Tokuhashi, Tomita, functional factors.") = None
    antiresorptive: opt(antiresorptive.Inputs, "Bone-resorption inhibitor history.") = None
    imaging: opt(imaging.Inputs, "Imaging questions.") = None


class LesionResult(Struct):
    id: str
    kind: str
    scores: tuple[ScoreResult, ...]


class EvaluationResult(Struct):
    evaluation_date: dt.date
    recommendations: tuple[PathwayRecommendation, ...]
    lesions: tuple[LesionResult, ...]
    not_evaluable: tuple[NotEvaluable, ...]
    warnings: tuple[EngineWarning, ...]
    scores: tuple[ScoreResult, ...]
    rule_ids: tuple[str, ...]
    guideline_version: str
    engine_version: str
    rules_version: str


def shared_facts(case: Case) -> dict[str, Any]:
    facts: dict[str, Any] = {"evaluation_date": case.evaluation_date}
    for block in (case.patient, case.disease):
        if block is not None:
            facts.update({k: v for k, v in msgspec.structs.asdict(block).items() if v is not None})
    return facts


def complete(block: Any, kind: type, facts: dict[str, Any], path: str) -> Any:
    """`block` (or an empty `kind`) with the case's shared facts filled in where it has the field; a value
    the block repeats must agree with the case's (422 otherwise)."""
    block = block if block is not None else kind()
    changes, conflicts = {}, []
    for name in kind.__struct_fields__:
        if name not in facts:
            continue
        own = getattr(block, name)
        if own is None:
            changes[name] = facts[name]
        elif own != facts[name]:
            conflicts.append(FieldProblem(field=f"{path}.{name}", message=f"{own!r} disagrees with the case's "
                                          f"{facts[name]!r}", allowed=[msgspec.to_builtins(facts[name])]))
    if conflicts:
        raise InputRejected(conflicts, contradiction=True)
    return msgspec.structs.replace(block, **changes) if changes else block


def check_neurology(case: Case) -> None:
    """A Frankel grade and a Rades motor status that cannot both be true are a contradiction (422)."""
    motor = case.cord_compression.rades.motor_function if case.cord_compression and case.cord_compression.rades \
        else None
    grades = {g for g in (case.frankel, case.surgery.tokuhashi.frankel if case.surgery and case.surgery.tokuhashi
                          else None) if g is not None}
    problems = []
    if len(grades) > 1:
        problems.append(FieldProblem(field="surgery.tokuhashi.frankel", message="disagrees with frankel",
                                     allowed=[str(case.frankel)]))
    for grade in grades:
        if motor is not None and frankel.WALKS[grade] != AMBULATORY[motor]:
            problems.append(FieldProblem(
                field="cord_compression.rades.motor_function",
                message=f"{motor} contradicts Frankel {grade} ({frankel.DESCRIPTIONS[grade]['en'].lower()})",
                allowed=[m.value for m, walks in AMBULATORY.items() if walks == frankel.WALKS[grade]]))
    if problems:
        raise InputRejected(problems, contradiction=True)


def check_lesion_ids(case: Case) -> None:
    seen: set[str] = set()
    for index, lesion in enumerate(case.lesions):
        if lesion.id in seen:
            raise InputRejected([FieldProblem(field=f"lesions[{index}].id", message=f"lesion id {lesion.id!r} is "
                                              "used twice; each lesion needs its own")])
        seen.add(lesion.id)


def evaluate(case: Case, lang: Language = "en") -> EvaluationResult:
    check_lesion_ids(case)
    check_neurology(case)
    facts = shared_facts(case)
    results: list[tuple[str | None, PathwayResult]] = []
    lesion_results = []
    for index, lesion in enumerate(case.lesions):
        per_lesion = lesion_pathways(lesion, facts, f"lesions[{index}]", lang)
        results += [(lesion.id, r) for r in per_lesion]
        lesion_results.append(LesionResult(id=lesion.id, kind=str(lesion.kind),
                                           scores=tuple(s for r in per_lesion for s in r.scores)))
    if case.cord_compression is not None:  # a neurological question only when the case asks it
        neurology = complete(case.cord_compression, cord_compression.Inputs, facts, "cord_compression")
        results.append((None, cord_compression.evaluate(neurology, lang)))
    for module, block, path in ((surgery, case.surgery, "surgery"), (systemic, None, "disease"),
                                (antiresorptive, case.antiresorptive, "antiresorptive"),
                                (imaging, case.imaging, "imaging"), (trials, None, "trials")):
        results.append((None, module.evaluate(complete(block, module.Inputs, facts, path), lang)))
    return assemble(case, results, lesion_results)


def lesion_pathways(lesion: Lesion, facts: dict[str, Any], path: str, lang: Language) -> list[PathwayResult]:
    if lesion.kind == LesionKind.LONG_BONE:
        own = long_bone.evaluate(complete(lesion.long_bone, long_bone.Inputs, facts, f"{path}.long_bone"), lang)
        sins_total = None
    else:
        own = spine.evaluate(complete(lesion.spine, spine.Inputs, facts, f"{path}.spine"), lang)
        sins_total = own.scores[0].total if own.scores else None
    rt_facts = facts if sins_total is None else {**facts, "sins_total": sins_total}
    rt = radiotherapy.evaluate(complete(lesion.radiotherapy, radiotherapy.Inputs, rt_facts,
                                        f"{path}.radiotherapy"), lang)
    ir = interventional.evaluate(complete(lesion.interventional, interventional.Inputs, facts,
                                          f"{path}.interventional"), lang)
    return [own, rt, ir]


def urgency(rule_id: str) -> int:
    return next((rank for rank, prefix in enumerate(URGENCY) if rule_id.startswith(prefix)), len(URGENCY))


def assemble(case: Case, results: list[tuple[str | None, PathwayResult]],
             lesions: list[LesionResult]) -> EvaluationResult:
    seen, recommendations, not_evaluable, warnings, scores = set(), [], [], {}, []
    for lesion_id, result in results:
        for rec in result.recommendations:
            key = (rec.rule_id, rec.action, lesion_id)
            if key not in seen:
                seen.add(key)
                recommendations.append(msgspec.structs.replace(rec, lesion=lesion_id))
        not_evaluable += [msgspec.structs.replace(n, lesion=lesion_id) for n in result.not_evaluable]
        for w in result.warnings:
            warnings.setdefault(w.code, w)
        scores += result.scores
    recommendations.sort(key=lambda r: urgency(r.rule_id))
    return EvaluationResult(
        evaluation_date=case.evaluation_date, recommendations=tuple(recommendations), lesions=tuple(lesions),
        not_evaluable=tuple(not_evaluable), warnings=tuple(warnings.values()), scores=tuple(scores),
        rule_ids=tuple(dict.fromkeys(r.rule_id for r in recommendations)),
        guideline_version=version.GUIDELINE_VERSION, engine_version=version.ENGINE_VERSION,
        rules_version=version.RULES_VERSION)
