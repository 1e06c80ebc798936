"""API keys: made once, stored as SHA-256 only, each tied to a client and its roles."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import Engine, insert, select, update

from infra.tables import ApiKey

ROLES = ("scoring", "registry", "auditor")
_PREFIX = "bm"


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the client system a key belongs to, and what it may do (until when, if it expires)."""

    key_id: str
    client: str
    roles: frozenset[str]
    expires_at: str | None = None

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= _now()


class KeyInfo(msgspec.Struct, frozen=True):
    """A key as `bonemets keys list` shows it: never the key nor its hash."""

    id: str
    client: str
    roles: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_roles(text: str) -> tuple[str, ...]:
    roles = tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ValueError(f"roles must be a comma-separated subset of {', '.join(ROLES)}; got {text!r}")
    return roles


def create_key(engine: Engine, client: str, roles: tuple[str, ...], expires_in_days: float | None = None) -> str:
    """Store a new key's hash and return the key itself, which is never stored nor shown again."""
    if not client or len(client) > 128:
        raise ValueError("client must be 1 to 128 characters")
    if expires_in_days is not None and expires_in_days <= 0:
        raise ValueError("a key's expiry must be more than 0 days away")
    key_id = secrets.token_hex(6)
    key = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    expires = None if expires_in_days is None else (datetime.now(UTC) + timedelta(days=expires_in_days)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    with engine.begin() as conn:
        conn.execute(insert(ApiKey).values(
            id=key_id, client=client, roles=",".join(roles), key_hash=_digest(key),
            created_at=datetime.now(UTC).isoformat(), expires_at=expires,
        ))
    return key


def list_keys(engine: Engine) -> list[KeyInfo]:
    with engine.connect() as conn:
        rows = conn.execute(select(ApiKey.id, ApiKey.client, ApiKey.roles, ApiKey.created_at, ApiKey.expires_at,
                                   ApiKey.revoked_at).order_by(ApiKey.created_at)).all()
    return [KeyInfo(*row) for row in rows]


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revoke by the key's public id; False when no such key is in force."""
    with engine.begin() as conn:
        done = conn.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                            .values(revoked_at=_now()))
    return done.rowcount == 1


def _digest(key: str) -> str:
    # The key carries 256 bits of randomness: a plain SHA-256 cannot be brute-forced back to it.
    return hashlib.sha256(key.encode()).hexdigest()


KEY_FORMAT = re.compile(r"bm_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
NEGATIVE_CACHE_MAX = 100_000


class KeyStore:
    """Looks keys up by hash. Known keys are cached for `ttl_s` (a revocation takes effect within it); unknown
    ones cost no query after the first: a malformed key none at all, a well-formed one whose id is in no key a
    single one, then a bounded negative cache that never evicts a valid key (issue 10)."""

    def __init__(self, engine: Engine, ttl_s: float = 30.0) -> None:
        self._engine = engine
        self._ttl = ttl_s
        self._known: dict[str, tuple[float, Principal]] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """(True, answer) when the answer needs no query; (False, None) when it must be loaded."""
        if KEY_FORMAT.fullmatch(key) is None:
            return True, None  # not a key this service issues
        digest = _digest(key)
        now = time.monotonic()
        hit = self._known.get(digest)
        if hit is not None and hit[0] > now:
            return True, None if hit[1].expired() else hit[1]
        miss = self._unknown.get(digest)
        if miss is not None and miss > now:
            return True, None
        return False, None

    def lookup(self, key: str) -> Principal | None:
        found, principal = self.cached(key)
        if found:
            return principal
        digest = _digest(key)
        principal = self._load(digest)
        expires = time.monotonic() + self._ttl
        with self._lock:
            if principal is not None:
                self._known[digest] = (expires, principal)
                self._unknown.pop(digest, None)
            else:
                self._unknown[digest] = expires
                self._unknown.move_to_end(digest)
                while len(self._unknown) > NEGATIVE_CACHE_MAX:
                    self._unknown.popitem(last=False)
        return None if principal is None or principal.expired() else principal

    def _load(self, digest: str) -> Principal | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(ApiKey.id, ApiKey.client, ApiKey.roles, ApiKey.expires_at)
                .where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
            ).one_or_none()
        if row is None:
            return None
        return Principal(key_id=row.id, client=row.client, roles=frozenset(row.roles.split(",")),
                         expires_at=row.expires_at)
