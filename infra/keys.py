"""API keys: made once, stored as SHA-256 only, each tied to a client and its roles."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime

import msgspec
from sqlalchemy import Engine, insert, select

from infra.tables import ApiKey

ROLES = ("scoring", "registry", "auditor")
_PREFIX = "bm"


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the client system a key belongs to, and what it may do."""

    key_id: str
    client: str
    roles: frozenset[str]


def parse_roles(text: str) -> tuple[str, ...]:
    roles = tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ValueError(f"roles must be a comma-separated subset of {', '.join(ROLES)}; got {text!r}")
    return roles


def create_key(engine: Engine, client: str, roles: tuple[str, ...]) -> str:
    """Store a new key's hash and return the key itself, which is never stored nor shown again."""
    if not client or len(client) > 128:
        raise ValueError("client must be 1 to 128 characters")
    key_id = secrets.token_hex(6)
    key = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    with engine.begin() as conn:
        conn.execute(insert(ApiKey).values(
            id=key_id, client=client, roles=",".join(roles), key_hash=_digest(key),
            created_at=datetime.now(UTC).isoformat(),
        ))
    return key


def _digest(key: str) -> str:
    # The key carries 256 bits of randomness: a plain SHA-256 cannot be brute-forced back to it.
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Looks keys up by hash, caching answers (negative ones too) for a few seconds."""

    def __init__(self, engine: Engine, ttl_s: float = 30.0) -> None:
        self._engine = engine
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """(True, answer) when the cache holds a fresh answer for `key`; (False, None) when it must be loaded."""
        hit = self._cache.get(_digest(key))
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def lookup(self, key: str) -> Principal | None:
        found, principal = self.cached(key)
        if found:
            return principal
        digest = _digest(key)
        now = time.monotonic()
        principal = self._load(digest)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, principal)
        return principal

    def _load(self, digest: str) -> Principal | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(ApiKey.id, ApiKey.client, ApiKey.roles)
                .where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
            ).one_or_none()
        if row is None:
            return None
        return Principal(key_id=row.id, client=row.client, roles=frozenset(row.roles.split(",")))
