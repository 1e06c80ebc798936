"""The reconciler (issue 10): a job whose chunks were lost (a broker restarted without persistence, retries
exhausted during a long outage) would stay "running" for ever. Every so often, each unfinished job that has not
moved for a while has its missing chunks enqueued again (chunks are idempotent: one already done changes
nothing); a job re-enqueued too often fails, with the reason, instead of hanging."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine

from infra import broker, jobs

log = structlog.get_logger("bonemets.reconcile")


def expire(engine: Engine, days: int) -> int:
    """Delete the jobs finished more than `days` ago, with their outputs (their manifest's Expires has passed);
    their audit records stay. Returns how many went."""
    before = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    gone = jobs.expired_jobs(engine, before)
    for job_id in gone:
        jobs.delete_job(engine, job_id)
        log.info("job.expired", job_id=job_id)
    return len(gone)


def reconcile(engine: Engine, celery: Any, *, idle_s: float, max_requeues: int) -> dict[str, int]:
    """One pass: re-enqueue the missing chunks of every job idle for `idle_s`, or fail it past `max_requeues`; a
    job whose submission was never audited (its client was answered 503) is removed instead."""
    before = (datetime.now(UTC) - timedelta(seconds=idle_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    outcome = {"requeued": 0, "failed": 0, "removed": 0}
    for job in jobs.stalled_jobs(engine, before):
        if not jobs.submitted(engine, job.id):  # refused at upload, left behind by a database outage: never run
            jobs.delete_job(engine, job.id)
            log.warning("job.unsubmitted_removed", job_id=job.id)
            outcome["removed"] += 1
            continue
        missing = jobs.missing_chunks(engine, job)
        if job.requeued >= max_requeues:
            reason = (f"{sum(end - start + 1 for start, end in missing)} lines still without a result after "
                      f"{job.requeued} re-enqueues of their chunks")
            jobs.fail_job(engine, job.id, reason)
            log.error("job.failed", job_id=job.id, reason=reason)
            outcome["failed"] += 1
            continue
        try:
            broker.enqueue_job(celery, job, only=missing)
        except broker.BrokerUnavailable:
            log.warning("job.requeue_failed", job_id=job.id)
            continue
        jobs.mark_requeued(engine, job.id)
        log.warning("job.requeued", job_id=job.id, chunks=len(missing), requeued=job.requeued + 1)
        outcome["requeued"] += 1
    return outcome


class Reconciler:
    """A daemon thread that runs `reconcile` every `interval_s` (one per worker process group)."""

    def __init__(self, engine: Engine, celery: Any, settings: Any) -> None:
        self._engine, self._celery, self._settings = engine, celery, settings
        self._stop = threading.Event()

    def start(self) -> Reconciler:
        threading.Thread(target=self._run, name="bonemets-reconciler", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._settings.reconcile_interval_s):
            try:
                reconcile(self._engine, self._celery, idle_s=self._settings.reconcile_after_s,
                          max_requeues=self._settings.reconcile_max_requeues)
                expire(self._engine, self._settings.bulk_results_days)
            except Exception as exc:  # the database or the broker away: the next pass tries again
                log.warning("reconcile.failed", error=type(exc).__name__)
