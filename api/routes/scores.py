"""POST /v1/scores/{score}: one score, computed synchronously and audited before it is returned."""

from __future__ import annotations

from types import ModuleType

from litestar import Request, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody

from api.audited import audit, language
from api.auth import requires
from api.responses import PROBLEM_RESPONSES, ScoreResponse, with_audit_id
from domain.scores import SCORES


def score_route(module: ModuleType) -> HTTPRouteHandler:
    Inputs = module.Inputs

    async def compute_score(request: Request, data: Inputs) -> ScoreResponse:  # type: ignore[valid-type]
        result = module.compute(data, language(request))
        audit_id = await audit(request, action="score.computed", inputs=data, output=result,
                               rule_ids=(result.recommendation.rule_id,))
        request.scope["bonemets"]["log"].update(score=result.score, total=result.total, band=result.band)
        return with_audit_id(result, audit_id)

    compute_score.__annotations__["data"] = JSONBody[Inputs]
    return post(
        f"/v1/scores/{module.NAME}",
        status_code=200,
        guards=[requires("scoring")],
        opt={"input_type": Inputs},
        operation_id=f"compute_{module.NAME}",
        summary=f"Compute the {module.NAME} score",
        description=(module.__doc__ or "") + "\n\nThe response is returned only after its audit record is "
        "committed; its `audit_id` names that record.",
        tags=["scores"],
        responses=PROBLEM_RESPONSES,
    )(compute_score)


ROUTES = [score_route(module) for module in SCORES.values()]
