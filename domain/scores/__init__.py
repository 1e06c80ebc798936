"""The guideline's scores, one module each; SCORES maps a wire name to its module."""

from types import ModuleType

from domain.scores import frankel, mirels, rades, sins, tokuhashi, tomita

# The scores computed from an input Struct (Frankel is a grade, read into Tokuhashi's `frankel` item).
SCORES: dict[str, ModuleType] = {m.NAME: m for m in (mirels, sins, rades, tokuhashi, tomita)}

__all__ = ["SCORES", "frankel", "mirels", "rades", "sins", "tokuhashi", "tomita"]
