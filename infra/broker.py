"""The broker: the Celery configuration shared by the API (which only sends) and the workers (which also run the
tasks), and the one place that enqueues tasks from the API: by task name, so the API never imports workers.

The delivery settings are the ones architecture.md measured not to lose a task when a worker dies: late
acknowledgement, rejection on a lost worker, prefetch 1, and a visibility timeout far longer than any chunk (a
chunk shorter than it never runs twice at once).
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from infra.jobs import JobRow, chunks
from infra.settings import Settings


class BrokerUnavailable(RuntimeError):
    """The broker did not take the task(s): nothing was queued. `cause` is the exception's type, never its text."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = type(cause).__name__


EMBEDDED_POLL_S = 0.1


def configure(app: Celery, settings: Settings) -> Celery:
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # a publish that cannot reach the broker fails fast (the API answers 503) instead of blocking a request
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
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
            "socket_timeout": 5, "socket_connect_timeout": 3,
        }
    else:
        # The embedded transport polls its SQLite table once a second when it finds the queue empty (kombu's
        # default); a worker that has just finished a chunk then idles up to a second before the next. A tenth
        # of a second keeps the embedded default's workers busy for the price of ten cheap reads a second. Its
        # transport options go to create_engine, so the interval is set on the transport itself.
        from kombu.transport import sqlalchemy as embedded

        embedded.Transport.polling_interval = EMBEDDED_POLL_S
    app.conf.bonemets_settings = settings
    return app


def create_client(settings: Settings) -> Celery:
    """A Celery app that sends tasks by name and runs none (the API's)."""
    return configure(Celery("bonemets", broker=settings.broker_url), settings)


def ping(celery: Celery, timeout: float = 3.0) -> None:
    """Raise when the broker cannot be reached within `timeout` seconds."""
    with celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)

EVALUATE_CHUNK = "bonemets.evaluate_chunk"


def enqueue_job(celery: Any, job: JobRow, only: list[tuple[int, int]] | None = None) -> int:
    """One task per chunk of the job's lines (or the chunks `only`), called only after the job's rows are
    committed. Raises BrokerUnavailable when the broker does not take them."""
    count = 0
    try:
        with celery.producer_or_acquire() as producer:
            for start, end in (chunks(job) if only is None else only):
                celery.send_task(EVALUATE_CHUNK, args=(job.id, start, end), producer=producer,
                                 headers={"request_id": job.request_id})
                count += 1
    except Exception as exc:
        raise BrokerUnavailable(exc) from None
    return count


RENDER_REPORT = "bonemets.render_report"


def enqueue_report(celery: Any, report_id: str, request_id: str) -> None:
    """Called only after the report's row is committed. Raises BrokerUnavailable."""
    try:
        celery.send_task(RENDER_REPORT, args=(report_id,), headers={"request_id": request_id})
    except Exception as exc:
        raise BrokerUnavailable(exc) from None
