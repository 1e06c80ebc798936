"""create_celery(settings): the composition root of the workers.

The delivery settings are the ones architecture.md measured not to lose a task when a worker dies:
late acknowledgement, rejection on a lost worker, prefetch 1, and a visibility timeout far longer
than any chunk (a chunk shorter than it never runs twice at once).
"""

from __future__ import annotations

from celery import Celery

from infra.settings import Settings


def create_celery(settings: Settings) -> Celery:
    app = Celery("bonemets", broker=settings.broker_url, include=["worker.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,  # structlog writes its JSON lines itself
        enable_utc=True,
    )
    if settings.broker_url.startswith(("redis://", "rediss://")):
        # Redis redelivers an unacknowledged task after the visibility timeout; kombu looks for such
        # tasks only every ~100 s unless told otherwise (architecture.md). The SQLAlchemy transport of
        # the embedded default takes no such options: it hands them to create_engine, which refuses them.
        app.conf.broker_transport_options = {
            "visibility_timeout": settings.visibility_timeout_s,
            "unacked_restore_interval": settings.unacked_restore_interval_s,
        }
    app.conf.bonemets_settings = settings
    return app
