"""Report storage: the report rows, their sources (an audit record, a finished bulk job), and the one
transaction that stores a rendered PDF together with the audit record of its SHA-256."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
from sqlalchemy import Engine, insert, select, tuple_, update

from infra.audit import append_chained, lock_head, new_id
from infra.audit import entry as audit_entry
from infra.db import placeholder, raw_transaction
from infra.jobs import now, result_bodies
from infra.tables import AuditRecord, BulkJob, Report

REPORTABLE_ACTIONS = ("score.computed", "pathway.evaluated", "evaluation.computed", "cds.answered")


def reported_output(record: dict[str, Any]) -> Any:
    """What a patient report shows of an audited answer: the answer itself, or a CDS Hooks call's evaluation (its
    cards are the EHR's rendering of it)."""
    output = msgspec.json.decode(record["output_json"])
    return output["evaluation"] if record["action"] == "cds.answered" else output


def reported_inputs(record: dict[str, Any]) -> bytes | None:
    """The audited inputs of the answer a patient report shows (None for a CDS Hooks call: its inputs are FHIR
    resources, and the report then prints the answer's words as recorded)."""
    if record["action"] == "cds.answered":
        return None
    raw = record["input_json"]
    return raw.encode() if isinstance(raw, str) else raw


class ReportRow(msgspec.Struct, frozen=True):
    id: str
    client: str
    kind: str
    status: str
    language: str
    source_audit_id: str | None
    job_id: str | None
    request_id: str
    created_at: str
    finished_at: str | None
    sha256: str | None
    error: str | None


def _row(mapping: Any) -> ReportRow:
    return ReportRow(**{f: mapping[f] for f in ReportRow.__struct_fields__})


def create_report(engine: Engine, *, client: str, kind: str, language: str, request_id: str,
                  source_audit_id: str | None = None, job_id: str | None = None) -> ReportRow:
    report_id = new_id()
    with engine.begin() as conn:
        conn.execute(insert(Report).values(
            id=report_id, client=client, kind=kind, status="queued", language=language, request_id=request_id,
            source_audit_id=source_audit_id, job_id=job_id, created_at=now()))
    return get_report(engine, report_id)


def delete_report(engine: Engine, report_id: str) -> None:
    """Remove a report row that could not be queued (nothing was rendered or audited for it)."""
    with engine.begin() as conn:
        conn.execute(Report.__table__.delete().where(Report.id == report_id, Report.status == "queued"))


def list_reports(engine: Engine, client: str, after: tuple[str, str] | None, limit: int) -> list[ReportRow]:
    """The client's reports, oldest first, after the keyset (created_at, id); never their PDFs."""
    query = select(*(getattr(Report, f) for f in ReportRow.__struct_fields__)).where(Report.client == client)
    if after is not None:
        query = query.where(tuple_(Report.created_at, Report.id) > tuple_(*after))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(Report.created_at, Report.id).limit(limit)).all()
    return [_row(row._mapping) for row in rows]


def get_report(engine: Engine, report_id: str, client: str | None = None) -> ReportRow | None:
    query = select(*(getattr(Report, f) for f in ReportRow.__struct_fields__)).where(Report.id == report_id)
    if client is not None:
        query = query.where(Report.client == client)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _row(row._mapping) if row else None


def find_report(engine: Engine, client: str, source_audit_id: str, language: str) -> ReportRow | None:
    """The newest patient report of this answer in this language, if one was asked for (a failed one too: a link
    opened again says it failed, rather than render it again and again)."""
    query = select(*(getattr(Report, f) for f in ReportRow.__struct_fields__)).where(
        Report.client == client, Report.source_audit_id == source_audit_id, Report.language == language,
        Report.kind == "patient").order_by(Report.created_at.desc()).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _row(row._mapping) if row else None


def report_pdf(engine: Engine, report_id: str) -> bytes | None:
    with engine.connect() as conn:
        return conn.execute(select(Report.pdf).where(Report.id == report_id)).scalar_one_or_none()


def audit_source(engine: Engine, audit_id: str, client: str) -> dict[str, Any] | None:
    """The audited answer a patient report is made of, if this client received it (else None: 404)."""
    with engine.connect() as conn:
        row = conn.execute(select(AuditRecord).where(AuditRecord.id == audit_id, AuditRecord.client == client,
                                                     AuditRecord.action.in_(REPORTABLE_ACTIONS))).first()
    return dict(row._mapping) if row else None


def job_source(engine: Engine, job_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(BulkJob).where(BulkJob.id == job_id)).first()
    return dict(row._mapping) if row else None


def job_result_lines(engine: Engine, job_id: str) -> Iterator[dict[str, Any]]:
    for bodies in result_bodies(engine, job_id):
        yield from map(json.loads, bodies)


def store_rendered(engine: Engine, report: ReportRow, pdf: bytes, sha256: str, patient_hash: str | None,
                   checkpoints: Any = None) -> None:
    """The PDF and the audit record of its hash, committed together (report.rendered)."""
    entry = audit_entry(
        client=report.client, roles="registry" if report.kind == "registry" else "scoring",
        endpoint=f"render report ({report.kind})", action="report.rendered", request_id=report.request_id,
        patient_hash=patient_hash, job_id=report.job_id,
        inputs=json.dumps({"report_id": report.id, "source_audit_id": report.source_audit_id,
                           "job_id": report.job_id, "language": report.language}, sort_keys=True),
        output=json.dumps({"report_id": report.id, "sha256": sha256, "bytes": len(pdf)}, sort_keys=True))
    dialect, mark = engine.dialect.name, placeholder(engine)
    with raw_transaction(engine, checkpoints) as cursor:
        append_chained(cursor, dialect, lock_head(cursor, dialect), [entry], checkpoints)
        cursor.execute(f"UPDATE report SET status = 'ready', pdf = {mark}, sha256 = {mark}, finished_at = {mark} "
                       f"WHERE id = {mark}", (pdf, sha256, now(), report.id))


def mark_failed(engine: Engine, report_id: str, error: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(Report).where(Report.id == report_id).values(status="failed", error=error,
                                                                         finished_at=now()))
