"""Celery tasks: ids in, ids out, idempotent. Bulk evaluation and PDF tasks arrive with their issues."""

from celery import shared_task


@shared_task(name="bonemets.ping")
def ping() -> str:
    """A no-op the readiness checks and the embedded run use to prove a worker consumes the queue."""
    return "pong"
