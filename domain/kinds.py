"""Every kind of request the engine answers — a score, a pathway, a whole case — with its input Struct,
its computation, its audit action and the rule ids its result fired. The synchronous endpoints and the
bulk worker both read this table, so a bulk line is answered exactly as its endpoint would answer it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import evaluation
from domain.model import Struct
from domain.pathways import PATHWAYS
from domain.scores import SCORES


class Kind(Struct):
    name: str
    path: str
    inputs: type
    compute: Callable[[Any, str], Any]
    action: str
    rule_ids: Callable[[Any], tuple[str, ...]]
    example: dict[str, Any]
    description: str


def _score_rule_ids(result: Any) -> tuple[str, ...]:
    return (result.recommendation.rule_id,)


def _fired(result: Any) -> tuple[str, ...]:
    return result.rule_ids


KINDS: dict[str, Kind] = {
    **{m.NAME: Kind(name=m.NAME, path=f"/v1/scores/{m.NAME}", inputs=m.Inputs, compute=m.compute,
                    action="score.computed", rule_ids=_score_rule_ids, example=m.EXAMPLE,
                    description=m.__doc__ or "") for m in SCORES.values()},
    **{m.NAME: Kind(name=m.NAME, path=f"/v1/pathways/{m.NAME}", inputs=m.Inputs, compute=m.evaluate,
                    action="pathway.evaluated", rule_ids=_fired, example=m.EXAMPLE,
                    description=(m.__doc__ or "") + f"\n\nRule ids: {', '.join(m.RULE_IDS)}.")
       for m in PATHWAYS.values()},
    "evaluation": Kind(name="evaluation", path="/v1/evaluations", inputs=evaluation.Case,
                       compute=evaluation.evaluate, action="evaluation.computed", rule_ids=_fired,
                       example=evaluation.EXAMPLE, description=evaluation.__doc__ or ""),
}
