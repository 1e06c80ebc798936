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
from domain.model import FieldProblem, InputRejected, Language, ScoreResult, Struct, under
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
    DAYS_PER_MONTH,
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
LESION_FACTS = ("posterior_wall_retropulsion", "cord_threat", "cord_compression", "puncture_site_infection")


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
            "pain_uncontrolled": True, "cord_threat": False, "puncture_site_infection": False,
            "uncontrolled_sepsis": False,
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

# Facts of the case that several blocks take; each is given once, or repeated only where it agrees (SAFE-10).
# A patient-level state found on one lesion (an uncontrolled sepsis) holds for every lesion.
CASE_FACTS = ("evaluation_date", "age", "sex", "weight_kg", "creatinine", "karnofsky", "asa_class",
              "life_expectancy_weeks", "life_expectancy_months", "bone_metastases", "metastatic_sites",
              "visceral_metastases", "disease_stabilised", "uncontrolled_sepsis")
# A block field that states a case or lesion fact under another name: field -> fact.
ALIASES = {"sbrt_sites": "metastatic_sites", "symptomatic_cord_compression": "cord_compression"}
LIFE_EXPECTANCY = ("life_expectancy_weeks", "life_expectancy_months")
CASE_BLOCKS = ("patient", "disease", "cord_compression", "surgery", "antiresorptive", "imaging")
LESION_BLOCKS = ("spine", "long_bone", "radiotherapy", "interventional")


def agree(name: str, value: Any, other_name: str, other: Any) -> bool:
    """Whether two statements of one fact agree: a creatinine compared in mg/dL (to 1 %, a unit's rounding), a
    life expectancy in days (to a day: 26 weeks and 6 months are one estimate), anything else exactly."""
    if isinstance(value, antiresorptive.Creatinine) and isinstance(other, antiresorptive.Creatinine):
        return abs(value.mg_dl() - other.mg_dl()) <= 0.01 * other.mg_dl()
    if name in LIFE_EXPECTANCY and other_name in LIFE_EXPECTANCY:
        days = {"life_expectancy_weeks": 7, "life_expectancy_months": DAYS_PER_MONTH}
        return abs(value * days[name] - other * days[other_name]) <= 1
    return value == other


def shown(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def gather(facts: Facts, names: tuple[str, ...], blocks: list[tuple[str, Any]]) -> list[FieldProblem]:
    """Add to `facts` each of `names` from the first block that gives it; a later block that gives it otherwise
    is a contradiction naming both fields. Life expectancy counts as one fact, in weeks or months."""
    conflicts = []
    for path, block in blocks:
        if block is None:
            continue
        for field in block.__struct_fields__:
            name = ALIASES.get(field, field)
            value = getattr(block, field)
            if name not in names or value is None:
                continue
            key = "life_expectancy" if name in LIFE_EXPECTANCY else name
            if key not in facts:
                facts[key] = (value, f"{path}.{field}") if key == name else ((name, value), f"{path}.{field}")
                continue
            known, source = facts[key]
            known_name, known_value = known if key == "life_expectancy" else (name, known)
            if not agree(name, value, known_name, known_value):
                conflicts.append(FieldProblem(field=f"{path}.{field}", message=f"{shown(value)} disagrees with "
                                 f"{source} ({shown(known_value)})", allowed=[msgspec.to_builtins(known_value)]))
    return conflicts


def shared_facts(case: Case) -> Facts:
    facts: Facts = {}
    blocks = [("evaluation_date", None), *((name, getattr(case, name)) for name in CASE_BLOCKS),
              *((f"lesions[{i}].{name}", getattr(lesion, name)) for i, lesion in enumerate(case.lesions)
                for name in LESION_BLOCKS)]
    facts["evaluation_date"] = (case.evaluation_date, "evaluation_date")
    conflicts = gather(facts, CASE_FACTS, blocks[1:])
    if conflicts:
        raise InputRejected(conflicts, contradiction=True)
    return facts


def lesion_facts(lesion: Lesion, facts: Facts, path: str) -> Facts:
    """The case's facts and the lesion's own findings, each taken from the first block that gives it."""
    own: Facts = {}
    if lesion.kind == LesionKind.SPINE:
        own["weight_bearing_long_bone"] = (False, f"{path}.kind")
        own["vertebral_involvement"] = (True, f"{path}.kind")  # a spinal lesion involves a vertebra
        own["vertebral"] = (True, f"{path}.kind")
    else:
        own["vertebral"] = (False, f"{path}.kind")
        if lesion.long_bone is not None and lesion.long_bone.location is not None:
            own["weight_bearing_long_bone"] = (lesion.long_bone.location in long_bone.WEIGHT_BEARING,
                                               f"{path}.long_bone.location")
    conflicts = gather(own, LESION_FACTS, [(f"{path}.{name}", getattr(lesion, name)) for name in LESION_BLOCKS])
    if own.get("cord_compression", (None,))[0] and own.get("cord_threat", (True,))[0] is False:
        conflicts.append(FieldProblem(field=own["cord_threat"][1], message=f"false, yet {own['cord_compression'][1]}"
                                      " is true: a compressed cord is a threatened one", allowed=[True]))
    if conflicts:
        raise InputRejected(conflicts, contradiction=True)
    return {**facts, **own}


def complete(block: Any, kind: type, facts: Facts, path: str) -> Any:
    """`block` (or an empty `kind`) with the facts filled in where it has the field (under its own name or an
    alias); a value the block repeats must agree with the fact (422 otherwise, naming both fields). A life
    expectancy reaches every block in the unit it was first given in."""
    block = block if block is not None else kind()
    changes, conflicts = {}, []
    for field in kind.__struct_fields__:
        name = ALIASES.get(field, field)
        if name in LIFE_EXPECTANCY and "life_expectancy" in facts:
            (unit, value), source = facts["life_expectancy"]
            own = getattr(block, field)
            if own is not None and not agree(field, own, unit, value):
                conflicts.append(FieldProblem(field=f"{path}.{field}", message=f"{shown(own)} disagrees with "
                                              f"{source} ({shown(value)})", allowed=[value]))
            changes[field] = value if field == unit else None
            continue
        if name not in facts:
            continue
        value, source = facts[name]
        own = getattr(block, field)
        if own is None:
            changes[field] = value
        elif not agree(name, own, name, value):
            conflicts.append(FieldProblem(field=f"{path}.{field}", message=f"{shown(own)} disagrees with {source} "
                                          f"({shown(value)})", allowed=[msgspec.to_builtins(value)]))
    if conflicts:
        raise InputRejected(conflicts, contradiction=True)
    return msgspec.structs.replace(block, **changes) if changes else block


def check_lesions(case: Case) -> None:
    """Unique ids, and findings given in the block of the lesion's own kind (a spinal block on a long-bone
    lesion would be silently ignored otherwise)."""
    seen: set[str] = set()
    for index, lesion in enumerate(case.lesions):
        if lesion.id in seen:
            raise InputRejected([FieldProblem(field=f"lesions[{index}].id", message=f"lesion id {lesion.id!r} is "
                                              "used twice; each lesion needs its own")])
        seen.add(lesion.id)
        other = "spine" if lesion.kind == LesionKind.LONG_BONE else "long_bone"
        if getattr(lesion, other) is not None:
            raise InputRejected([FieldProblem(field=f"lesions[{index}].{other}", message=f"a {other} block on a "
                                 f"lesion of kind {lesion.kind}", allowed=[str(lesion.kind)])], contradiction=True)


def evaluate(case: Case, lang: Language = "en") -> EvaluationResult:
    check_lesions(case)
    facts = shared_facts(case)
    consistency.check(case, facts)
    results: list[tuple[str | None, PathwayResult]] = []
    compressing = any(lesion.spine is not None and lesion.spine.cord_compression for lesion in case.lesions)
    if case.cord_compression is not None or compressing:  # asked by the case, or by a compressing lesion
        block = case.cord_compression or cord_compression.Inputs(cord_compression=True)
        results.append((None, pathway(cord_compression, block, facts, "cord_compression", lang)))
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
        results.append((None, pathway(module, block, facts, path, lang)))
    return assemble(case, across_pathways(results, lang), lesion_results)


def across_pathways(results: list[tuple[str | None, PathwayResult]],
                    lang: Language) -> list[tuple[str | None, PathwayResult]]:
    """What one pathway's answer forbids in another's (SAFE-1, SAFE-8, SAFE-12): no systemic inhibitor beside
    "not indicated", no SBRT trial beside "not eligible for SBRT", no surgery among the local treatments of a
    patient with under 6 weeks to live."""
    fired = {(r.rule_id, r.action) for _, result in results for r in result.recommendations}

    def reason(code: str) -> Reason:
        return Reason(code=code, text=texts.reason_text(code, lang))

    rules = []
    if ("AR-1", "antiresorptive_not_indicated") in fired:
        rules.append(("SYS-1", "systemic_antiresorptive", "AR-1", reason("antiresorptive_not_indicated")))
    if ("RT-4", "not_eligible_sbrt") in fired and ("RT-4", "sbrt_candidate") not in fired:
        rules.append(("TRIAL-2", "consider_trial_inclusion", "RT-4", reason("not_eligible_sbrt")))
    for rule_id, action, by, why in rules:
        results = [(lesion, withhold_in(result, rule_id, action, by=by, reason=why)) for lesion, result in results]
    if ("SURG-1", "no_surgery") in fired:
        note = texts.reason_text("local_treatment_without_surgery", lang)
        results = [(lesion, msgspec.structs.replace(result, recommendations=tuple(
            msgspec.structs.replace(r, text=f"{r.text} {note}") if (r.rule_id, r.action) == (
                "SYS-2", "local_treatment_options") else r for r in result.recommendations)))
            for lesion, result in results]
    return results


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


def pathway(module: Any, block: Any, facts: Facts, path: str, lang: Language) -> PathwayResult:
    """A pathway on its block of the case (the case's facts filled in); its input problems named under `path`."""
    with under(path):
        return module.evaluate(complete(block, module.Inputs, facts, path), lang)


def lesion_pathways(lesion: Lesion, facts: Facts, path: str, lang: Language) -> list[PathwayResult]:
    facts = lesion_facts(lesion, facts, path)
    if lesion.kind == LesionKind.LONG_BONE:
        own = pathway(long_bone, lesion.long_bone, facts, f"{path}.long_bone", lang)
    else:
        own = pathway(spine, lesion.spine, facts, f"{path}.spine", lang)
        if own.scores:
            facts = {**facts, "sins_total": (own.scores[0].total, f"{path}.spine.sins")}
    rt = pathway(radiotherapy, lesion.radiotherapy, facts, f"{path}.radiotherapy", lang)
    ir = pathway(interventional, lesion.interventional, facts, f"{path}.interventional", lang)
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
