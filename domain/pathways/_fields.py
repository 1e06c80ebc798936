"""Optional pathway inputs: every pathway field may be absent, and its absence is reported, never guessed."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from domain import bounds


def opt(kind: Any, description: str, **constraints: Any) -> Any:
    """An optional input of type `kind`, documented and constrained (ge, le, gt...) for msgspec and OpenAPI."""
    return Annotated[kind, Meta(description=description, **constraints)] | None


# The bounded facts (SAFE-11): one definition each, in domain/bounds.py, whichever block takes them.
LIFE_EXPECTANCY_WEEKS = bounds.LIFE_EXPECTANCY_WEEKS | None
LIFE_EXPECTANCY_MONTHS = bounds.LIFE_EXPECTANCY_MONTHS | None
KARNOFSKY = bounds.KARNOFSKY | None
AGE = bounds.AGE | None
WEIGHT_KG = bounds.WEIGHT_KG | None
ASA_CLASS = bounds.ASA_CLASS | None

# SAFE-2: the findings that contraindicate cementoplasty, shared by every block that may propose it (spine,
# interventional radiology, long bone): in a whole case each is given once per lesion and handed to the others.
RETROPULSION = opt(bool, "Retropulsion of the posterior wall (worth no SINS points; contraindicates cementoplasty).")
CORD_THREAT = opt(bool, "A threat to the spinal cord at this lesion.")
CORD_COMPRESSION = opt(bool, "Spinal cord compression at this lesion (implies a threat to the cord).")
PUNCTURE_SITE_INFECTION = opt(bool, "Infection at the puncture site.")
UNCONTROLLED_SEPSIS = opt(bool, "Uncontrolled or unexplained sepsis.")
