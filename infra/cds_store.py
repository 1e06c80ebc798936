"""What the CDS Hooks service keeps besides the audit trail (issue 13): each call's response by hookInstance, so
the same call answered twice gets the same cards; each card served, so feedback on it can be counted by rule;
the feedback itself, idempotent."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from infra.cds_auth import SeenTokens, TokenRefused, record_jti
from infra.cds_models import Card, Feedback
from infra.jobs import now
from infra.tables import CdsCall, CdsCard, CdsFeedback


def admit(engine: Engine, claims: dict[str, Any], client: str, hook_instance: str,
          seen: SeenTokens) -> tuple[str, bytes] | None:
    """What a service call needs before it is evaluated, in one transaction: its token's id recorded (TokenRefused
    on a replay) and the answer already given to this hookInstance, if any. With one API process (SQLite) the ids
    are kept in memory; on PostgreSQL, shared by every process, in the table — committed without waiting for the
    disk (synchronous_commit off: a crash may forget the last milliseconds of ids, never an audit record)."""
    embedded = engine.dialect.name == "sqlite"
    if embedded:
        seen.add(claims["iss"], str(claims["jti"]), claims["exp"])
    try:
        with engine.begin() as conn:
            if not embedded:
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
                record_jti(conn, claims["iss"], str(claims["jti"]), claims["exp"])
            row = conn.execute(select(CdsCall.service, CdsCall.response_json).where(
                CdsCall.client == client, CdsCall.hook_instance == hook_instance)).first()
    except IntegrityError:
        raise TokenRefused("jti already used (replay)") from None
    return None if row is None else (row.service, row.response_json.encode())


def answered(engine: Engine, client: str, hook_instance: str) -> tuple[str, bytes] | None:
    """(service, response JSON) of a call this client already made with this hookInstance, if any."""
    with engine.connect() as conn:
        row = conn.execute(select(CdsCall.service, CdsCall.response_json).where(
            CdsCall.client == client, CdsCall.hook_instance == hook_instance)).first()
    return None if row is None else (row.service, row.response_json.encode())


def keep_call(engine: Engine, *, client: str, service: str, hook_instance: str, audit_id: str,
              response_json: bytes, cards: list[tuple[Card, tuple[str, ...]]]) -> None:
    """The call and its cards, in one transaction; a concurrent twin of the call (same hookInstance) that got
    there first keeps its own."""
    stamp = now()
    try:
        with engine.begin() as conn:
            conn.execute(insert(CdsCall).values(client=client, hook_instance=hook_instance, service=service,
                                                audit_id=audit_id, response_json=response_json.decode(),
                                                created_at=stamp))
            if cards:
                conn.execute(insert(CdsCard), [
                    {"uuid": card.uuid, "client": client, "service": service, "hook_instance": hook_instance,
                     "audit_id": audit_id, "indicator": card.indicator, "rule_ids": ",".join(rules)[:512],
                     "summary": card.summary[:256], "created_at": stamp} for card, rules in cards])
    except IntegrityError:
        return


def card_of(engine: Engine, client: str, uuid: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(CdsCard).where(CdsCard.uuid == uuid, CdsCard.client == client)).first()
    return None if row is None else dict(row._mapping)


def keep_feedback(engine: Engine, *, client: str, service: str, feedback: Feedback, audit_id: str) -> bool:
    """Record one outcome; False when the same outcome of the same card at the same time is already there."""
    reason = None if feedback.override_reason is msgspec.UNSET else msgspec.json.encode(
        feedback.override_reason).decode()
    accepted = [] if feedback.accepted_suggestions is msgspec.UNSET else [s.id for s in feedback.accepted_suggestions]
    try:
        with engine.begin() as conn:
            conn.execute(insert(CdsFeedback).values(
                card=feedback.card, outcome=feedback.outcome, outcome_timestamp=feedback.outcome_timestamp,
                client=client, service=service, accepted_suggestions=msgspec.json.encode(accepted).decode(),
                override_reason=reason, audit_id=audit_id, received_at=now()))
    except IntegrityError:
        return False
    return True


def already_given(engine: Engine, feedback: Feedback) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(CdsFeedback).where(
            CdsFeedback.card == feedback.card, CdsFeedback.outcome == feedback.outcome,
            CdsFeedback.outcome_timestamp == feedback.outcome_timestamp)).scalar_one() > 0


def acceptance(engine: Engine) -> list[dict[str, Any]]:
    """Per service and card rules: cards served, accepted, overridden (for the auditors)."""
    served = select(CdsCard.service, CdsCard.rule_ids, CdsCard.indicator, func.count().label("served")).group_by(
        CdsCard.service, CdsCard.rule_ids, CdsCard.indicator)
    outcomes = select(CdsCard.service, CdsCard.rule_ids, CdsCard.indicator, CdsFeedback.outcome,
                      func.count(func.distinct(CdsFeedback.card)).label("cards")).join(
        CdsFeedback, CdsFeedback.card == CdsCard.uuid).group_by(
        CdsCard.service, CdsCard.rule_ids, CdsCard.indicator, CdsFeedback.outcome)
    with engine.connect() as conn:
        rows = {(r.service, r.rule_ids, r.indicator): {"service": r.service, "rule_ids": r.rule_ids.split(",")
                                                       if r.rule_ids else [], "indicator": r.indicator,
                                                       "served": r.served, "accepted": 0, "overridden": 0}
                for r in conn.execute(served)}
        for r in conn.execute(outcomes):
            rows[(r.service, r.rule_ids, r.indicator)][r.outcome] = r.cards
    return sorted(rows.values(), key=lambda r: (r["service"], r["rule_ids"], r["indicator"]))
