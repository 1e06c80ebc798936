"""create_celery(settings): the composition root of the workers: the shared broker configuration
(infra/broker.py) and this package's tasks."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_ready

from infra.broker import configure
from infra.settings import Settings


def create_celery(settings: Settings) -> Celery:
    app = configure(Celery("bonemets", broker=settings.broker_url, include=["worker.tasks"]), settings)

    @worker_ready.connect(weak=False)
    def start_reconciler(sender: object = None, **_: object) -> None:
        """The reconciler runs beside each worker's main process (a job's lost chunks are found again)."""
        from infra.db import engine_for
        from infra.reconcile import Reconciler

        Reconciler(engine_for(settings, pool_size=1), app, settings).start()

    return app
