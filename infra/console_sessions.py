"""The web console's sessions (api/console): server-side rows, so that any API process can serve any request and a
sign-out or a revoked key ends a session everywhere at once.

The browser holds only a random session id (256 bits); the table holds its SHA-256, so that reading the database
is not enough to take a session over. A session stores the key's principal (its id, client and roles), never the
key: each request re-reads the key's row (one indexed join), so a revoked or expired key ends its sessions at the
next request, without waiting for the API's key cache.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime

import msgspec
from sqlalchemy import Column, Engine, Float, MetaData, String, Table, and_, delete, or_, select, update

from infra.keys import Principal
from infra.tables import ApiKey

metadata = MetaData()
CONSOLE_SESSION = Table(
    "console_session", metadata,
    Column("id_hash", String(64), primary_key=True),  # SHA-256 of the cookie's session id
    Column("key_id", String(32), nullable=False, index=True),
    Column("client", String(128), nullable=False),
    Column("roles", String(128), nullable=False),
    Column("csrf", String(64), nullable=False),  # the token every form of this session carries
    Column("created_at", Float, nullable=False),  # seconds since the epoch
    Column("seen_at", Float, nullable=False),
)
TOUCH_EVERY_S = 15.0  # seen_at is rewritten at most this often: a page's assets cost no write


class ConsoleSession(msgspec.Struct, frozen=True):
    """A signed-in browser: who it acts for, and the CSRF token of its forms."""

    principal: Principal
    csrf: str
    created_at: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(engine: Engine, principal: Principal, *, idle_s: float, max_s: float,
                 now: float | None = None) -> tuple[str, str]:
    """A new session for `principal`: (the session id for the cookie, the CSRF token). Sessions past their time
    are removed on the way, so the table holds only live ones."""
    now = time.time() if now is None else now
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(delete(CONSOLE_SESSION).where(or_(CONSOLE_SESSION.c.seen_at < now - idle_s,
                                                       CONSOLE_SESSION.c.created_at < now - max_s)))
        conn.execute(CONSOLE_SESSION.insert().values(
            id_hash=_digest(session_id), key_id=principal.key_id, client=principal.client,
            roles=",".join(sorted(principal.roles)), csrf=csrf, created_at=now, seen_at=now))
    return session_id, csrf


def find_session(engine: Engine, session_id: str, *, idle_s: float, max_s: float,
                 now: float | None = None) -> ConsoleSession | None:
    """The live session of this id, or None: unknown, idle too long, too old, or its key revoked or expired (an
    ended session's row is deleted)."""
    if not session_id or len(session_id) > 128:
        return None
    now = time.time() if now is None else now
    digest = _digest(session_id)
    key_now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    key_in_force = and_(ApiKey.id == CONSOLE_SESSION.c.key_id, ApiKey.revoked_at.is_(None),
                        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > key_now))
    query = (select(CONSOLE_SESSION, ApiKey.id.label("key_alive"))
             .select_from(CONSOLE_SESSION.outerjoin(ApiKey, key_in_force))
             .where(CONSOLE_SESSION.c.id_hash == digest))
    with engine.connect() as conn:
        row = conn.execute(query).one_or_none()
    if row is None:
        return None
    if row.key_alive is None or row.seen_at < now - idle_s or row.created_at < now - max_s:
        close_session(engine, session_id)
        return None
    if now - row.seen_at > TOUCH_EVERY_S:
        with engine.begin() as conn:
            conn.execute(update(CONSOLE_SESSION).where(CONSOLE_SESSION.c.id_hash == digest).values(seen_at=now))
    principal = Principal(key_id=row.key_id, client=row.client, roles=frozenset(row.roles.split(",")))
    return ConsoleSession(principal=principal, csrf=row.csrf, created_at=row.created_at)


def close_session(engine: Engine, session_id: str) -> None:
    """Sign-out: the row goes, so the cookie opens nothing anywhere from now on."""
    with engine.begin() as conn:
        conn.execute(delete(CONSOLE_SESSION).where(CONSOLE_SESSION.c.id_hash == _digest(session_id)))
