"""Every message a problem document can carry has its French (issue 12: problem details localised like the
recommendations): the validator's and the decoder's field messages for every field of every kind, and the
domain's consistency checks, each provoked here for real (domain/texts/messages.py)."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from domain.bulk import Rejected, evaluate_line
from domain.evaluation import EXAMPLE
from domain.kinds import KINDS
from domain.texts.messages import localise, translate
from domain.validation import problems
from tests.cases import VALID

BAD_VALUES: list[Any] = ["x", "", "a" * 300, 10**9, -1, 0, 1.5, 2.5, [], [1] * 60, {}, {"zzz": 1}, True, None,
                         "2020-13-45", "1800-01-01", "2999-01-01"]


def _messages_of(body: dict[str, Any], kind: type) -> list[str]:
    return [p.message for p in problems(body, kind)]


def schema_messages() -> set[str]:
    """What the validator says of every top-level field of every kind given each bad value, and of nested blocks
    given empty or unknown content: every message shape it can write."""
    found: set[str] = set()
    for kind in KINDS.values():
        found.update(_messages_of({"zzz": 1}, kind.inputs))
        for field in msgspec.structs.fields(kind.inputs):
            for value in BAD_VALUES:
                found.update(_messages_of({field.encode_name: value}, kind.inputs))
    return found


# Requests each of which a consistency check of the domain refuses (clinical-rules.md SAFE-2, SAFE-4, SAFE-10...).
def _case(**changes: Any) -> dict[str, Any]:
    case = copy.deepcopy(EXAMPLE)
    for path, value in changes.items():
        target = case
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
        target[last] = value
    return {"kind": "evaluation", **case}


CONTRADICTIONS: list[dict[str, Any]] = [
    {"kind": "sins", **{k: v for k, v in VALID["sins"].items() if k != "location"}},
    {"kind": "sins", **VALID["sins"], "level": "T6"},
    {"kind": "sins", **{k: v for k, v in VALID["sins"].items() if k != "collapse"}, "collapse_percent": 0},
    {"kind": "tokuhashi", **{k: v for k, v in VALID["tokuhashi"].items() if k != "frankel"}},
    {"kind": "tokuhashi", **VALID["tokuhashi"], "frankel_findings": {"motor": "none", "sensory": "none"}},
    {"kind": "tokuhashi", **{k: v for k, v in VALID["tokuhashi"].items() if k != "frankel"},
     "frankel_findings": {"motor": "none", "sensory": "none"}, "frankel": "E"},
    {"kind": "spine", "cord_compression": True, "cord_threat": False},
    {"kind": "spine", "life_expectancy_weeks": 10, "life_expectancy_months": 3},
    {"kind": "long-bone", "location": "pelvis", "mirels": VALID["mirels"]},
    {"kind": "long-bone", "location": "humerus", "mirels": VALID["mirels"]},
    {"kind": "antiresorptive", "creatinine": {"value": 10, "unit": "umol_l"}},
    {"kind": "imaging", "evaluation_date": "2025-06-01", "last_gcsf_date": "2025-07-01"},
    _case(patient__creatinine={"value": 0.9, "unit": "mg_dl"},
          antiresorptive__creatinine={"value": 2.0, "unit": "mg_dl"}),
    _case(lesions__1__id="femur-R"),
    _case(lesions__1__long_bone={"pathological_fracture": False}),
    _case(lesions__1__spine__cord_compression=True, lesions__1__spine__cord_threat=False),
    _case(lesions__1__interventional={"posterior_wall_retropulsion": True}),
    _case(patient__life_expectancy_months=None, patient__life_expectancy_weeks=10,
          surgery__life_expectancy_months=24),
    _case(surgery__tokuhashi={**VALID["tokuhashi"], "karnofsky": 50}),
    _case(disease__visceral_metastases=True),
    _case(disease__bone_metastases=1),
    _case(surgery__tomita={"growth": "moderate", "visceral_metastases": "none", "bone_metastases": "solitary"}),
    _case(surgery__tokuhashi={**VALID["tokuhashi"], "karnofsky": 80, "extraspinal_bone_metastases": 0,
                              "vertebral_body_metastases": 1}),
    _case(frankel="E", surgery__tokuhashi={**VALID["tokuhashi"], "karnofsky": 80, "frankel": "C"}),
    _case(frankel="E", cord_compression={"rades": {**VALID["rades"]}}),
    _case(frankel="C", cord_compression={"rades": {**VALID["rades"]}}),
    _case(frankel="E", cord_compression={"deficit_hours": 12}),
    _case(cord_compression={"cord_compression": False}, lesions__1__spine__cord_compression=True,
          lesions__1__spine__cord_threat=True),
]


def domain_messages() -> list[tuple[int, str]]:
    found = []
    for index, body in enumerate(CONTRADICTIONS):
        answer = evaluate_line(msgspec.json.encode(body), "en")
        assert isinstance(answer, Rejected), f"contradiction {index} was evaluated: {body}"
        found.extend((index, p.message) for p in answer.problems)
    return found


def test_every_schema_message_has_its_french():
    messages = schema_messages()
    assert len(messages) > 40  # the corpus reaches the validator's many shapes, not one
    untranslated = sorted(m for m in messages if translate(m) is None)
    assert untranslated == []
    for message in messages:
        assert localise(message, "fr") != message or message.isdigit(), message
        assert localise(message, "en") == message


def test_every_domain_contradiction_message_has_its_french():
    found = domain_messages()
    assert {index for index, _ in found} == set(range(len(CONTRADICTIONS)))
    untranslated = [(index, m) for index, m in found if translate(m) is None]
    assert untranslated == []
    for _, message in found:
        french = translate(message)
        assert french is not None and french != message
        # what the message names (fields, values, dates) is kept
        for token in ("lesions[1].id", "2025-07-01", "patient.creatinine", "surgery.tokuhashi.karnofsky"):
            if token in message:
                assert token in french


@pytest.mark.parametrize(("english", "french"), [
    ("Expected `int | null`, got `str`", "attendu : un entier ou null ; reçu : un texte"),
    ("Expected `int` >= 0 (allowed: an integer >= 0 and <= 100)",
     "attendu : un entier >= 0 (valeurs permises : un entier >= 0 et <= 100)"),
    ("required (a number >= 0.2 and <= 20, a multiple of 0.1)",
     "obligatoire (un nombre >= 0.2 et <= 20, multiple de 0.1)"),
    ("Invalid enum value 'osteolytic'", "valeur non reconnue 'osteolytic'"),
    ("No bulk job 0c1d.", "Aucun traitement de masse 0c1d."),
    ("This endpoint needs the 'auditor' role; the key has scoring.",
     "Ce point d'accès exige le rôle 'auditor' ; la clé a : scoring."),
    ("2 bone lesions contradicts disease.bone_metastases (1)",
     "2 lésions osseuses contredit disease.bone_metastases (1)"),
])
def test_messages_keep_their_values(english, french):
    assert translate(english) == french


def test_an_unknown_message_stays_english():
    assert translate("something nobody wrote a pattern for") is None
    assert localise("something nobody wrote a pattern for", "fr") == "something nobody wrote a pattern for"


def test_every_fixed_message_written_in_the_code_has_its_french():
    """Each constant `message=` of a FieldProblem and each constant detail of a problem() in the service's code:
    a message added without its French fails here, not in front of a French-speaking integrator."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    untranslated = []
    for package in ("api", "domain", "infra", "worker"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                texts = [kw.value for kw in node.keywords if name == "FieldProblem" and kw.arg == "message"]
                texts += node.args[1:2] if name == "problem" else []
                untranslated += [(path.name, t.value) for t in texts
                                 if isinstance(t, ast.Constant) and isinstance(t.value, str) and not translate(t.value)]
    assert not untranslated
