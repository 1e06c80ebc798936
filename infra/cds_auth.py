"""The CDS client's JWT, checked as CDS Hooks 2.0.1 asks (issue 13): signed (ES384 or RS384 by default; never
`none` or a shared secret) by a key of an allow-listed issuer, found by `kid` in that issuer's JWK Set (a local
file, or its URL, cached); `typ` JWT; `aud` the exact URL of the endpoint called; `exp` not passed and at most an
hour away; `iat`; a `jti` never seen before (kept until the token expires). Anything else is refused, and the
reason is logged (never the token), not told to the caller.

Settings: `BONEMETS_CDS_ISSUERS`, a JSON object {issuer: {"jwks_url" | "jwks_file": ..., "tenants": [...]}}
(or the file var/cds-issuers.json); `BONEMETS_PUBLIC_URL`, the service's external base URL that `aud` names."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import itertools
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import msgspec
import structlog
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from infra.tables import CdsToken

ALGORITHMS = ("ES384", "RS384")
MAX_LIFETIME_S = 3600  # a token valid for longer than this is refused: its jti could not be kept for long enough
LEEWAY_S = 30
JWKS_TTL_S = 300


class TokenRefused(Exception):
    """The call's JWT is not one this service accepts; `reason` is for the log, never for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Issuer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An EHR allowed to call: where its JWK Set is, which tenants it may speak for (any, if none listed), and the
    FHIR servers (URL prefixes) the service may read missing prefetch from with the call's access token — none
    listed, none read: a call's `fhirServer` is the caller's word, and the service must not fetch any URL it names."""

    jwks_url: str | None = None
    jwks_file: str | None = None
    tenants: tuple[str, ...] = ()
    fhir_servers: tuple[str, ...] = ()


def parse_issuers(text: str, where: str) -> dict[str, Issuer]:
    try:
        issuers = msgspec.json.decode(text, type=dict[str, Issuer])
    except msgspec.DecodeError as exc:
        raise ValueError(f"{where}: {exc}") from None
    for name, issuer in issuers.items():
        if (issuer.jwks_url is None) == (issuer.jwks_file is None):
            raise ValueError(f"{where}: issuer {name!r} needs exactly one of jwks_url and jwks_file")
    return issuers


def load_issuers(env: dict[str, str] | Any) -> dict[str, Issuer]:
    given = env.get("BONEMETS_CDS_ISSUERS")
    return parse_issuers(given, "BONEMETS_CDS_ISSUERS") if given else {}


ISSUERS_FILE = "cds-issuers.json"


class IssuerRegistry:
    """The allow-listed issuers: those of the settings (BONEMETS_CDS_ISSUERS) when given, else the installation's
    file var/cds-issuers.json, read again when it changes (`bonemets cds trust` takes effect without a restart).
    A file that does not parse trusts no one, and says so in the log."""

    def __init__(self, configured: dict[str, Issuer], var_dir: Path) -> None:
        self._configured = dict(configured)
        self._path = var_dir / ISSUERS_FILE
        self._seen: tuple[float, dict[str, Issuer]] | None = None
        self._lock = threading.Lock()

    def current(self) -> dict[str, Issuer]:
        if self._configured:
            return self._configured
        try:
            stamp = self._path.stat().st_mtime
        except OSError:
            return {}
        with self._lock:
            if self._seen is None or self._seen[0] != stamp:
                try:
                    self._seen = (stamp, parse_issuers(self._path.read_text(), str(self._path)))
                except (ValueError, OSError) as exc:
                    structlog.get_logger("bonemets.auth").error("cds.issuers_unreadable", error=str(exc))
                    self._seen = (stamp, {})
            return self._seen[1]


class KeySets:
    """Each issuer's JWK Set, read from its file or fetched from its URL and cached; fetched again (at most once
    a minute) when a token names a kid the cached set lacks, so that a key rotation is followed."""

    def __init__(self, issuers: IssuerRegistry) -> None:
        self._issuers = issuers
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> bool:
        """Whether the key that signed `token` is in the cache and fresh: then checking it needs no I/O."""
        try:
            header, payload = unverified(token)
        except TokenRefused:
            return True  # refused without any I/O
        kid, issuer = header.get("kid"), payload.get("iss")
        with self._lock:
            found = self._cache.get(issuer) if isinstance(issuer, str) else None
        return found is not None and kid in found[1] and time.monotonic() - found[0] < JWKS_TTL_S

    def key(self, issuer: str, kid: str) -> jwt.PyJWK:
        keys = self._keys(issuer, fresh=False)
        if kid not in keys:
            keys = self._keys(issuer, fresh=True)
        if kid not in keys:
            raise TokenRefused(f"kid {kid!r} is not in the JWK Set of {issuer}")
        return keys[kid]

    def _keys(self, issuer: str, *, fresh: bool) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.get(issuer)
            age = time.monotonic() - cached[0] if cached else None
            if cached and (age < JWKS_TTL_S if not fresh else age < 60):  # type: ignore[operator]
                return cached[1]
        config = self._issuers.current()[issuer]
        try:
            if config.jwks_file:
                document = json.loads(Path(config.jwks_file).read_text())
            else:
                with urllib.request.urlopen(config.jwks_url, timeout=5) as answer:
                    document = json.loads(answer.read(1 << 20))
        except (OSError, ValueError) as exc:
            raise TokenRefused(f"the JWK Set of {issuer} cannot be read ({type(exc).__name__})") from None
        keys = {}
        for jwk in document.get("keys", []):  # each parsed once: a key object costs far more than a verification
            if isinstance(jwk, dict) and "kid" in jwk:
                with contextlib.suppress(jwt.PyJWKError, jwt.InvalidKeyError, ValueError, KeyError):
                    keys[jwk["kid"]] = jwt.PyJWK(jwk)
        with self._lock:
            self._cache[issuer] = (time.monotonic(), keys)
        return keys


CLIENT_MAX = 128  # the audit trail's client column


def client_name(issuer: str, tenant: Any = None) -> str:
    """The client a CDS call is recorded under: `cds:` the issuer, `#` the tenant when the token names one. A name
    longer than the audit trail's column keeps its start, readable, and ends in a hash of the whole, so that two long
    issuers (or tenants) never share a name."""
    name = f"cds:{issuer}" + (f"#{tenant}" if isinstance(tenant, str) else "")
    if len(name) <= CLIENT_MAX:
        return name
    return f"{name[:CLIENT_MAX - 33]}~{hashlib.sha256(name.encode()).hexdigest()[:32]}"


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWT, read but not trusted (what to check it with comes from them)."""
    try:
        header, payload, _ = token.split(".")
        found = [msgspec.json.decode(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                 for part in (header, payload)]
    except (ValueError, msgspec.DecodeError, binascii.Error):
        raise TokenRefused("not a compact JWT") from None
    if not all(isinstance(part, dict) for part in found):
        raise TokenRefused("not a compact JWT")
    return found[0], found[1]


def verify(token: str, *, audience: str, issuers: IssuerRegistry, key_sets: KeySets,
           algorithms: tuple[str, ...] = ALGORITHMS, now: float | None = None) -> dict[str, Any]:
    """The token's claims, once every check passes; TokenRefused naming the first that fails."""
    header, payload = unverified(token)
    if header.get("typ") != "JWT":
        raise TokenRefused(f"typ {header.get('typ')!r}, not JWT")
    if header.get("alg") not in algorithms:
        raise TokenRefused(f"alg {header.get('alg')!r} is not one of {', '.join(algorithms)}")
    issuer, kid = payload.get("iss"), header.get("kid")
    trusted = issuers.current()
    if not isinstance(issuer, str) or issuer not in trusted:
        raise TokenRefused("iss is not an allow-listed issuer")
    if not isinstance(kid, str):
        raise TokenRefused("no kid")
    config = trusted[issuer]
    if "jku" in header and header["jku"] != config.jwks_url:
        raise TokenRefused("jku is not the issuer's configured JWK Set URL")
    key = key_sets.key(issuer, kid)
    moment = time.time() if now is None else now
    try:
        claims = jwt.decode(token, key=key, algorithms=list(algorithms), audience=audience, issuer=issuer,
                            leeway=LEEWAY_S, options={"require": ["iss", "aud", "exp", "iat", "jti"],
                                                      "verify_exp": now is None})
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"{type(exc).__name__}: {exc}") from None
    if now is not None and claims["exp"] + LEEWAY_S < moment:
        raise TokenRefused("ExpiredSignatureError: Signature has expired")
    if claims["exp"] - moment > MAX_LIFETIME_S:
        raise TokenRefused(f"exp is more than {MAX_LIFETIME_S} s away")
    if config.tenants and claims.get("tenant") not in config.tenants:
        raise TokenRefused("tenant is not allow-listed for this issuer")
    return claims


def remember_jti(engine: Engine, issuer: str, jti: str, expires_at: int, now: float | None = None,
                 seen: SeenTokens | None = None) -> None:
    """Record a token id; TokenRefused if it was already used (a replay). In memory with one API process (SQLite)."""
    if seen is not None and engine.dialect.name == "sqlite":
        seen.add(issuer, jti, expires_at, now)  # refused at once if seen; then kept for a restart too
    try:
        with engine.begin() as conn:
            record_jti(conn, issuer, jti, expires_at, now)
    except IntegrityError:
        raise TokenRefused("jti already used (replay)") from None


class SeenTokens:
    """Token ids seen by this process, until they expire: the whole replay store where one API process serves
    (the embedded default: SQLite has one writer, `bonemets serve` refuses more processes), and no write per call."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._added = 0

    def load(self, engine: Engine) -> None:
        """The ids of tokens not yet expired that the installation recorded: replays stay refused after a restart."""
        if engine.dialect.name != "sqlite":
            return
        with engine.connect() as conn:
            rows = conn.execute(select(CdsToken.issuer, CdsToken.jti, CdsToken.expires_at).where(
                CdsToken.expires_at >= int(time.time()) - LEEWAY_S)).all()
        with self._lock:
            self._seen.update({(r.issuer, r.jti): r.expires_at for r in rows})

    def add(self, issuer: str, jti: str, expires_at: int, now: float | None = None) -> None:
        moment = int(time.time() if now is None else now)
        with self._lock:
            self._added += 1
            if self._added % 1000 == 0:
                self._seen = {k: exp for k, exp in self._seen.items() if exp >= moment - LEEWAY_S}
            if (issuer, jti) in self._seen:
                raise TokenRefused("jti already used (replay)")
            self._seen[(issuer, jti)] = int(expires_at)


_inserted = itertools.count()


def record_jti(conn: Connection, issuer: str, jti: str, expires_at: int, now: float | None = None) -> None:
    """Insert a token id in the caller's transaction (IntegrityError on a replay); every 100th insert also forgets
    the ids of tokens expired since, so the table holds about an hour of calls."""
    if next(_inserted) % 100 == 0:
        moment = int(time.time() if now is None else now)
        conn.execute(delete(CdsToken).where(CdsToken.expires_at < moment - LEEWAY_S))  # type: ignore[arg-type]
    conn.execute(insert(CdsToken).values(issuer=issuer, jti=jti[:256], expires_at=int(expires_at)))
