"""One bulk line -> the same answer its synchronous endpoint gives, or the problems that stop it.

A line is a JSON object tagged by `kind` (a score, a pathway name, or `evaluation`), optionally with the
registry's own `line_id` and a `patient_ref`; the rest is the endpoint's request body.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.kinds import KINDS, Kind
from domain.model import FieldProblem, InputRejected, Language, Struct
from domain.validation import convert, undecodable

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


class _Declared(msgspec.Struct):
    """A line's kind and id, read past a value no Python type holds (its other members are skipped unread)."""

    kind: Any = None
    line_id: Any = None


def unreadable_line(payload: str | bytes) -> Rejected:
    """A line that does not decode: malformed JSON at `$`, or a number no float holds (`1e400`) at its field, with
    the line's id when it can still be read."""
    try:
        declared = msgspec.json.decode(payload, type=_Declared)
    except msgspec.DecodeError:
        declared = _Declared()
    kind = KINDS.get(declared.kind) if isinstance(declared.kind, str) else None
    problem = undecodable(payload, kind.inputs if kind is not None else None)
    line_id = declared.line_id if problem.field != "$" else None
    return Rejected(problems=[problem], contradiction=False,
                    line_id=line_id if isinstance(line_id, str | int) and not isinstance(line_id, bool) else None)


def evaluate_line(payload: str | bytes, lang: Language) -> Evaluated | Rejected:
    try:
        data = _decode(payload)
    except msgspec.DecodeError:
        return unreadable_line(payload)
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
