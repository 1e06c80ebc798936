"""Response bodies that add to the domain's results what only the edge knows: the audit id."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.response import Stream

from domain.evaluation import EvaluationResult
from domain.model import ScoreResult
from domain.pathways._rules import PathwayResult


class ScoreResponse(ScoreResult, frozen=True, kw_only=True):
    audit_id: str


class PathwayResponse(PathwayResult, frozen=True, kw_only=True):
    audit_id: str


class EvaluationResponse(EvaluationResult, frozen=True, kw_only=True):
    audit_id: str


class FieldError(msgspec.Struct):
    field: str
    message: str
    allowed: list[Any] | None


class Problem(msgspec.Struct):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


RESPONSE_TYPES = {"score.computed": ScoreResponse, "pathway.evaluated": PathwayResponse,
                  "evaluation.computed": EvaluationResponse}



class TypedStream(Stream):
    """A streamed body whose own media type wins over the route's: Litestar 2 lets the route's (JSON by default)
    override it, which sent NDJSON and CSV exports as application/json (issue 11)."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)
