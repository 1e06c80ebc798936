"""The shared vocabulary of the domain: inputs base, item scores, bands, results and input errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from domain.safety import Urgency

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "fr")


class Struct(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every result Struct: immutable, keyword-only."""


# Every date a request may carry (evaluation, surgery, G-CSF, treatment start...): one bound (SAFE-11), so
# that date arithmetic (a window of 15 or 21 days) never overflows.
DATE_RANGE = (dt.date(1900, 1, 1), dt.date(2199, 12, 31))


def _date_fields(kind: type) -> tuple[str, ...]:
    """The fields of an Inputs class that can hold a date: the only ones its bound check reads (a whole-case
    request builds dozens of blocks, most without a date)."""
    try:
        fields = msgspec.structs.fields(kind)
    except Exception:  # a type that cannot be resolved: every field is checked
        return kind.__struct_fields__
    return tuple(f.name for f in fields if _may_hold_date(f.type))


def _may_hold_date(annotation: Any) -> bool:
    return annotation is dt.date or annotation is Any or any(_may_hold_date(a) for a in typing.get_args(annotation))


_DATE_FIELDS: dict[type, tuple[str, ...]] = {}


class Inputs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every clinical request: unknown fields are errors, never silently dropped."""

    def __post_init__(self) -> None:
        low, high = DATE_RANGE
        names = _DATE_FIELDS.get(type(self))
        if names is None:
            names = _DATE_FIELDS[type(self)] = _date_fields(type(self))
        for name in names:
            value = getattr(self, name)
            if type(value) is dt.date and not low <= value <= high:
                raise ValueError(f"{name} must be a date from {low.isoformat()} to {high.isoformat()}")

    patient_ref: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=256,
                description="The caller's opaque patient identifier. Only a keyed hash (HMAC-SHA-256) "
                "of it is stored; it is never logged nor returned.",
            ),
        ]
        | None
    ) = None


class Warning(Struct):
    """A machine-readable caveat: a boundary the guideline leaves open, or a reading the engine made."""

    code: str
    message: str


class ItemScore(Struct, omit_defaults=True):
    """One scored item: its value in the score's own terms and its points. When the engine derived the
    value from another input (a vertebral level, a percentage), `derived_from` holds what was given."""

    item: str
    value: str | int | float | bool
    points: int
    derived_from: str | int | float | None = None


class Band(Struct):
    """A closed range of totals with its stable code, its rule id and the action it recommends."""

    code: str
    low: int
    high: int
    rule_id: str
    action: str


class Reason(Struct):
    """Why a decision went the way it did: a stable code and its text in the caller's language."""

    code: str
    text: str


class Recommendation(Struct, omit_defaults=True):
    """A score's recommendation: its rule, action, text and sources, whether the multidisciplinary meeting (RCP)
    decides it and how urgent it is (clinical-rules.md SAFE-6, SAFE-7). Within a pathway or a whole case, a
    safety rule may withhold it: the score keeps its total and band, and its recommendation says by what."""

    rule_id: str
    action: str
    text: str
    citations: tuple[str, ...]
    rcp_required: bool
    urgency: Urgency
    withheld_by: str | None = None
    withheld_reason: Reason | None = None


class ScoreResult(Struct):
    """What a score returns: it explains itself (items, total, band, rule, citations, versions)."""

    score: str
    total: int
    band: str
    band_meaning: str
    items: tuple[ItemScore, ...]
    recommendation: Recommendation
    warnings: tuple[Warning, ...]
    guideline_version: str
    engine_version: str
    rules_version: str


class FieldProblem(Struct):
    """One bad field of a request: where, what is wrong, and what would be accepted."""

    field: str
    message: str
    allowed: list[Any] | None = None


class InputRejected(ValueError):
    """Raised by the domain for inputs it cannot score.

    `contradiction` is True when every value is valid on its own but they disagree with each other
    (the API answers 422); otherwise the request breaks the input schema (400).
    """

    def __init__(self, problems: list[FieldProblem], *, contradiction: bool = False) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems
        self.contradiction = contradiction


@contextlib.contextmanager
def under(prefix: str) -> Iterator[None]:
    """An InputRejected raised inside names its fields under `prefix`, the block they are in (`sins.location`,
    `lesions[1].spine.cord_threat`), so that a nested score's or a lesion's problem points at the right place."""
    try:
        yield
    except InputRejected as rejected:
        raise InputRejected([msgspec.structs.replace(p, field=_under(prefix, p.field)) for p in rejected.problems],
                            contradiction=rejected.contradiction) from None


def _under(prefix: str, field: str) -> str:
    if field in ("", "$"):
        return prefix
    return "|".join(part if part.startswith(f"{prefix}.") else f"{prefix}.{part}" for part in field.split("|"))
