"""The guideline's decision pathways, one module each; PATHWAYS maps a wire name to its module."""

from __future__ import annotations

from types import ModuleType

from domain.pathways import (
    antiresorptive,
    cord_compression,
    imaging,
    interventional,
    long_bone,
    radiotherapy,
    spine,
    surgery,
    systemic,
    trials,
)

PATHWAYS: dict[str, ModuleType] = {m.NAME: m for m in (long_bone, spine, cord_compression, surgery, systemic,
                                                       antiresorptive, radiotherapy, interventional, imaging,
                                                       trials)}
