"""create_celery(settings): the composition root of the workers: the shared broker configuration
(infra/broker.py), this package's tasks, and beside each worker's main process the reconciler and the heartbeat."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Celery
from celery.signals import task_retry, worker_ready, worker_shutdown

from infra.broker import configure
from infra.heartbeat import Heartbeat
from infra.settings import Settings


def create_celery(settings: Settings) -> Celery:
    app = configure(Celery("bonemets", broker=settings.broker_url, include=["worker.tasks"]), settings)

    @worker_ready.connect(weak=False)
    def start_reconciler(sender: object = None, **_: object) -> None:
        """The reconciler runs beside each worker's main process (a job's lost chunks are found again)."""
        from infra.db import engine_for
        from infra.reconcile import Reconciler

        Reconciler(engine_for(settings, pool_size=1), app, settings).start()

    heartbeats: list[Heartbeat] = []

    @worker_ready.connect(weak=False)
    def start_heartbeat(sender: Any = None, **_: object) -> None:
        """Readiness lists this worker from its first heartbeat on (infra/heartbeat.py)."""
        from infra.db import engine_for

        name = getattr(sender, "hostname", None) or "celery"
        heartbeats.append(Heartbeat(engine_for(settings, pool_size=1), name, settings.worker_heartbeat_s).start())

    @task_retry.connect(weak=False)
    def log_retry(request: Any = None, reason: BaseException | None = None, **_: object) -> None:
        """A task retried after a transient error (worker.tasks.TRANSIENT): a warning the operator sees (workers
        log from WARNING up), naming the error's type only — a driver's message can carry a query's values."""
        structlog.get_logger("bonemets.worker").warning(
            "task.retry", task=getattr(request, "task", None), task_id=getattr(request, "id", None),
            error=type(getattr(reason, "exc", None) or reason).__name__, retries=getattr(request, "retries", None))

    @worker_shutdown.connect(weak=False)
    def stop_heartbeat(**_: object) -> None:
        """A worker that stops is no longer listed at once; one killed is, for three heartbeat periods."""
        while heartbeats:
            heartbeats.pop().stop()

    return app
