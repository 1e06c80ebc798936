"""One bulk line -> the same answer its synchronous endpoint gives, or the problems that stop it.

A line is a JSON object tagged by `kind` (a score, a pathway name, or `evaluation`), optionally with the
registry's own `line_id` and a `patient_ref`; the rest is the endpoint's request body.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.kinds import KINDS, Kind
from domain.model import FieldProblem, InputRejected, Language, Struct
from domain.validation import convert

_decode = msgspec.json.Decoder().decode


class Evaluated(Struct):
    kind: Kind
    inputs: Any
    result: Any
    line_id: str | int | None


class Rejected(Struct):
    problems: list[FieldProblem]
    contradiction: bool
    line_id: str | int | None


def evaluate_line(payload: str | bytes, lang: Language) -> Evaluated | Rejected:
    try:
        data = _decode(payload)
    except msgspec.DecodeError as exc:
        return Rejected(problems=[FieldProblem(field="$", message=f"malformed JSON: {exc}")], contradiction=False,
                        line_id=None)
    if not isinstance(data, dict):
        return Rejected(problems=[FieldProblem(field="$", message="expected a JSON object")], contradiction=False,
                        line_id=None)
    line_id = data.pop("line_id", None)
    if not isinstance(line_id, str | int | None) or isinstance(line_id, bool):
        return Rejected(problems=[FieldProblem(field="line_id", message="must be a string or an integer")],
                        contradiction=False, line_id=None)
    kind = KINDS.get(data.pop("kind", None))  # type: ignore[arg-type]
    if kind is None:
        return Rejected(problems=[FieldProblem(field="kind", message="unknown or missing kind",
                                               allowed=sorted(KINDS))], contradiction=False, line_id=line_id)
    try:
        inputs = convert(data, kind.inputs)
        return Evaluated(kind=kind, inputs=inputs, result=kind.compute(inputs, lang), line_id=line_id)
    except InputRejected as rejected:
        return Rejected(problems=rejected.problems, contradiction=rejected.contradiction, line_id=line_id)
