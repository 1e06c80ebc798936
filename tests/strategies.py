"""Hypothesis strategies drawn from the domain's own input Structs (the wire schema), as JSON values: any
input a client could validly send, decoded by the same path as the API's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st
from msgspec import inspect as mi

MAX_LIST = 3


def _creatinine() -> st.SearchStrategy[dict[str, Any]]:
    """A plausible creatinine, which depends on its unit (a check msgspec's schema cannot carry)."""
    from domain.bounds import CREATININE_MG_DL_RANGE, UMOL_PER_MG_DL

    low, high = CREATININE_MG_DL_RANGE
    return st.one_of(
        st.builds(lambda v: {"value": v, "unit": "mg_dl"}, st.floats(low, high)),
        st.builds(lambda v: {"value": v, "unit": "umol_l"},
                  st.floats(low * UMOL_PER_MG_DL * 1.001, high * UMOL_PER_MG_DL * 0.999)))


def _overrides() -> dict[type, Any]:
    from domain.pathways.antiresorptive import Creatinine

    return {Creatinine: _creatinine}


def json_of(annotation: Any, *, full: bool = False) -> st.SearchStrategy[Any]:
    """Valid JSON for `annotation`; with `full`, every optional field of every Struct is present (non-null),
    so that deep rules are reached far more often than by chance."""
    return _strategy(mi.type_info(annotation), full)


def _strategy(info: mi.Type, full: bool = False) -> st.SearchStrategy[Any]:
    if isinstance(info, mi.Metadata):
        return _strategy(info.type, full)
    if isinstance(info, mi.UnionType):
        kept = [t for t in info.types if not (full and isinstance(t, mi.NoneType))]
        return st.one_of([_strategy(t, full) for t in kept])
    if isinstance(info, mi.NoneType):
        return st.none()
    if isinstance(info, mi.StructType):
        override = _overrides().get(info.cls)
        return override() if override else _struct(info, full)
    if isinstance(info, mi.EnumType):
        return st.sampled_from([m.value for m in info.cls])
    if isinstance(info, mi.BoolType):
        return st.booleans()
    if isinstance(info, mi.IntType):
        low = info.ge if info.ge is not None else (info.gt + 1 if info.gt is not None else -1000)
        high = info.le if info.le is not None else (info.lt - 1 if info.lt is not None else 1000)
        step = info.multiple_of or 1
        return st.integers(-(-low // step), high // step).map(lambda n: n * step)
    if isinstance(info, mi.FloatType):
        low = info.ge if info.ge is not None else info.gt
        high = info.le if info.le is not None else info.lt
        return st.floats(low, high, exclude_min=info.gt is not None, exclude_max=info.lt is not None,
                         allow_nan=False, allow_infinity=False)
    if isinstance(info, mi.DateType):
        return st.dates(dt.date(2010, 1, 1), dt.date(2035, 12, 31)).map(dt.date.isoformat)
    if isinstance(info, mi.StrType):
        return st.text(alphabet="abcdefghij-0123456789", min_size=max(info.min_length or 0, 1),
                       max_size=min(info.max_length or 12, 12))
    if isinstance(info, mi.ListType):
        return st.lists(_strategy(info.item_type, full), max_size=min(info.max_length or MAX_LIST, MAX_LIST))
    raise NotImplementedError(info)


def _struct(info: mi.StructType, full: bool) -> st.SearchStrategy[dict[str, Any]]:
    fields = [f for f in info.fields if f.encode_name != "patient_ref"]
    required = {f.encode_name: _strategy(f.type, full) for f in fields if f.required or full}
    optional = {f.encode_name: _strategy(f.type, full) for f in fields if not (f.required or full)}
    return st.fixed_dictionaries(required, optional=optional)
