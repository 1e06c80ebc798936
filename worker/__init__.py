"""The Celery edge: messages, retries, progress. No clinical logic."""
