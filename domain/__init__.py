"""Pure clinical logic of bonemets: the guideline's scores and pathways (stdlib + msgspec only)."""
