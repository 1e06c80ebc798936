"""Frankel grade of neurological function (Frankel 1969); it feeds Tokuhashi's `frankel` item."""

from __future__ import annotations

from enum import StrEnum

from domain.model import Language, Struct

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
