"""Decoding of client input into the domain's Structs, reporting every bad field at once.

msgspec stops at the first error; a clinician filling a form wants all of them, each with the field,
what was wrong and what is allowed. The fast path decodes once; only a failing request pays for the
field-by-field pass.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Iterator
from typing import Any, TypeVar

import msgspec
from msgspec import inspect as mi

from domain.model import FieldProblem, InputRejected

S = TypeVar("S", bound=msgspec.Struct)
_AT_PATH = re.compile(r"\s*- at `\$[^`]*`$")
_ENUMERABLE_INT_SPAN = 20  # an int range with at most this many values is listed value by value


@functools.cache
def _decoder(kind: type[S]) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(kind)


def decode(raw: bytes, kind: type[S]) -> S:
    """JSON bytes -> `kind`, or InputRejected naming every bad field."""
    try:
        decoded = _decoder(kind).decode(raw)
        top_level_patient_ref(decoded)
        return decoded
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        raise InputRejected([FieldProblem(field="$", message=f"malformed JSON: {exc}")]) from None
    raise InputRejected(problems(msgspec.json.decode(raw), kind))


def undecodable(raw: bytes | str, kind: type | None = None) -> FieldProblem:
    """Why `raw`, which does not decode, cannot be read, as one problem: a number no float holds, at its field
    (`out_of_range`); else malformed JSON, and what is wrong with its form (not a number met before it)."""
    found = out_of_range(raw, kind)
    if found is not None:
        return found
    try:
        msgspec.json.decode(raw, type=msgspec.Raw)
    except msgspec.DecodeError as form:
        return FieldProblem(field="$", message=f"malformed JSON: {str(form)[:120]}")
    except RecursionError:
        return FieldProblem(field="$", message="the body is nested too deeply")
    try:
        msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        return FieldProblem(field="$", message=f"malformed JSON: {str(exc)[:120]}")
    except RecursionError:
        return FieldProblem(field="$", message="the body is nested too deeply")
    return FieldProblem(field="$", message="malformed JSON")


def out_of_range(raw: bytes | str, kind: type | None = None) -> FieldProblem | None:
    """The field of a number JSON can write but no float can hold (`1e400`), which stops msgspec's untyped decode
    before any field is read and which it places only at `$[...]`; None when `raw` decodes, or is not JSON. With
    the `kind` the body is for, the field's accepted range (or values) is said too."""
    try:
        msgspec.json.decode(raw)
        return None
    except msgspec.ValidationError:  # the only error of an untyped decode that is not malformed JSON...
        pass
    except (msgspec.DecodeError, RecursionError):  # (nested deeper than the decoder goes: no field to name)
        return None
    try:
        msgspec.json.decode(raw, type=msgspec.Raw)  # ...unless malformed further on (read as raw, numbers are not)
    except (msgspec.DecodeError, RecursionError):
        return None
    path = _unreadable_at(raw, "", _OUT_OF_RANGE_DEPTH)
    annotation = _annotation_at(kind, path) if kind is not None else None
    bounds = accepted_range(annotation) if annotation is not None else None
    return FieldProblem(field=path or "$", message="Number out of range" + (f" (allowed: {bounds})" if bounds else ""),
                        allowed=allowed(annotation) if annotation is not None else None)


# How deep the search for that number goes: every request's fields lie within a few levels; below this depth the
# member that holds it is named (each level decodes what is under it again: bounded, for a hostile body)
_OUT_OF_RANGE_DEPTH = 8


def _unreadable_at(raw: bytes | str | msgspec.Raw, path: str, depth: int) -> str:
    """Where in `raw` (which does not decode) the number that no float holds is: each object's and array's members
    read as raw JSON, the first that does not decode walked into, `depth` levels at most."""
    if depth == 0:
        return path
    for container in (dict[str, msgspec.Raw], list[msgspec.Raw]):
        try:
            members = msgspec.json.decode(raw, type=container)
        except msgspec.ValidationError:
            continue
        keys = list(members) if isinstance(members, dict) else list(range(len(members)))
        values = [bytes(v) for v in (members.values() if isinstance(members, dict) else members)]
        low, high = 0, len(values)  # the first member that does not decode, by halves: a few decodes, not one a member
        while high - low > 1:
            middle = (low + high) // 2
            try:
                msgspec.json.decode(b"[" + b",".join(values[low:middle]) + b"]")
                low = middle
            except msgspec.ValidationError:
                high = middle
        if low < len(values):
            key = keys[low]
            sub = _join(path, key) if isinstance(key, str) else f"{path}[{key}]"
            return _unreadable_at(values[low], sub, depth - 1)
    return path


def _annotation_at(kind: type, path: str) -> Any:
    """The type a field path (`lesions[0].size`) holds in the Struct `kind`; None where the path leaves it."""
    annotation: Any = kind
    for name, _index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        options = _options(annotation)
        if name:
            annotation = next((f.type for o in options if isinstance(o, type) and issubclass(o, msgspec.Struct)
                               for f in msgspec.structs.fields(o) if f.encode_name == name), None)
        else:
            annotation = next((typing.get_args(o)[0] for o in options if typing.get_origin(o) in (list, tuple)
                               and typing.get_args(o)), None)
        if annotation is None:
            return None
    return annotation


def _options(annotation: Any) -> list[Any]:
    """The types an annotation admits, Annotated and Optional taken off (`Optional[Annotated[Patient, ...]]`:
    [Patient])."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _options(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [o for a in typing.get_args(annotation) if a is not type(None) for o in _options(a)]
    return [annotation]


def convert(data: Any, kind: type[S]) -> S:
    """An already-decoded JSON value -> `kind`, or InputRejected naming every bad field."""
    try:
        converted = msgspec.convert(data, kind)
    except msgspec.ValidationError:
        raise InputRejected(problems(data, kind)) from None
    top_level_patient_ref(converted)
    return converted


def top_level_patient_ref(inputs: msgspec.Struct) -> None:
    """A patient reference is accepted at the top level of a request only (issue 10): one nested in a block would
    reach the audit trail in clear, and escape the auditors' search by patient. 400 naming each."""
    found = list(_nested_patient_refs(inputs, "")) if _may_nest(type(inputs)) else []
    if found:
        raise InputRejected([FieldProblem(field=path, message="a patient reference is accepted only at the top "
                                          "level of a request", allowed=["patient_ref"]) for path in found])


@functools.cache
def _may_nest(kind: type) -> bool:
    """Whether a request of this type can hold a block at all (a score's flat inputs cannot: nothing to walk)."""
    return any(_mentions_struct(field.type) for field in msgspec.structs.fields(kind))


def _mentions_struct(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return True
    return any(_mentions_struct(arg) for arg in typing.get_args(annotation))


@functools.cache
def _block_fields(kind: type) -> tuple[str, ...]:
    """The fields of a Struct type that can hold a block (the only ones a nested reference can hide in)."""
    return tuple(f.name for f in msgspec.structs.fields(kind) if _mentions_struct(f.type))


def _nested_patient_refs(value: Any, path: str) -> Iterator[str]:
    for name in _block_fields(type(value)):
        child = getattr(value, name)
        children = child if isinstance(child, list) else [child]
        for index, item in enumerate(children):
            if not isinstance(item, msgspec.Struct):
                continue
            where = _join(path, name) + (f"[{index}]" if isinstance(child, list) else "")
            if getattr(item, "patient_ref", None) is not None:
                yield f"{where}.patient_ref"
            yield from _nested_patient_refs(item, where)


def problems(data: Any, kind: type, prefix: str = "") -> list[FieldProblem]:
    """Every schema violation of `data` against the Struct `kind`, field by field."""
    if not isinstance(data, dict):
        return [FieldProblem(field=prefix or "$", message="expected a JSON object")]
    fields = msgspec.structs.fields(kind)
    names = {f.encode_name for f in fields}
    found = [
        FieldProblem(field=_join(prefix, key), message="unknown field", allowed=sorted(names))
        for key in data
        if key not in names
    ]
    for f in fields:
        path = _join(prefix, f.encode_name)
        if f.encode_name not in data:
            if f.required:
                bounds = accepted_range(f.type)
                message = "required" + (f" ({bounds})" if bounds else "")
                found.append(FieldProblem(field=path, message=message, allowed=allowed(f.type)))
            continue
        found.extend(_value_problems(data[f.encode_name], f.type, path))
    if not found:  # a failure the field pass cannot place (a Struct-level check): report it whole, under the
        try:       # field its message starts with when it names one ("evaluation_date must be ...")
            msgspec.convert(data, kind)
        except msgspec.ValidationError as exc:
            message = _clean(exc)
            named = next((f.encode_name for f in fields if message.startswith(f"{f.encode_name} ")), None)
            found.append(FieldProblem(field=_join(prefix, named) if named else prefix or "$", message=message))
    return found


def _value_problems(value: Any, annotation: Any, path: str) -> list[FieldProblem]:
    info = _strip_optional(mi.type_info(annotation))
    if isinstance(info, mi.StructType) and isinstance(value, dict):
        return problems(value, info.cls, path)
    if isinstance(info, mi.ListType) and isinstance(info.item_type, mi.StructType) and isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _value_problems(v, info.item_type.cls, f"{path}[{i}]")]
    try:
        msgspec.convert(value, annotation)
    except msgspec.ValidationError as exc:
        bounds = accepted_range(annotation)
        message = _clean(exc) + (f" (allowed: {bounds})" if bounds else "")
        return [FieldProblem(field=path, message=message, allowed=allowed(annotation))]
    return []


@functools.cache
def allowed(annotation: Any) -> list[Any] | None:
    """The values a field accepts, where they can be listed: enum members, booleans, small int ranges."""
    info = _strip_optional(mi.type_info(annotation))
    if isinstance(info, mi.EnumType):
        return [member.value for member in info.cls]
    if isinstance(info, mi.BoolType):
        return [True, False]
    if isinstance(info, mi.IntType) and info.ge is not None and info.le is not None:
        step = info.multiple_of or 1
        start = -(-info.ge // step) * step
        if (info.le - start) // step <= _ENUMERABLE_INT_SPAN:
            return list(range(start, info.le + 1, step))
    return None


@functools.cache
def accepted_range(annotation: Any) -> str | None:
    """A numeric field's bounds in words, e.g. '0 <= value <= 1'; None for other fields."""
    info = _strip_optional(mi.type_info(annotation))
    if not isinstance(info, mi.IntType | mi.FloatType):
        return None
    kind = "an integer" if isinstance(info, mi.IntType) else "a number"
    bounds = [f"{op} {v}" for op, v in ((">", info.gt), (">=", info.ge), ("<", info.lt), ("<=", info.le))
              if v is not None]
    step = f", a multiple of {info.multiple_of}" if info.multiple_of else ""
    return f"{kind} {' and '.join(bounds)}{step}".strip()


def _strip_optional(info: mi.Type) -> mi.Type:
    if isinstance(info, mi.UnionType):
        kept = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(kept) == 1:
            info = kept[0]
    return info.type if isinstance(info, mi.Metadata) else info


def _clean(exc: msgspec.ValidationError) -> str:
    return _AT_PATH.sub("", str(exc))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
