"""Versions stamped on every result, so an audit record reproduces the recommendation years later."""

# The guideline the rules restate (OncoBFC / NEON / ONCORIF, state of knowledge at 2024-09-17).
GUIDELINE_VERSION = "oncobfc-neon-oncorif-2024-09-17"
# Bumped whenever a table, a band or a rule of domain/ changes meaning.
RULES_VERSION = "2026.11.1"
ENGINE_VERSION = "0.1.0"
