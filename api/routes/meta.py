"""Health, catalogue and audit verification."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
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
from infra import broker, heartbeat


@get("/health/live", tags=["health"], summary="Liveness: the process answers", exclude_from_auth=True,
     operation_id="health_live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


READY_CACHE_S = 2.0  # probes within this reuse the last checks of the database, broker and workers
PROBE_TIMEOUT_S = 2.0  # each check's bound; side by side, so a probe answers within the compose check's 3 s


@get("/health/ready", tags=["health"], exclude_from_auth=True, operation_id="health_ready",
     responses=problems(503),
     summary="Readiness: the database answers, the audit writer can commit, the broker takes tasks; the workers "
             "alive")
async def ready(request: Request) -> Response[dict[str, Any]]:
    """200 when the API can serve (`status` ok, or degraded when no worker is alive: bulk jobs and reports then wait
    in the queue); 503 (problem+json, `checks` naming the failing part) when it cannot. `workers`: each worker seen
    within three heartbeat periods, with the seconds since its last heartbeat."""
    state = request.app.state
    probes = state.get("readiness_probes")
    if probes is None:
        probes = state.readiness_probes = Probes()
    checks, workers = await probes.current(state)
    checks = dict(checks)
    writer = state.audit_writer.health(state.settings.audit_timeout_s)  # in memory: fresh on every probe
    checks["audit_writer"] = "ok" if writer is None else f"unavailable ({writer})"
    failing = [name for name, outcome in checks.items() if outcome != "ok"]
    # reported, never a reason to stop answering: the external checkpoint sink (its checkpoints wait for it), and
    # the workers (the API still computes every synchronous answer; queued work waits for a worker)
    notices = {"checkpoint_sink": state.audit_writer.sink_state()}
    listed = [{"name": w.name, "pid": w.pid, "last_seen_s": w.last_seen_s} for w in workers] \
        if isinstance(workers, list) else []
    if not listed:
        window = heartbeat.WINDOW_PERIODS * state.settings.worker_heartbeat_s
        notices["workers"] = (workers if isinstance(workers, str) else
                              f"no worker seen in the last {window:g} s: bulk jobs and reports are queued, not run")
    if failing:
        return problem(503, f"Not ready: {', '.join(failing)}.", slug="not-ready", title="Not ready",
                       extra={"checks": checks, "workers": listed, "notices": notices}, headers={"Retry-After": "5"})
    return Response({"status": "ok" if listed else "degraded", "checks": checks, "workers": listed,
                     "notices": notices})


class Probes:
    """The database, broker and workers checks of one API process: run side by side, each within PROBE_TIMEOUT_S
    (a thread left behind by a hung connection ends with its own socket timeout), shared by every probe arriving
    meanwhile, and reused for READY_CACHE_S: a storm of probes costs one check, and a probe never hangs."""

    def __init__(self) -> None:
        self._checked_at = -math.inf
        self._last: tuple[dict[str, str], list[heartbeat.SeenWorker] | str] = ({}, [])
        self._running: asyncio.Future[tuple[dict[str, str], list[heartbeat.SeenWorker] | str]] | None = None

    async def current(self, state: Any) -> tuple[dict[str, str], list[heartbeat.SeenWorker] | str]:
        if time.monotonic() - self._checked_at < READY_CACHE_S:
            return self._last
        if self._running is None:
            self._running = asyncio.ensure_future(self._check(state))
        return await asyncio.shield(self._running)

    async def _check(self, state: Any) -> tuple[dict[str, str], list[heartbeat.SeenWorker] | str]:
        window = heartbeat.WINDOW_PERIODS * state.settings.worker_heartbeat_s

        def database() -> list[heartbeat.SeenWorker] | str:
            with state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                try:
                    return heartbeat.alive(conn, window)
                except Exception as exc:  # the database answers, its heartbeat table does not (not migrated?)
                    return f"workers unknown ({type(exc).__name__})"

        try:
            (db, workers), (queue, _) = await asyncio.gather(
                _bounded(database), _bounded(lambda: broker.ping(state.celery, timeout=PROBE_TIMEOUT_S)))
            self._last = {"database": db, "broker": queue}, (
                workers if workers is not None else "workers unknown: the database does not answer")
            self._checked_at = time.monotonic()
            return self._last
        finally:
            self._running = None


async def _bounded(probe: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", what the probe returned), or ("unavailable (...)", None) when it failed or took too long."""
    try:
        with anyio.fail_after(PROBE_TIMEOUT_S):
            return "ok", await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
    except TimeoutError:
        return f"unavailable (no answer within {PROBE_TIMEOUT_S:g} s)", None
    except Exception as exc:  # the exception's type only: its text may carry a connection string
        return f"unavailable ({type(exc).__name__})", None


@get("/v1/catalogue", opt=requires("scoring"), tags=["catalogue"], operation_id="catalogue_get",
     responses=problems(*AUTHENTICATED),
     summary="Every score: inputs, allowed values, points, bands, rule ids, citations")
async def get_catalogue(request: Request) -> dict[str, Any]:
    return catalogue(language(request))


ROUTES = [live, ready, get_catalogue]
