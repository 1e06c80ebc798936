"""One case, one truth (clinical-rules.md SAFE-10): a fact that a whole case gives in two places must agree,
else the case is refused (422) naming both fields. Facts repeated under the same name are checked where they are
handed to each pathway (domain/evaluation.py `complete`); this module checks the ones that change name or shape
between blocks: Karnofsky, visceral metastases, bone-metastasis counts, Frankel grade against motor function,
a lesion's cord compression against the case's."""

from __future__ import annotations

from typing import Any

from domain.model import FieldProblem, InputRejected
from domain.scores import frankel, rades, tomita

# Frankel grade -> the Rades motor statuses it allows (SAFE-10); E has no motor deficit, so no Rades score at all.
MOTOR_OF_GRADE: dict[frankel.Grade, frozenset[rades.MotorFunction]] = {
    frankel.Grade.A: frozenset({rades.MotorFunction.PARAPLEGIC}),
    frankel.Grade.B: frozenset({rades.MotorFunction.PARAPLEGIC}),
    frankel.Grade.C: frozenset({rades.MotorFunction.NOT_AMBULATORY}),
    frankel.Grade.D: frozenset({rades.MotorFunction.AMBULATORY_WITH_AID, rades.MotorFunction.AMBULATORY_WITHOUT_AID}),
    frankel.Grade.E: frozenset(),
}


def conflict(field: str, value: Any, other: str, other_value: Any, allowed: list[Any] | None = None) -> FieldProblem:
    return FieldProblem(field=field, message=f"{value} contradicts {other} ({other_value})", allowed=allowed)


def check(case: Any, facts: dict[str, tuple[Any, str]]) -> None:
    """`facts`: the case's facts as gathered from every block (domain/evaluation.py), each with its field."""
    problems = [*karnofsky(case, facts), *visceral(case, facts), *bone_counts(case), *neurology(case),
                *lesion_compression(case)]
    if problems:
        raise InputRejected(problems, contradiction=True)


def _blocks(case: Any) -> tuple[Any, Any, Any, Any]:
    surgery = case.surgery
    rades_inputs = case.cord_compression.rades if case.cord_compression else None
    return (case.patient, surgery.tokuhashi if surgery else None, surgery.tomita if surgery else None, rades_inputs)


def karnofsky(case: Any, facts: dict) -> list[FieldProblem]:
    _, toku, _, _ = _blocks(case)
    if "karnofsky" in facts and toku and toku.karnofsky != facts["karnofsky"][0]:
        value, source = facts["karnofsky"]
        return [conflict("surgery.tokuhashi.karnofsky", toku.karnofsky, source, value, [value])]
    return []


def visceral(case: Any, facts: dict) -> list[FieldProblem]:
    """Every statement of visceral metastases, read as present or absent, must agree with the first one."""
    _, toku, tomi, rad = _blocks(case)
    given, source = facts.get("visceral_metastases", (None, "disease.visceral_metastases"))
    stated = [(path, value) for path, value in (
        (source, given),
        ("surgery.tokuhashi.visceral_metastases", None if toku is None else toku.visceral_metastases != "none"),
        ("surgery.tomita.visceral_metastases", None if tomi is None else tomi.visceral_metastases != "none"),
        ("cord_compression.rades.visceral_metastases", None if rad is None else rad.visceral_metastases),
    ) if value is not None]
    words = {True: "visceral metastases present", False: "no visceral metastasis"}
    return [conflict(path, words[value], stated[0][0], words[stated[0][1]])
            for path, value in stated[1:] if value != stated[0][1]]


def bone_counts(case: Any) -> list[FieldProblem]:
    _, toku, tomi, _ = _blocks(case)
    count = case.disease.bone_metastases if case.disease else None
    problems = []
    if count is not None and len(case.lesions) > count:
        problems.append(conflict("lesions", f"{len(case.lesions)} bone lesions", "disease.bone_metastases", count))
    solitary = None if tomi is None else tomi.bone_metastases == tomita.Bone.SOLITARY
    if count is not None and solitary is not None and solitary != (count == 1):
        problems.append(conflict("surgery.tomita.bone_metastases", tomi.bone_metastases, "disease.bone_metastases",
                                 count, ["solitary" if count == 1 else "multiple"]))
    extraspinal_lesions = sum(1 for lesion in case.lesions if lesion.kind == "long_bone")
    if toku is not None and extraspinal_lesions > toku.extraspinal_bone_metastases:
        problems.append(conflict("lesions", f"{extraspinal_lesions} extraspinal (long-bone or pelvic) lesions",
                                 "surgery.tokuhashi.extraspinal_bone_metastases", toku.extraspinal_bone_metastases))
    if toku is not None and solitary is False and toku.extraspinal_bone_metastases + toku.vertebral_body_metastases < 2:
        problems.append(conflict("surgery.tomita.bone_metastases", "multiple",
                                 "surgery.tokuhashi extraspinal and vertebral counts",
                                 toku.extraspinal_bone_metastases + toku.vertebral_body_metastases, ["solitary"]))
    if toku is not None:
        # at least one vertebral metastasis besides the extraspinal foci (a vertebral metastasis may span bodies)
        if count is not None and toku.extraspinal_bone_metastases + 1 > count:
            problems.append(conflict("surgery.tokuhashi.extraspinal_bone_metastases",
                                     toku.extraspinal_bone_metastases, "disease.bone_metastases", count,
                                     list(range(0, count))))
        if solitary and toku.extraspinal_bone_metastases + toku.vertebral_body_metastases > 1:
            problems.append(conflict("surgery.tomita.bone_metastases", "solitary",
                                     "surgery.tokuhashi extraspinal and vertebral counts",
                                     toku.extraspinal_bone_metastases + toku.vertebral_body_metastases, ["multiple"]))
    return problems


def neurology(case: Any) -> list[FieldProblem]:
    """One Frankel grade for the case (grade or findings, case or Tokuhashi item), and a motor status for Rades
    and a deficit for MSCC-5 that the grade allows."""
    _, toku, _, rad = _blocks(case)
    grades = [(path, grade) for path, grade in (
        ("frankel", frankel.resolve(case.frankel, case.frankel_findings)),
        ("surgery.tokuhashi.frankel", frankel.resolve(toku.frankel, toku.frankel_findings, "surgery.tokuhashi.")
         if toku else None),
    ) if grade is not None]
    problems = [conflict(path, grade, grades[0][0], grades[0][1], [grades[0][1].value])
                for path, grade in grades[1:] if grade != grades[0][1]]
    if not grades:
        return problems
    path, grade = grades[0]
    allowed = MOTOR_OF_GRADE[grade]
    if rad is not None and rad.motor_function not in allowed:
        message = "no motor deficit, so no Rades score" if grade == frankel.Grade.E else sorted(allowed)
        problems.append(conflict("cord_compression.rades.motor_function", rad.motor_function, path, grade,
                                 message if isinstance(message, list) else None))
    if grade == frankel.Grade.E and case.cord_compression and case.cord_compression.deficit_hours is not None:
        problems.append(conflict("cord_compression.deficit_hours", "a neurological deficit", path,
                                 "E, no deficit"))
    return problems


def lesion_compression(case: Any) -> list[FieldProblem]:
    compressed = case.cord_compression.cord_compression if case.cord_compression else None
    if compressed is not False:
        return []
    return [conflict(f"lesions[{i}].spine.cord_compression", True, "cord_compression.cord_compression", False)
            for i, lesion in enumerate(case.lesions) if lesion.spine and lesion.spine.cord_compression]
