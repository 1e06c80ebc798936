"""Celery tasks: ids in, ids out, idempotent (a redelivered chunk changes nothing). No clinical logic."""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import psycopg
import structlog
from celery import Task, shared_task
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from domain.bulk import Evaluated, evaluate_line
from domain.report import Trace, patient_report, registry_summary
from infra import jobs, reports
from infra import pdf as pdf_renderer
from infra.audit import AuditEntry
from infra.audit import entry as audit_record
from infra.db import engine_for
from infra.problems import problem_body
from infra.settings import Settings

log = structlog.get_logger("bonemets.worker")
_encode = msgspec.json.Encoder().encode
_engines: dict[tuple[int, str], Engine] = {}


def settings_of(task: Task) -> Settings:
    return task.app.conf.bonemets_settings


_checkpointers: dict[int, Any] = {}


def checkpointer_of(settings: Settings) -> Any:
    """One checkpoint clock per worker process."""
    return _checkpointers.setdefault(os.getpid(), settings.checkpointer())


def engine_of(settings: Settings) -> Engine:
    """One engine per worker process, made on first use (never at import, never shared across a fork)."""
    key = (os.getpid(), settings.database_url)
    if key not in _engines:
        _engines[key] = engine_for(settings, pool_size=2)
    return _engines[key]


@shared_task(name="bonemets.ping")
def ping() -> str:
    """A no-op the readiness checks and the embedded run use to prove a worker consumes the queue."""
    return "pong"


# A database that is briefly away (restart, failover, a network blip) must not lose a chunk: retry with backoff; the
# chunk is idempotent, so a retry after a commit that did happen changes nothing. SQLAlchemy's errors, and the
# driver's own: a chunk's and a report's commits speak to the driver directly (infra.db.raw_transaction: COPY, the
# chain's lock), so a connection lost under them raises psycopg's (or sqlite3's) error, not SQLAlchemy's — before,
# such a chunk waited for the reconciler (two idle minutes by default).
TRANSIENT = (OperationalError, InterfaceError, DBAPIError, psycopg.OperationalError, psycopg.InterfaceError,
             sqlite3.OperationalError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 2, "retry_backoff_max": 120, "max_retries": 12}


@shared_task(name="bonemets.evaluate_chunk", bind=True, **RETRY)
def evaluate_chunk(self: Task, job_id: str, start: int, end: int) -> int:
    started = time.perf_counter()
    settings = settings_of(self)
    engine = engine_of(settings)
    request_id = getattr(self.request, "request_id", None)  # custom message headers become request attributes
    bound = log.bind(job_id=job_id, task_id=self.request.id, request_id=request_id, start=start, end=end)
    job, lines = jobs.load_chunk(engine, job_id, start, end)
    if job is None or job.status in jobs.FINISHED or not lines:
        bound.info("task.skipped", status=job.status if job else None, pending=len(lines))
        return 0
    jobs.mark_running(engine, job_id)
    outcomes = [outcome(job, number, payload, settings, patient_hash) for number, payload, patient_hash in lines]
    done, failed = jobs.commit_chunk(engine, job_id, outcomes, checkpointer_of(settings))
    bound.info("task.evaluated", lines=len(lines), done=done, failed=failed,
               duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return done + failed


def outcome(job: jobs.JobRow, number: int, payload: str, settings: Settings,
            patient_hash: str | None = None) -> jobs.Outcome:
    """One line's stored result: the endpoint's body with its audit id, or a per-line problem document."""
    try:
        evaluated = evaluate_line(payload, job.language)  # type: ignore[arg-type]
    except Exception as exc:  # a defect of ours on this line: that line fails, never the job
        log.error("line.unexpected_error", job_id=job.id, line=number, error=type(exc).__name__)
        body = problem_body(500, "This line could not be evaluated because of an internal error; it has been "
                            "logged.", language=job.language)
        return jobs.Outcome(line=number, ok=False, audit=None,
                            body=_line(number, None, ok=False, key="error", value=body))
    if not isinstance(evaluated, Evaluated):
        status = 422 if evaluated.contradiction else 400
        body = problem_body(status, "This line cannot be evaluated.", errors=evaluated.problems, language=job.language)
        return jobs.Outcome(line=number, ok=False, audit=None,
                            body=_line(number, evaluated.line_id, ok=False, key="error", value=body))
    entry = audit_entry(job, evaluated, patient_hash)
    return jobs.Outcome(line=number, ok=True, audit=entry, body=result_line(number, evaluated.line_id, entry))


def audit_entry(job: jobs.JobRow, evaluated: Evaluated, patient_hash: str | None) -> AuditEntry:
    """The line's audit record, with the keyed hash its reference was stored as at upload (issue 10)."""
    result, inputs = evaluated.result, evaluated.inputs
    return audit_record(client=job.client, roles="registry", endpoint=f"POST /v1/bulk-jobs ({evaluated.kind.path})",
                        action=evaluated.kind.action, request_id=job.request_id, patient_hash=patient_hash,
                        inputs=msgspec.structs.replace(inputs, patient_ref=None), output=result,
                        rule_ids=evaluated.kind.rule_ids(result), versions=result, job_id=job.id)


def result_line(number: int, line_id: Any, entry: AuditEntry) -> str:
    """The line's result: the answer its audit record holds, with that record's id last (as the endpoint answers).
    The audit record's encoding of the answer is reused, not made again (issue 14: a whole case's is ~16 kB); a
    test holds it equal to encoding the answer with its id for every kind."""
    answer = entry.output_json
    if not (answer.startswith("{") and answer.endswith("}") and answer != "{}"):  # never an answer's shape today
        return _line(number, line_id, ok=True, key="result",
                     value={**msgspec.json.decode(answer), "audit_id": entry.id})
    return (f'{{"line":{number},"line_id":{_encode(line_id).decode()},"ok":true,"result":{answer[:-1]},'
            f'"audit_id":{_encode(entry.id).decode()}}}}}')


def _line(number: int, line_id: Any, *, ok: bool, key: str, value: Any) -> str:
    return _encode({"line": number, "line_id": line_id, "ok": ok, key: value}).decode()


@shared_task(name="bonemets.render_report", bind=True, **RETRY)
def render_report(self: Task, report_id: str) -> str | None:
    """Render a report and store it with the audit record of its hash; a ready report is left as it is."""
    started = time.perf_counter()
    engine = engine_of(settings_of(self))
    bound = log.bind(report_id=report_id, task_id=self.request.id, request_id=getattr(self.request, "request_id", None))
    report = reports.get_report(engine, report_id)
    if report is None or report.status == "ready":
        bound.info("task.skipped", status=report.status if report else None)
        return None
    try:
        pdf, patient_hash = render(engine, report, settings_of(self).timezone)
    except SourceMissing as exc:
        reports.mark_failed(engine, report_id, str(exc))
        bound.warning("task.report_failed", reason=str(exc))
        return None
    digest = pdf_renderer.sha256(pdf)
    reports.store_rendered(engine, report, pdf, digest, patient_hash, checkpointer_of(settings_of(self)))
    bound.info("task.rendered", kind=report.kind, bytes=len(pdf), sha256=digest,
               duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return digest


class SourceMissing(LookupError):
    pass


def render(engine: Engine, report: reports.ReportRow, timezone: str = "UTC") -> tuple[bytes, str | None]:
    """The report's PDF (and the keyed hash of its patient); times are shown in `timezone`, the deployment's."""
    if report.kind == "registry":
        job = reports.job_source(engine, report.job_id)
        if job is None:
            raise SourceMissing(f"job {report.job_id} not found")
        summary = registry_summary(job, reports.job_result_lines(engine, report.job_id), report.language,
                                   ZoneInfo(timezone))
        return pdf_renderer.render_registry_summary(summary), None
    record = reports.audit_source(engine, report.source_audit_id, report.client)
    if record is None:
        raise SourceMissing(f"audit record {report.source_audit_id} not found")
    trace = Trace(audit_id=record["id"], audit_hash=record["hash"], computed_at=record["created_at"],
                  guideline_version=record["guideline_version"], engine_version=record["engine_version"],
                  rules_version=record["rules_version"])
    document = patient_report(reports.reported_output(record), trace=trace, endpoint=record["endpoint"],
                              patient_hash=record["patient_hash"], lang=report.language,
                              inputs_json=reports.reported_inputs(record), tz=ZoneInfo(timezone))
    return pdf_renderer.render_patient_report(document), record["patient_hash"]
