"""What the CDS Hooks service keeps besides the audit trail (issue 13): each call's response by hookInstance, so
the same call answered twice gets the same cards; each card served, so feedback on it can be counted by rule;
the feedback itself, idempotent."""

from __future__ import annotations

import itertools
import time
from typing import Any

import msgspec
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from infra.cds_auth import LEEWAY_S, SeenTokens, TokenRefused
from infra.cds_models import Card, Feedback
from infra.db import raw_transaction
from infra.jobs import now
from infra.tables import CdsCall, CdsCard, CdsFeedback

_admitted = itertools.count()
_ANSWERED = "SELECT service, response_json, request_sha256 FROM cds_call WHERE client = {m} AND hook_instance = {m}"
# PostgreSQL: the token id and the read in one statement (one round trip); a replay breaks the primary key
_ADMIT = ("WITH token AS (INSERT INTO cds_token (issuer, jti, expires_at) VALUES (%s, %s, %s)) "
          + _ANSWERED.format(m="%s"))
_FORGET = "DELETE FROM cds_token WHERE expires_at < {m}"


def _marks(engine: Engine) -> str:
    return "?" if engine.dialect.name == "sqlite" else "%s"


def admit(engine: Engine, claims: dict[str, Any], client: str, hook_instance: str,
          seen: SeenTokens) -> tuple[str, bytes, str] | None:
    """What a service call needs before it is evaluated: its token's id recorded (TokenRefused on a replay) and the
    answer already given to this hookInstance, if any. With one API process (SQLite) the ids are kept in memory and
    the read is one indexed WAL read; on PostgreSQL, shared by every process, both are one statement on `engine`,
    the relaxed engine (autocommit, no wait for the disk: a crash may forget the last milliseconds of token ids,
    never an audit record). Both on the driver's cursor: this is on every call's path, and SQLAlchemy's statement
    building costs several times the read itself."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            seen.add(claims["iss"], str(claims["jti"]), claims["exp"])
            cursor.execute(_ANSWERED.format(m="?"), (client, hook_instance))
            row = cursor.fetchone()
        else:
            try:
                if next(_admitted) % 100 == 0:  # forget the ids of tokens expired since: about an hour is kept
                    cursor.execute(_FORGET.format(m="%s"), (int(time.time()) - LEEWAY_S,))
                cursor.execute(_ADMIT, (claims["iss"], str(claims["jti"])[:256], int(claims["exp"]), client,
                                        hook_instance))
                row = cursor.fetchone()
            except Exception as exc:
                if _duplicate(exc):  # this jti was used
                    raise TokenRefused("jti already used (replay)") from None
                raise
    finally:
        raw.close()
    return None if row is None else (row[0], row[1].encode(), row[2])


PLACEHOLDER = {"reference": "Patient/{{context.patientId}}"}


def masked(value: Any) -> Any:
    """`value` with every `subject` and `patient` of its FHIR resources replaced by the CDS Hooks placeholder: what
    is stored of a response never holds the patient's reference (nor a name an order's subject may carry)."""
    if isinstance(value, dict):
        return {k: PLACEHOLDER if k in ("subject", "patient") and isinstance(v, dict) else masked(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def unmasked(value: Any, patient_id: str) -> Any:
    """A stored response, for the call that asks for it again: the placeholder back to the call's patient."""
    if value == PLACEHOLDER:
        return {"reference": f"Patient/{patient_id}"}
    if isinstance(value, dict):
        return {k: unmasked(v, patient_id) for k, v in value.items()}
    if isinstance(value, list):
        return [unmasked(v, patient_id) for v in value]
    return value


_KEEP_TOKEN = "INSERT OR IGNORE INTO cds_token (issuer, jti, expires_at) VALUES (?, ?, ?)"
_KEEP_CALL = ("INSERT INTO cds_call (client, hook_instance, service, audit_id, request_sha256, response_json, "
              "created_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})")
_KEEP_CARD = ("INSERT INTO cds_card (uuid, client, service, hook_instance, audit_id, indicator, rule_ids, summary, "
              "created_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m})")


def keep_call(engine: Engine, *, client: str, service: str, hook_instance: str, audit_id: str, request_sha256: str,
              response_json: bytes, cards: list[tuple[Card, tuple[str, ...]]], token: dict[str, Any] | None) -> None:
    """The call (its response with the patient's references masked) and its cards, in one transaction; a
    concurrent twin of the call (same hookInstance) that got there first keeps its own. On SQLite the call's token id
    too, so that a restart does not forget it (SeenTokens.load). On the driver's cursor, as admit: it runs beside
    the next calls."""
    stamp = now()
    m = _marks(engine)
    try:
        with raw_transaction(engine) as cursor:
            if token is not None and m == "?":
                cursor.execute(_KEEP_TOKEN, (token["iss"], str(token["jti"])[:256], int(token["exp"])))
            cursor.execute(_KEEP_CALL.format(m=m), (client, hook_instance, service, audit_id, request_sha256,
                                                   response_json.decode(), stamp))
            if cards:
                cursor.executemany(_KEEP_CARD.format(m=m), [
                    (card.uuid, client, service, hook_instance, audit_id, card.indicator, ",".join(rules)[:512],
                     card.summary[:256], stamp) for card, rules in cards])
    except Exception as exc:
        if _duplicate(exc):
            return
        raise


def _duplicate(exc: Exception) -> bool:
    """A primary key already there: PostgreSQL's unique_violation, or SQLite's UNIQUE constraint."""
    return getattr(exc, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc)


def card_of(engine: Engine, client: str, uuid: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(CdsCard).where(CdsCard.uuid == uuid, CdsCard.client == client)).first()
    return None if row is None else dict(row._mapping)


def suggestions_of(engine: Engine, card: dict[str, Any]) -> set[str]:
    """The uuids of the suggestions a served card (a row of card_of) offered, read from its call's stored response."""
    with engine.connect() as conn:
        stored = conn.execute(select(CdsCall.response_json).where(
            CdsCall.client == card["client"], CdsCall.hook_instance == card["hook_instance"])).scalar_one_or_none()
    cards = msgspec.json.decode(stored)["cards"] if stored else []
    return {s["uuid"] for c in cards if c.get("uuid") == card["uuid"] for s in c.get("suggestions", [])
            if "uuid" in s}


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
