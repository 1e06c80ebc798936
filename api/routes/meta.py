"""Health, catalogue and audit verification."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Request, get
from litestar.response import Response
from sqlalchemy import text

from api.audited import language
from api.auth import requires
from api.errors import problem
from api.openapi import AUTHENTICATED, problems
from domain.catalogue import catalogue
from infra import broker


@get("/health/live", tags=["health"], summary="Liveness: the process answers", exclude_from_auth=True,
     operation_id="health_live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@get("/health/ready", tags=["health"], exclude_from_auth=True, operation_id="health_ready",
     responses=problems(503),
     summary="Readiness: the database answers, the audit writer can commit, the broker takes tasks")
async def ready(request: Request) -> Response[dict[str, Any]]:
    """200 when every part can serve; 503 (problem+json, `checks` naming the failing part) otherwise."""
    state = request.app.state

    def database() -> None:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    checks: dict[str, str] = {}
    for name, probe in (("database", database), ("broker", lambda: broker.ping(state.celery))):
        try:
            with anyio.fail_after(5):
                await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
            checks[name] = "ok"
        except Exception as exc:  # the exception's type only: its text may carry a connection string
            checks[name] = f"unavailable ({type(exc).__name__})"
    writer = state.audit_writer.health(state.settings.audit_timeout_s)
    checks["audit_writer"] = "ok" if writer is None else f"unavailable ({writer})"
    failing = [name for name, outcome in checks.items() if outcome != "ok"]
    # the external checkpoint sink is reported, never a reason to stop answering: its checkpoints wait for it
    notices = {"checkpoint_sink": state.audit_writer.sink_state()}
    if failing:
        return problem(503, f"Not ready: {', '.join(failing)}.", slug="not-ready", title="Not ready",
                       extra={"checks": checks, "notices": notices}, headers={"Retry-After": "5"})
    return Response({"status": "ok", "checks": checks, "notices": notices})


@get("/v1/catalogue", opt=requires("scoring"), tags=["catalogue"], operation_id="catalogue_get",
     responses=problems(*AUTHENTICATED),
     summary="Every score: inputs, allowed values, points, bands, rule ids, citations")
async def get_catalogue(request: Request) -> dict[str, Any]:
    return catalogue(language(request))


ROUTES = [live, ready, get_catalogue]
