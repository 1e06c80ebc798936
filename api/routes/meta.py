"""Health, catalogue and audit verification."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Request, get
from litestar.response import Response
from sqlalchemy import text

from api.audited import language
from api.auth import requires
from domain.catalogue import catalogue


@get("/health/live", tags=["health"], summary="Liveness", exclude_from_auth=True)
async def live() -> dict[str, str]:
    return {"status": "ok"}


@get("/health/ready", tags=["health"], summary="Readiness: the database answers", exclude_from_auth=True)
async def ready(request: Request) -> Response[dict[str, Any]]:
    engine = request.app.state.engine

    def ping() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await anyio.to_thread.run_sync(ping)
    except Exception as exc:
        return Response({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    return Response({"status": "ok", "database": "ok"})


@get("/v1/catalogue", opt=requires("scoring"), tags=["catalogue"],
     summary="Every score: inputs, allowed values, points, bands, rule ids, citations")
async def get_catalogue(request: Request) -> dict[str, Any]:
    return catalogue(language(request))


ROUTES = [live, ready, get_catalogue]
