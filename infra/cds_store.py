"""What the CDS Hooks service keeps besides the audit trail (issue 13): each call's response by hookInstance, so
the same call answered twice gets the same cards; each card served, so feedback on it can be counted by rule;
the feedback itself, idempotent."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from infra.audit import AuditUnavailable
from infra.cds_auth import LEEWAY_S, SeenTokens, TokenRefused
from infra.cds_models import Card, CDSHooksRequest, Feedback
from infra.db import raw_transaction
from infra.jobs import now
from infra.tables import CdsCall, CdsCard, CdsFeedback

_admitted = itertools.count()
_ANSWERED = "SELECT service, response_json, request_sha256 FROM cds_call WHERE client = {m} AND hook_instance = {m}"
# PostgreSQL: in one statement (one round trip), the token id recorded (a replay breaks its primary key), the
# hookInstance claimed for this call (an empty response until the call is kept), and what the table held before:
# another process's call, answered or still pending. Always one row.
_ADMIT = ("WITH token AS (INSERT INTO cds_token (issuer, jti, expires_at) VALUES (%s, %s, %s)), "
          "claim AS (INSERT INTO cds_call (client, hook_instance, service, audit_id, request_sha256, response_json, "
          "created_at) VALUES (%s, %s, %s, '', %s, '', %s) ON CONFLICT DO NOTHING RETURNING 1) "
          "SELECT c.service, c.response_json, c.request_sha256, (SELECT count(*) FROM claim) "
          "FROM (SELECT 1) AS one LEFT JOIN cds_call c ON c.client = %s AND c.hook_instance = %s")
_FORGET = "DELETE FROM cds_token WHERE expires_at < {m}"
_RELEASE = "DELETE FROM cds_call WHERE client = {m} AND hook_instance = {m} AND response_json = ''"


_canonical = msgspec.json.Encoder(order="sorted").encode


def call_digest(hook: CDSHooksRequest, language: str) -> str:
    """What makes two requests one call: the request as decoded (however its JSON was spelt), without the FHIR access
    token (an EHR may refresh it between retries), and the language the cards are in."""
    body = msgspec.to_builtins(msgspec.structs.replace(hook, fhir_authorization=msgspec.UNSET))
    return hashlib.sha256(_canonical([body, language])).hexdigest()


def _marks(engine: Engine) -> str:
    return "?" if engine.dialect.name == "sqlite" else "%s"


class Admitted(NamedTuple):
    """What admit found for a call's hookInstance: nothing (the call is this one's to answer: `claimed`), or a call
    already made — its service, its body's SHA-256 and its stored response (empty while another process answers
    it)."""

    claimed: bool
    service: str | None = None
    response_json: bytes = b""
    request_sha256: str | None = None


def admit(engine: Engine, claims: dict[str, Any], client: str, hook_instance: str, seen: SeenTokens) -> Admitted:
    """What a service call needs before it is evaluated, with one API process (SQLite): its token's id recorded in
    memory (TokenRefused on a replay; kept in the database with the call, for a restart), and the call already made
    with its hookInstance, if any, by one indexed WAL read (the calls in flight are InFlight's). On the driver's
    cursor: this is on every call's path, and SQLAlchemy's statement building costs several times the read."""
    seen.add(claims["iss"], str(claims["jti"]), claims["exp"])
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(_ANSWERED.format(m="?"), (client, hook_instance))
        row = cursor.fetchone()
    finally:
        raw.close()
    return Admitted(True) if row is None else Admitted(False, row[0], row[1].encode(), row[2])


class AsyncAdmission:
    """PostgreSQL, shared by every API process: in one statement on the event loop (a few psycopg AsyncConnections,
    autocommit, no wait for the disk: a crash may forget the last milliseconds of token ids, never an audit record;
    no thread hop on every call's path, bench/cds_hooks.py), the token's id recorded (TokenRefused on a replay), the
    hookInstance claimed, or the call already made with it. A connection that failed is dropped; the database
    unreachable is AuditUnavailable (503)."""

    def __init__(self, conninfo: str, connect_args: dict[str, Any], size: int = 4) -> None:
        self._conninfo, self._args, self._size = conninfo, connect_args, size
        self._idle: list[Any] = []

    async def admit(self, claims: dict[str, Any], client: str, hook_instance: str, service: str,
                    request_sha256: str) -> Admitted:
        params = (claims["iss"], str(claims["jti"])[:256], int(claims["exp"]), client, hook_instance, service,
                  request_sha256, now(), client, hook_instance)
        row = await self._run(params, reused=bool(self._idle))
        if row[3]:
            return Admitted(True)
        return Admitted(False, row[0] or service, (row[1] or "").encode(), row[2] or request_sha256)

    async def _run(self, params: tuple[Any, ...], reused: bool) -> tuple[Any, ...]:
        import psycopg

        try:
            conn = self._idle.pop() if reused else await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, **self._args)
        except psycopg.Error as exc:
            raise AuditUnavailable("token store unavailable") from exc
        try:
            if next(_admitted) % 100 == 0:  # forget the ids of tokens expired since: about an hour is kept
                await conn.execute(_FORGET.format(m="%s"), (int(time.time()) - LEEWAY_S,))
            row = await (await conn.execute(_ADMIT, params)).fetchone()
        except psycopg.errors.UniqueViolation:
            self._keep(conn)
            raise TokenRefused("jti already used (replay)") from None
        except psycopg.OperationalError as exc:  # a kept connection the server has since closed: once more, anew
            await conn.close()
            if reused:
                return await self._run(params, reused=False)
            raise AuditUnavailable("token store unavailable") from exc
        except psycopg.Error as exc:
            await conn.close()
            raise AuditUnavailable("token store unavailable") from exc
        except BaseException:
            await conn.close()
            raise
        self._keep(conn)
        return row

    def _keep(self, conn: Any) -> None:
        if len(self._idle) < self._size and not conn.closed:
            self._idle.append(conn)
        else:
            asyncio.get_running_loop().create_task(conn.close())

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()


def admission_for(settings: Any) -> AsyncAdmission | None:
    """The event-loop admission of a PostgreSQL deployment's settings; None on the embedded default (SQLite)."""
    if settings.embedded:
        return None

    from infra.db import libpq_url, pg_connect_args

    conninfo = libpq_url(settings.database_url)
    return AsyncAdmission(conninfo, pg_connect_args(
        settings.db_statement_timeout_s, settings.db_lock_timeout_s, settings.db_idle_in_transaction_timeout_s,
        relaxed=True))


def stored_call(engine: Engine, client: str, hook_instance: str) -> Admitted | None:
    """The call kept for this hookInstance (its response empty while it is being answered), if any."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(_ANSWERED.format(m=_marks(engine)), (client, hook_instance))
        row = cursor.fetchone()
    finally:
        raw.close()
    return None if row is None else Admitted(False, row[0], row[1].encode(), row[2])


def release(engine: Engine, client: str, hook_instance: str) -> None:
    """Give up a hookInstance this call claimed and did not answer (a refused body, a 412, the audit unavailable):
    the EHR's retry is a new call, not a wait for one that will never end."""
    if engine.dialect.name == "sqlite":
        return  # nothing is claimed in the database with one process: InFlight holds the call
    with raw_transaction(engine) as cursor:
        cursor.execute(_RELEASE.format(m="%s"), (client, hook_instance))


class InFlight:
    """This process's calls, by (client, hookInstance), from their admission until their storage has committed: a
    retry or a twin sent meanwhile gets the very answer of the first (the same bytes), not a second evaluation."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], tuple[str, str, asyncio.Future[bytes]]] = {}

    def get(self, client: str, hook_instance: str) -> tuple[str, str, asyncio.Future[bytes]] | None:
        return self._calls.get((client, hook_instance))

    def start(self, client: str, hook_instance: str, service: str, request_sha256: str) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._calls[(client, hook_instance)] = (service, request_sha256, future)
        return future

    def fail(self, client: str, hook_instance: str, exc: BaseException) -> None:
        found = self._calls.pop((client, hook_instance), None)
        if found is not None and not found[2].done():
            found[2].set_exception(exc)
            found[2].exception()  # retrieved: a call nobody waited for is not an error to report

    def end(self, client: str, hook_instance: str) -> None:
        self._calls.pop((client, hook_instance), None)


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
              "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
_ANSWER_CLAIM = ("UPDATE cds_call SET audit_id = %s, response_json = %s, created_at = %s WHERE client = %s AND "
                 "hook_instance = %s")
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
            if m == "%s":  # not the audit trail (committed before the answer): no wait for the disk, no fsync
                cursor.execute("SET LOCAL synchronous_commit TO OFF")  # queued ahead of the next audit commit
            if token is not None and m == "?":
                cursor.execute(_KEEP_TOKEN, (token["iss"], str(token["jti"])[:256], int(token["exp"])))
            if m == "?":
                cursor.execute(_KEEP_CALL, (client, hook_instance, service, audit_id, request_sha256,
                                            response_json.decode(), stamp))
            else:  # the row this call claimed at admission
                cursor.execute(_ANSWER_CLAIM, (audit_id, response_json.decode(), stamp, client, hook_instance))
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
    """Per service and card rules: cards served, accepted, overridden (for the auditors); each card counted once, by
    the last outcome reported for it."""
    served = select(CdsCard.service, CdsCard.rule_ids, CdsCard.indicator, func.count().label("served")).group_by(
        CdsCard.service, CdsCard.rule_ids, CdsCard.indicator)
    # a card counts once, by the last outcome reported for it (a clinician may accept, then override)
    last = select(CdsFeedback.card, func.max(CdsFeedback.outcome_timestamp).label("at")).group_by(
        CdsFeedback.card).subquery()
    final = select(CdsFeedback.card, func.max(CdsFeedback.outcome).label("outcome")).join(
        last, (last.c.card == CdsFeedback.card) & (last.c.at == CdsFeedback.outcome_timestamp)).group_by(
        CdsFeedback.card).subquery()
    outcomes = select(CdsCard.service, CdsCard.rule_ids, CdsCard.indicator, final.c.outcome,
                      func.count().label("cards")).join(final, final.c.card == CdsCard.uuid).group_by(
        CdsCard.service, CdsCard.rule_ids, CdsCard.indicator, final.c.outcome)
    with engine.connect() as conn:
        rows = {(r.service, r.rule_ids, r.indicator): {"service": r.service, "rule_ids": r.rule_ids.split(",")
                                                       if r.rule_ids else [], "indicator": r.indicator,
                                                       "served": r.served, "accepted": 0, "overridden": 0}
                for r in conn.execute(served)}
        for r in conn.execute(outcomes):
            rows[(r.service, r.rule_ids, r.indicator)][r.outcome] = r.cards
    return sorted(rows.values(), key=lambda r: (r["service"], r["rule_ids"], r["indicator"]))
