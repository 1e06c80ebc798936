"""What the operator's metrics read from the database and the broker when Prometheus scrapes (api.metrics): the
bulk jobs by status, each unfinished or recently finished job's counters, the audit chain's length, the broker's
queue depth. Plain reads, each bounded by a timeout of its own; the caller runs them in a thread with a deadline."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Engine, func, or_, select, text

from infra.jobs import FINISHED
from infra.tables import AuditHead, BulkJob

# every status a job can have (infra.jobs): each is reported, 0 included, so a dashboard's series never vanish
JOB_STATUSES = ("receiving", "queued", "running", "succeeded", "failed", "cancelled")


class DatabaseReading(msgspec.Struct, frozen=True):
    jobs_by_status: dict[str, int]
    # job id -> (lines done, lines failed): every unfinished job, and every job finished since the `since` asked
    progress: dict[str, tuple[int, int]]
    audit_seq: int  # the chain head's sequence number: audit records ever appended, by every process


def read_database(engine: Engine, *, finished_since: str, timeout_s: float) -> DatabaseReading:
    """One short read-only transaction; on PostgreSQL each statement is cut at `timeout_s` by the server itself
    (an abandoned read does not keep a pooled connection busy for the service's usual minute)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL statement_timeout = {max(1, round(timeout_s * 1000))}"))
        by_status = dict.fromkeys(JOB_STATUSES, 0)
        for status, count in conn.execute(select(BulkJob.status, func.count()).group_by(BulkJob.status)):
            by_status[status] = count
        progress = {job_id: (done, failed) for job_id, done, failed in conn.execute(
            select(BulkJob.id, BulkJob.done, BulkJob.failed).where(
                or_(BulkJob.status.not_in(FINISHED), BulkJob.finished_at >= finished_since)))}
        seq = conn.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar_one_or_none() or 0
    return DatabaseReading(jobs_by_status=by_status, progress=progress, audit_seq=seq)


def queue_depth(celery: Any, timeout_s: float) -> dict[str, int]:
    """Messages waiting in the task queue for a worker to take them, by queue name: the LLEN of the queue's lists
    on Redis (one per priority step), the visible rows of kombu_message on the embedded SQLAlchemy transport.
    Tasks a worker has taken and not yet acknowledged (running, or prefetched) are not counted, on either."""
    queue = celery.conf.task_default_queue
    with celery.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout_s)
        declared = conn.default_channel.queue_declare(queue=queue, durable=True, auto_delete=False)
    return {queue: int(declared.message_count)}
