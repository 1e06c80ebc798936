"""The one-line instance for `celery -A worker.main worker`: settings read from the environment here."""

from infra.settings import load_settings
from worker.celery_app import create_celery

app = create_celery(load_settings())
