"""Frankel grade of neurological function (Frankel 1969); it feeds Tokuhashi's `frankel` item."""

from __future__ import annotations

from enum import StrEnum

from domain.model import FieldProblem, InputRejected, Language, Struct

NAME = "frankel"
CITATIONS = (
    "Frankel HL, Hancock DO, Hyslop G, et al. The value of postural reduction in the initial management "
    "of closed injuries of the spine with paraplegia and tetraplegia. Paraplegia. 1969;7(3):179-192. "
    "doi:10.1038/sc.1969.30",
)


class Grade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class Deficit(StrEnum):
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    NONE = "none"


DESCRIPTIONS: dict[Grade, dict[Language, str]] = {
    Grade.A: {"en": "Complete sensory and motor deficit", "fr": "Déficit sensitivo-moteur complet"},
    Grade.B: {"en": "Complete motor deficit, sensation preserved",
              "fr": "Déficit moteur complet, sensibilité préservée"},
    Grade.C: {"en": "No walking; wheelchair, some motor function",
              "fr": "Pas de déambulation ; fauteuil roulant, quelques fonctions motrices"},
    Grade.D: {"en": "Walking, with neurological signs", "fr": "Déambulation mais avec des signes neurologiques"},
    Grade.E: {"en": "Normal neurological function", "fr": "Fonctions neurologiques normales"},
}
# The guideline's grouping of grades into deficits (Tokuhashi's "neurological deficit" item).
DEFICIT = {Grade.A: Deficit.COMPLETE, Grade.B: Deficit.COMPLETE, Grade.C: Deficit.INCOMPLETE,
           Grade.D: Deficit.INCOMPLETE, Grade.E: Deficit.NONE}
WALKS = {Grade.A: False, Grade.B: False, Grade.C: False, Grade.D: True, Grade.E: True}


class Motor(StrEnum):
    """Motor function below the level."""

    NONE = "none"
    USELESS = "useless"
    USEFUL = "useful"
    NORMAL = "normal"


class Sensory(StrEnum):
    """Sensation below the level."""

    NONE = "none"
    PRESERVED = "preserved"
    NORMAL = "normal"


class Findings(Struct, forbid_unknown_fields=True):
    """The neurological findings a Frankel grade stands for (SAFE-13), for callers that record them rather than
    the grade: A no motor, no sensation; B no motor, sensation preserved; C motor useless; D motor useful;
    E normal."""

    motor: Motor
    sensory: Sensory


def grade_of(findings: Findings) -> Grade:
    """SAFE-13. Normal motor with impaired sensation is walking with neurological signs: D (a reading)."""
    if findings.motor == Motor.NONE:
        return Grade.A if findings.sensory == Sensory.NONE else Grade.B
    if findings.motor == Motor.USELESS:
        return Grade.C
    if findings.motor == Motor.USEFUL or findings.sensory != Sensory.NORMAL:
        return Grade.D
    return Grade.E


def resolve(grade: Grade | None, findings: Findings | None, prefix: str = "", *,
            required: bool = False) -> Grade | None:
    """The grade given, or read from the findings; both given must agree (422); neither, when `required`, 400."""
    if findings is None:
        if grade is None and required:
            raise InputRejected([FieldProblem(field=f"{prefix}frankel|{prefix}frankel_findings",
                                              message="give the Frankel grade or the findings it stands for",
                                              allowed=[g.value for g in Grade])])
        return grade
    derived = grade_of(findings)
    if grade is not None and grade != derived:
        raise InputRejected([FieldProblem(field=f"{prefix}frankel", message=f"{grade} disagrees with "
                             f"{prefix}frankel_findings (motor {findings.motor}, sensory {findings.sensory} -> "
                             f"{derived})", allowed=[derived.value])], contradiction=True)
    return derived


def describe(findings: Findings) -> str:
    return f"motor {findings.motor}, sensory {findings.sensory}"


class GradeResult(Struct):
    score: str
    grade: str
    deficit: str
    walks: bool
    description: str
    citations: tuple[str, ...]


def compute(grade: Grade, lang: Language = "en") -> GradeResult:
    return GradeResult(score=NAME, grade=grade.value, deficit=DEFICIT[grade].value, walks=WALKS[grade],
                       description=DESCRIPTIONS[grade][lang], citations=CITATIONS)
