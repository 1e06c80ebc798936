"""A whole patient case -> every applicable score per lesion and every pathway's recommendations, composed into
one safe answer (clinical-rules.md section 4): de-duplicated, what a safety rule removed listed as withheld,
ordered emergency -> urgent -> routine.

Facts shared by several pathways (age, life expectancy, evaluation date...) are given once, on the case, and
handed to each pathway that uses them; a lesion's findings (cord threat, retropulsion, infection...) are given
once per lesion and handed to each of its pathways; a block may repeat one only if it agrees (422 otherwise,
naming both fields).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from domain import consistency, safety, texts, version
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
from domain.pathways._fields import (
    AGE,
    ASA_CLASS,
    KARNOFSKY,
    LIFE_EXPECTANCY_MONTHS,
    LIFE_EXPECTANCY_WEEKS,
    WEIGHT_KG,
    opt,
)
from domain.pathways._rules import (
    NotEvaluable,
    PathwayRecommendation,
    PathwayResult,
    Reason,
    Withheld,
    lesion_urgency,
    raise_urgency,
    withhold_in,
)
from domain.scores import frankel

# A lesion's findings, given once and handed to every pathway of that lesion that takes them (SAFE-2).
LESION_FACTS = ("posterior_wall_retropulsion", "cord_threat", "cord_compression", "puncture_site_infection",
                "uncontrolled_sepsis")


# A whole case a clinician's system could send (documentation: OpenAPI example).
EXAMPLE = {
    "evaluation_date": "2025-06-01",
    "patient": {"age": 58, "sex": "female", "weight_kg": 62, "creatinine": {"value": 70, "unit": "umol_l"},
                "karnofsky": 80, "life_expectancy_months": 24},
    "disease": {"bone_metastases": 2, "metastatic_sites": 1, "visceral_metastases": False},
    "lesions": [
        {"id": "femur-R", "kind": "long_bone", "long_bone": {
            "pathological_fracture": False, "location": "trochanteric",
            "mirels": {"site": "peritrochanteric", "pain": "functional", "lesion": "lytic",
                       "cortical_destruction_fraction": 0.5}}},
        {"id": "T12", "kind": "spine", "spine": {
            "vertebral_involvement": True, "compression_fracture": True, "posterior_wall_retropulsion": False,
            "pain_uncontrolled": True, "cord_threat": False,
            "sins": {"level": "T12", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
                     "collapse_percent": 30, "posterolateral": "none"}}},
    ],
    "surgery": {"tomita": {"growth": "moderate", "visceral_metastases": "none", "bone_metastases": "multiple"}},
    "antiresorptive": {"urgent": False, "dental_assessment_done": False},
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
    age: AGE = None
    sex: opt(antiresorptive.Sex, "Sex.") = None
    weight_kg: WEIGHT_KG = None
    creatinine: opt(antiresorptive.Creatinine, "Current serum creatinine, unit named.") = None
    karnofsky: KARNOFSKY = None
    asa_class: ASA_CLASS = None
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
    frankel_findings: opt(frankel.Findings, "The findings the Frankel grade stands for (instead of `frankel`).") = None
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
    withheld: tuple[Withheld, ...]
    lesions: tuple[LesionResult, ...]
    not_evaluable: tuple[NotEvaluable, ...]
    warnings: tuple[EngineWarning, ...]
    scores: tuple[ScoreResult, ...]
    rule_ids: tuple[str, ...]
    guideline_version: str
    engine_version: str
    rules_version: str


Facts = dict[str, tuple[Any, str]]  # name -> (value, the field it was given in)


def shared_facts(case: Case) -> Facts:
    facts: Facts = {"evaluation_date": (case.evaluation_date, "evaluation_date")}
    for name, block in (("patient", case.patient), ("disease", case.disease)):
        if block is not None:
            facts.update({k: (v, f"{name}.{k}") for k, v in msgspec.structs.asdict(block).items() if v is not None})
    return facts


def lesion_facts(lesion: Lesion, facts: Facts, path: str) -> Facts:
    """The case's facts and the lesion's own findings, each taken from the first block that gives it."""
    own: Facts = {}
    if lesion.kind == LesionKind.SPINE:
        own["weight_bearing_long_bone"] = (False, f"{path}.kind")
    elif lesion.long_bone is not None and lesion.long_bone.location is not None:
        own["weight_bearing_long_bone"] = (lesion.long_bone.location in long_bone.WEIGHT_BEARING,
                                           f"{path}.long_bone.location")
    for block_name in ("spine", "long_bone", "interventional"):
        block = getattr(lesion, block_name)
        for name in LESION_FACTS:
            if block is not None and name not in own and getattr(block, name, None) is not None:
                own[name] = (getattr(block, name), f"{path}.{block_name}.{name}")
    return {**facts, **own}


def complete(block: Any, kind: type, facts: Facts, path: str) -> Any:
    """`block` (or an empty `kind`) with the facts filled in where it has the field; a value the block repeats
    must agree with the fact (422 otherwise, naming both fields)."""
    block = block if block is not None else kind()
    changes, conflicts = {}, []
    for name in kind.__struct_fields__:
        if name not in facts:
            continue
        value, source = facts[name]
        own = getattr(block, name)
        if own is None:
            changes[name] = value
        elif own != value and source != f"{path}.{name}":
            conflicts.append(FieldProblem(field=f"{path}.{name}", message=f"{own!r} disagrees with {source} "
                                          f"({value!r})", allowed=[msgspec.to_builtins(value)]))
    if conflicts:
        raise InputRejected(conflicts, contradiction=True)
    return msgspec.structs.replace(block, **changes) if changes else block


def check_lesion_ids(case: Case) -> None:
    seen: set[str] = set()
    for index, lesion in enumerate(case.lesions):
        if lesion.id in seen:
            raise InputRejected([FieldProblem(field=f"lesions[{index}].id", message=f"lesion id {lesion.id!r} is "
                                              "used twice; each lesion needs its own")])
        seen.add(lesion.id)


def evaluate(case: Case, lang: Language = "en") -> EvaluationResult:
    check_lesion_ids(case)
    consistency.check(case)
    facts = shared_facts(case)
    results: list[tuple[str | None, PathwayResult]] = []
    if case.cord_compression is not None:  # a neurological question only when the case asks it
        neurology = complete(case.cord_compression, cord_compression.Inputs, facts, "cord_compression")
        results.append((None, cord_compression.evaluate(neurology, lang)))
    disfavoured = surgery_disfavoured(results, lang)
    lesion_results = []
    for index, lesion in enumerate(case.lesions):
        per_lesion = lesion_pathways(lesion, facts, f"lesions[{index}]", lang)
        if disfavoured is not None and lesion.spine is not None and lesion.spine.cord_compression:
            per_lesion[0] = withhold_in(per_lesion[0], "SP-3", "surgical_opinion", by="MSCC-5", reason=disfavoured)
        results += [(lesion.id, r) for r in per_lesion]
        lesion_results.append(LesionResult(id=lesion.id, kind=str(lesion.kind),
                                           scores=tuple(s for r in per_lesion for s in r.scores)))
    for module, block, path in ((surgery, case.surgery, "surgery"), (systemic, None, "disease"),
                                (antiresorptive, case.antiresorptive, "antiresorptive"),
                                (imaging, case.imaging, "imaging"), (trials, None, "trials")):
        results.append((None, module.evaluate(complete(block, module.Inputs, facts, path), lang)))
    return assemble(case, results, lesion_results)


def surgery_disfavoured(results: list[tuple[str | None, PathwayResult]], lang: Language) -> Reason | None:
    """When MSCC-5 disfavours surgery, the reason a compressing lesion's surgical opinion is withheld: the cord
    compression pathway leads (SAFE-2, SAFE-7), and one answer never says both "exclusive radiotherapy" and
    "surgical opinion" about the same compression."""
    box = next((r for _, result in results for r in result.recommendations
                if (r.rule_id, r.action) == ("MSCC-5", "exclusive_radiotherapy")), None)
    if box is None:
        return None
    return Reason(code="surgery_disfavoured_mscc_5", text=f"{texts.reason_text('surgery_disfavoured_mscc_5', lang)} "
                  f"{' '.join(r.text for r in box.reasons)}")


def lesion_pathways(lesion: Lesion, facts: Facts, path: str, lang: Language) -> list[PathwayResult]:
    facts = lesion_facts(lesion, facts, path)
    if lesion.kind == LesionKind.LONG_BONE:
        own = long_bone.evaluate(complete(lesion.long_bone, long_bone.Inputs, facts, f"{path}.long_bone"), lang)
    else:
        own = spine.evaluate(complete(lesion.spine, spine.Inputs, facts, f"{path}.spine"), lang)
        if own.scores:
            facts = {**facts, "sins_total": (own.scores[0].total, f"{path}.spine.sins")}
    rt = radiotherapy.evaluate(complete(lesion.radiotherapy, radiotherapy.Inputs, facts, f"{path}.radiotherapy"),
                               lang)
    ir = interventional.evaluate(complete(lesion.interventional, interventional.Inputs, facts,
                                          f"{path}.interventional"), lang)
    # SAFE-7: every recommendation about the lesion inherits the lesion's highest urgency
    level = lesion_urgency(own.recommendations, own.withheld)
    return [own, *(msgspec.structs.replace(r, recommendations=tuple(raise_urgency(r.recommendations, level)),
                                           withheld=tuple(raise_urgency(r.withheld, level))) for r in (rt, ir))]


def assemble(case: Case, results: list[tuple[str | None, PathwayResult]],
             lesions: list[LesionResult]) -> EvaluationResult:
    seen, recommendations, withheld, not_evaluable, warnings, scores = set(), [], [], [], {}, []
    for lesion_id, result in results:
        for rec in result.recommendations:
            key = (rec.rule_id, rec.action, lesion_id)
            if key not in seen:
                seen.add(key)
                recommendations.append(msgspec.structs.replace(rec, lesion=lesion_id))
        withheld += [msgspec.structs.replace(w, lesion=lesion_id) for w in result.withheld]
        not_evaluable += [msgspec.structs.replace(n, lesion=lesion_id) for n in result.not_evaluable]
        for w in result.warnings:
            warnings.setdefault(w.code, w)
        scores += result.scores
    recommendations.sort(key=safety.order_key)
    withheld.sort(key=safety.order_key)
    return EvaluationResult(
        evaluation_date=case.evaluation_date, recommendations=tuple(recommendations), withheld=tuple(withheld),
        lesions=tuple(lesions), not_evaluable=tuple(not_evaluable), warnings=tuple(warnings.values()),
        scores=tuple(scores), rule_ids=tuple(dict.fromkeys(r.rule_id for r in recommendations)),
        guideline_version=version.GUIDELINE_VERSION, engine_version=version.ENGINE_VERSION,
        rules_version=version.RULES_VERSION)
