"""The one place that enqueues Celery tasks from the API: by task name, so the API never imports workers."""

from __future__ import annotations

from typing import Any

from infra.jobs import JobRow, chunks

EVALUATE_CHUNK = "bonemets.evaluate_chunk"


def enqueue_job(celery: Any, job: JobRow) -> int:
    """One task per chunk of the job's lines, called only after the job's rows are committed."""
    count = 0
    with celery.producer_or_acquire() as producer:
        for start, end in chunks(job):
            celery.send_task(EVALUATE_CHUNK, args=(job.id, start, end), producer=producer,
                             headers={"request_id": job.request_id})
            count += 1
    return count


RENDER_REPORT = "bonemets.render_report"


def enqueue_report(celery: Any, report_id: str, request_id: str) -> None:
    """Called only after the report's row is committed."""
    celery.send_task(RENDER_REPORT, args=(report_id,), headers={"request_id": request_id})
