"""The SQLModel tables: API keys, the audit trail and its chain head."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

GENESIS_HASH = "0" * 64


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=32, description="Public key id, the prefix of the key")
    client: str = Field(max_length=128, index=True)
    roles: str = Field(max_length=128, description="Comma-separated roles: scoring, registry, auditor")
    key_hash: str = Field(max_length=64, unique=True, description="SHA-256 of the whole key")
    created_at: str = Field(max_length=32)
    revoked_at: str | None = Field(default=None, max_length=32)
    expires_at: str | None = Field(default=None, max_length=32, description="UTC; none: the key does not expire")


class AuditRecord(SQLModel, table=True):
    """One recommendation-bearing response (or event), hash-chained to the one before it."""

    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_record_created_at", "created_at"),)

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    id: str = Field(max_length=36, unique=True)
    created_at: str = Field(max_length=32, description="UTC, ISO 8601 with microseconds")
    client: str = Field(max_length=128, index=True)
    roles: str = Field(max_length=128)
    endpoint: str = Field(max_length=128)
    action: str = Field(max_length=64)
    request_id: str = Field(max_length=128)
    patient_hash: str | None = Field(default=None, max_length=64, index=True)
    input_json: str = Field(sa_column=Column(Text, nullable=False))
    output_json: str = Field(sa_column=Column(Text, nullable=False))
    rule_ids: str = Field(sa_column=Column(Text, nullable=False))
    guideline_version: str = Field(max_length=64)
    engine_version: str = Field(max_length=32)
    rules_version: str = Field(max_length=32)
    job_id: str | None = Field(default=None, max_length=36, index=True)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain head in one row: the lock every writer takes, and a check against a truncated tail."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)


class BulkJob(SQLModel, table=True):
    """A registry's batch of cases; its counters are updated by the workers in the same transaction as the
    results, so progress is exact whatever is redelivered."""

    __tablename__ = "bulk_job"
    __table_args__ = (Index("ux_bulk_job_idempotency", "client", "idempotency_key", unique=True),)

    id: str = Field(primary_key=True, max_length=36)
    client: str = Field(max_length=128, index=True)
    status: str = Field(max_length=16, description="queued, running, succeeded, failed, cancelled")
    total: int = Field(sa_column=Column(BigInteger, nullable=False))
    done: int = Field(sa_column=Column(BigInteger, nullable=False, default=0))
    failed: int = Field(sa_column=Column(BigInteger, nullable=False, default=0))
    chunk_size: int
    language: str = Field(max_length=2)
    request_id: str = Field(max_length=128)
    idempotency_key: str | None = Field(default=None, max_length=128)
    created_at: str = Field(max_length=32)
    started_at: str | None = Field(default=None, max_length=32)
    finished_at: str | None = Field(default=None, max_length=32)
    # the reconciler (issue 10): when the job last moved, how often its lost chunks were re-enqueued, and why
    # a job that cannot finish failed
    progress_at: str | None = Field(default=None, max_length=32)
    requeued: int = Field(default=0)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # SHA-256 of the body's lines (issue 12): an Idempotency-Key reused with another body is refused
    body_sha256: str | None = Field(default=None, max_length=64)


class BulkLine(SQLModel, table=True):
    """One input line of a job until its result is committed (then deleted): the line as the registry sent it,
    less its patient reference, which is kept as its keyed hash."""

    __tablename__ = "bulk_line"

    job_id: str = Field(primary_key=True, max_length=36)
    line: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    # the keyed hash of the line's patient_ref: the reference itself is never stored (issue 10)
    patient_hash: str | None = Field(default=None, max_length=64)


class BulkResult(SQLModel, table=True):
    """One line's result, keyed by (job, line): a redelivered chunk finds it there and changes nothing."""

    __tablename__ = "bulk_result"

    job_id: str = Field(primary_key=True, max_length=36)
    line: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    ok: bool
    body: str = Field(sa_column=Column(Text, nullable=False), description="the NDJSON result line")


class Report(SQLModel, table=True):
    """A PDF report, owned by the client that asked for it; its SHA-256 is also in the audit trail."""

    __tablename__ = "report"

    id: str = Field(primary_key=True, max_length=36)
    client: str = Field(max_length=128, index=True)
    kind: str = Field(max_length=16, description="patient or registry")
    status: str = Field(max_length=16, description="queued, ready, failed")
    language: str = Field(max_length=2)
    source_audit_id: str | None = Field(default=None, max_length=36, index=True)
    job_id: str | None = Field(default=None, max_length=36)
    request_id: str = Field(max_length=128)
    created_at: str = Field(max_length=32)
    finished_at: str | None = Field(default=None, max_length=32)
    sha256: str | None = Field(default=None, max_length=64)
    pdf: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditCheckpoint(SQLModel, table=True):
    """The chain head at `seq`, signed with the service's Ed25519 key: rewriting the whole chain cannot
    keep these signatures true without the private key."""

    __tablename__ = "audit_checkpoint"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: str = Field(max_length=64)
    created_at: str = Field(max_length=32)
    key_id: str = Field(max_length=16)
    signature: str = Field(max_length=128)


class AuditPurgePermit(SQLModel, table=True):
    """Present only inside a retention purge's transaction: the one case where audit rows may be deleted."""

    __tablename__ = "audit_purge_permit"

    id: int = Field(primary_key=True)


class CdsToken(SQLModel, table=True):
    """A CDS client's JWT id (`jti`) seen, kept until the token expires: the same token again is a replay."""

    __tablename__ = "cds_token"

    issuer: str = Field(primary_key=True, max_length=256)
    jti: str = Field(primary_key=True, max_length=256)
    expires_at: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class CdsCall(SQLModel, table=True):
    """One CDS Hooks call answered: its hookInstance (the idempotency and correlation key), the audit record of
    its cards, and the response as sent, returned again when the same hookInstance is called again."""

    __tablename__ = "cds_call"

    client: str = Field(primary_key=True, max_length=256)
    hook_instance: str = Field(primary_key=True, max_length=128)
    service: str = Field(max_length=64)
    audit_id: str = Field(max_length=36)
    request_sha256: str = Field(max_length=64, description="The call's body: the same hookInstance with another "
                                "body is refused")
    response_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(max_length=32)


class CdsCard(SQLModel, table=True):
    """A card served, by its uuid: what the feedback on it counts against (its rules and indicator)."""

    __tablename__ = "cds_card"

    uuid: str = Field(primary_key=True, max_length=36)
    client: str = Field(max_length=256, index=True)
    service: str = Field(max_length=64)
    hook_instance: str = Field(max_length=128)
    audit_id: str = Field(max_length=36)
    indicator: str = Field(max_length=16)
    rule_ids: str = Field(max_length=512)
    summary: str = Field(max_length=256)
    created_at: str = Field(max_length=32)


class CdsFeedback(SQLModel, table=True):
    """A clinician's outcome on a card, as the EHR reported it; the same report again changes nothing."""

    __tablename__ = "cds_feedback"

    card: str = Field(primary_key=True, max_length=128)
    outcome: str = Field(primary_key=True, max_length=16)
    outcome_timestamp: str = Field(primary_key=True, max_length=40)
    client: str = Field(max_length=256)
    service: str = Field(max_length=64)
    accepted_suggestions: str = Field(sa_column=Column(Text, nullable=False))
    override_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    audit_id: str = Field(max_length=36)
    received_at: str = Field(max_length=32)


class WorkerHeartbeat(SQLModel, table=True):
    """A running worker's last sign of life (infra/heartbeat.py), by the database's clock in epoch seconds."""

    __tablename__ = "worker_heartbeat"

    id: str = Field(primary_key=True, max_length=160, description="node name, host and pid")
    name: str = Field(max_length=128, description="the Celery node name, e.g. celery@worker-1")
    pid: int
    started_at: float
    seen_at: float
