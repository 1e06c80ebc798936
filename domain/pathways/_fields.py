"""Optional pathway inputs: every pathway field may be absent, and its absence is reported, never guessed."""

from typing import Annotated, Any

from msgspec import Meta


def opt(kind: Any, description: str, **constraints: Any) -> Any:
    """An optional input of type `kind`, documented and constrained (ge, le, gt...) for msgspec and OpenAPI."""
    return Annotated[kind, Meta(description=description, **constraints)] | None


def life_expectancy_weeks() -> Any:
    return opt(float, "Estimated life expectancy in weeks (or give months).", ge=0, le=5200)


def life_expectancy_months() -> Any:
    return opt(float, "Estimated life expectancy in months (or give weeks).", ge=0, le=1200)
