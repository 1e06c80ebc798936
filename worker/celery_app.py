"""create_celery(settings): the composition root of the workers: the shared broker configuration
(infra/broker.py) and this package's tasks."""

from __future__ import annotations

from celery import Celery

from infra.broker import configure
from infra.settings import Settings


def create_celery(settings: Settings) -> Celery:
    return configure(Celery("bonemets", broker=settings.broker_url, include=["worker.tasks"]), settings)
