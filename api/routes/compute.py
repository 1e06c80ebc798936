"""The synchronous compute endpoints: scores, pathways and whole-case evaluations.

Each is the same thin edge: decode into the domain's input Struct, compute in the caller's language,
audit (committed before the answer), answer with the result and its audit id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from litestar import Request, post
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Example
from litestar.params import Body

from api.audited import audit, language
from api.auth import requires
from api.responses import PROBLEM_RESPONSES, EvaluationResponse, PathwayResponse, ScoreResponse, with_audit_id
from domain import evaluation
from domain.pathways import PATHWAYS
from domain.scores import SCORES


def compute_route(*, path: str, inputs_type: type, compute: Callable[[Any, str], Any], response_type: type,
                  action: str, rule_ids: Callable[[Any], tuple[str, ...]], log_fields: Callable[[Any], dict],
                  operation_id: str, summary: str, description: str, tag: str, example: dict) -> HTTPRouteHandler:
    async def handler(request: Request, data: Any) -> Any:
        result = compute(data, language(request))
        audit_id = await audit(request, action=action, inputs=data, output=result, rule_ids=rule_ids(result))
        request.scope["bonemets"]["log"].update(log_fields(result))
        return with_audit_id(result, audit_id, response_type)

    # The request and response schemas are the domain's Structs: set them for Litestar and OpenAPI.
    body = Body(media_type=RequestEncodingType.JSON, examples=[Example(summary="A typical request", value=example)])
    handler.__annotations__ = {"request": Request, "data": Annotated[inputs_type, body], "return": response_type}
    return post(path, status_code=200, guards=[requires("scoring")], opt={"input_type": inputs_type},
                operation_id=operation_id, summary=summary, tags=[tag], responses=PROBLEM_RESPONSES,
                description=description + "\n\nThe response is returned only after its audit record is committed; "
                "its `audit_id` names that record.")(handler)


SCORE_ROUTES = [
    compute_route(path=f"/v1/scores/{m.NAME}", inputs_type=m.Inputs, compute=m.compute, response_type=ScoreResponse,
                  action="score.computed", rule_ids=lambda r: (r.recommendation.rule_id,),
                  log_fields=lambda r: {"score": r.score, "total": r.total, "band": r.band},
                  operation_id=f"compute_{m.NAME}", summary=f"Compute the {m.NAME} score",
                  description=m.__doc__ or "", tag="scores", example=m.EXAMPLE)
    for m in SCORES.values()
]
PATHWAY_ROUTES = [
    compute_route(path=f"/v1/pathways/{m.NAME}", inputs_type=m.Inputs, compute=m.evaluate,
                  response_type=PathwayResponse, action="pathway.evaluated", rule_ids=lambda r: r.rule_ids,
                  log_fields=lambda r: {"pathway": r.pathway, "rule_ids": list(r.rule_ids)},
                  operation_id=f"pathway_{m.NAME.replace('-', '_')}", summary=f"Evaluate the {m.NAME} pathway",
                  description=(m.__doc__ or "") + f"\n\nRule ids: {', '.join(m.RULE_IDS)}.", tag="pathways",
                  example=m.EXAMPLE)
    for m in PATHWAYS.values()
]
EVALUATION_ROUTE = compute_route(
    path="/v1/evaluations", inputs_type=evaluation.Case, compute=evaluation.evaluate,
    response_type=EvaluationResponse, action="evaluation.computed", rule_ids=lambda r: r.rule_ids,
    log_fields=lambda r: {"rule_ids": list(r.rule_ids), "lesions": len(r.lesions)},
    operation_id="evaluate_case", summary="Evaluate a whole case", description=evaluation.__doc__ or "",
    tag="evaluations", example=evaluation.EXAMPLE)

ROUTES = [*SCORE_ROUTES, *PATHWAY_ROUTES, EVALUATION_ROUTE]
