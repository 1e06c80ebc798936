"""Optional pathway inputs: every pathway field may be absent, and its absence is reported, never guessed."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta


def opt(kind: Any, description: str, **constraints: Any) -> Any:
    """An optional input of type `kind`, documented and constrained (ge, le, gt...) for msgspec and OpenAPI."""
    return Annotated[kind, Meta(description=description, **constraints)] | None


LIFE_EXPECTANCY_WEEKS = opt(float, "Estimated life expectancy in weeks (or give months).", ge=0, le=5200)
LIFE_EXPECTANCY_MONTHS = opt(float, "Estimated life expectancy in months (or give weeks).", ge=0, le=1200)
