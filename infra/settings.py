"""Settings, read once from the environment by the composition roots (never at import time)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    pseudonym_key: bytes
    log_format: Literal["json", "console"]
    var_dir: Path
    max_body_bytes: int = 1 << 20
    audit_batch_max: int = 512
    audit_timeout_s: float = 10.0
    auth_cache_ttl_s: float = 30.0
    # the web console's sessions (api/console): ended after this long without a request, and this long after sign-in
    console_session_idle_s: float = 900.0
    console_session_max_s: float = 28800.0
    bulk_max_bytes: int = 512 << 20
    bulk_max_line_bytes: int = 1 << 20  # one line (one case) at most: a longer one is that line's 413
    bulk_chunk_size: int = 500
    visibility_timeout_s: int = 300
    unacked_restore_interval_s: float = 5.0
    audit_signing_key: bytes = b""
    checkpoint_every: int = 1000
    checkpoint_minutes: float = 10.0
    audit_retention_days: int = 3650
    # PostgreSQL sessions of the service (issue 10): a statement, a lock wait, an idle transaction each end by
    # themselves, so one network blip can never leave the chain's lock held or a thread waiting for ever
    db_statement_timeout_s: float = 60.0
    db_lock_timeout_s: float = 4.0
    db_idle_in_transaction_timeout_s: float = 10.0
    # the reconciler: a job idle this long has its missing chunks re-enqueued, at most this often
    reconcile_after_s: float = 120.0
    reconcile_interval_s: float = 30.0
    reconcile_max_requeues: int = 5
    # the audit trail's key ring and its external checkpoints (issue 11)
    audit_retired_public_keys: tuple[str, ...] = ()
    audit_checkpoint_sink: str | None = None
    migration_database_url: str | None = None  # the owner role's connection, for `bonemets migrate` only
    bulk_results_days: int = 30  # a finished job's outputs are kept this long (its manifest's Expires)
    bulk_min_poll_s: float = 1.0  # a running job's status polled faster than this is 429 (0: no limit)
    # CDS Hooks (issue 13): the EHRs allowed to call, by JWT issuer; the URL they call us by (the JWT's audience);
    # the time zone whose calendar day is "today" for a call's evaluation
    cds_issuers: Mapping[str, Any] = field(default_factory=dict)
    public_url: str | None = None
    timezone: str = "Europe/Paris"
    report_link_ttl_s: int = 86400  # how long a CDS card's link to its PDF report opens it (infra.report_links)
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API; none by default (issue 15)
    metrics_token: str | None = None  # the bearer token of GET /metrics; without it, a scraper on this host only
    # per-client rate limits (issue 15): policy -> (requests, seconds), a bucket of `requests` refilled at
    # requests/seconds per second, per client and API process (api/ratelimit.py); a policy absent is not limited
    rate_limits: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(RATE_LIMITS))
    worker_heartbeat_s: float = 10.0  # each worker's heartbeat period; readiness lists those seen in 3 periods

    @property
    def public_key(self) -> str:
        """The hex Ed25519 public key that verifies this service's audit checkpoints."""
        from infra.signing import Signer

        return Signer(self.audit_signing_key).public_key_hex

    def checkpointer(self):  # -> infra.signing.Checkpointer, one per writer
        from infra.signing import checkpointer_for

        return checkpointer_for(self.audit_signing_key, self.checkpoint_every, self.checkpoint_minutes,
                                self.audit_checkpoint_sink)

    @property
    def keyring(self):  # -> infra.signing.KeyRing: the current public key and every retired one
        from infra.signing import KeyRing

        return KeyRing.of([self.public_key, *self.audit_retired_public_keys])

    @property
    def coverage(self):  # -> infra.audit.Coverage: how densely verify requires the trail to be signed
        from infra.audit import Coverage

        return Coverage(every=self.checkpoint_every, minutes=self.checkpoint_minutes)

    @property
    def embedded(self) -> bool:
        """True on the embedded default (SQLite file): one API process, no server needed."""
        return self.database_url.startswith("sqlite")


def load_settings(environ: Mapping[str, str] | None = None, *, install: bool = False) -> Settings:
    """The settings from the environment. On the embedded default the keys live in the installation's var/
    directory: made there only by `install` (`bonemets migrate`, `bonemets run`); any other command run where
    there is no installation is refused, instead of starting a second one with new keys (issue 10)."""
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("BONEMETS_VAR_DIR", "./var")).resolve()
    database_url = env.get("BONEMETS_DATABASE_URL") or f"sqlite:///{var_dir / 'bonemets.db'}"
    log_format = env.get("BONEMETS_LOG_FORMAT") or ("console" if _stdout_is_tty() else "json")
    if log_format not in ("json", "console"):
        raise SettingsError(f"BONEMETS_LOG_FORMAT must be json or console, not {log_format!r}")
    return Settings(
        database_url=database_url,
        broker_url=env.get("BONEMETS_BROKER_URL") or f"sqla+sqlite:///{var_dir / 'broker.db'}",
        pseudonym_key=_pseudonym_key(env, var_dir, embedded=database_url.startswith("sqlite"), install=install),
        log_format=log_format,
        var_dir=var_dir,
        max_body_bytes=_int(env, "BONEMETS_MAX_BODY_BYTES", 1 << 20),
        audit_batch_max=_int(env, "BONEMETS_AUDIT_BATCH_MAX", 512),
        audit_timeout_s=float(env.get("BONEMETS_AUDIT_TIMEOUT_S", "10")),
        bulk_max_bytes=_int(env, "BONEMETS_BULK_MAX_BYTES", 512 << 20),
        bulk_max_line_bytes=_int(env, "BONEMETS_BULK_MAX_LINE_BYTES", 1 << 20),
        bulk_chunk_size=_int(env, "BONEMETS_BULK_CHUNK_SIZE", 500),
        visibility_timeout_s=_int(env, "BONEMETS_VISIBILITY_TIMEOUT_S", 300),
        unacked_restore_interval_s=float(env.get("BONEMETS_UNACKED_RESTORE_INTERVAL_S", "5")),
        audit_signing_key=_signing_key(env, var_dir, embedded=database_url.startswith("sqlite"), install=install),
        checkpoint_every=_at_least_one(env, "BONEMETS_CHECKPOINT_EVERY", 1000),
        checkpoint_minutes=_positive(env, "BONEMETS_CHECKPOINT_MINUTES", 10.0, unit="minutes"),
        audit_retired_public_keys=_retired_keys(env, var_dir),
        audit_checkpoint_sink=_sink(env),
        migration_database_url=env.get("BONEMETS_MIGRATION_DATABASE_URL") or None,
        bulk_results_days=_at_least_one(env, "BONEMETS_BULK_RESULTS_DAYS", 30),
        bulk_min_poll_s=float(env.get("BONEMETS_BULK_MIN_POLL_S", "1")),
        cds_issuers=_cds_issuers(env),
        public_url=(env.get("BONEMETS_PUBLIC_URL") or "").rstrip("/") or None,
        timezone=_timezone(env),
        report_link_ttl_s=_at_least_one(env, "BONEMETS_REPORT_LINK_TTL_S", 86400),
        cors_origins=_origins(env),
        metrics_token=_metrics_token(env),
        rate_limits=_rate_limits(env),
        worker_heartbeat_s=_positive(env, "BONEMETS_WORKER_HEARTBEAT_S", 10.0),
        audit_retention_days=_retention(env),
        auth_cache_ttl_s=_positive(env, "BONEMETS_AUTH_CACHE_TTL_S", 30.0),
        console_session_idle_s=_positive(env, "BONEMETS_CONSOLE_SESSION_IDLE_S", 900.0),
        console_session_max_s=_positive(env, "BONEMETS_CONSOLE_SESSION_MAX_S", 28800.0),
        db_statement_timeout_s=_positive(env, "BONEMETS_DB_STATEMENT_TIMEOUT_S", 60.0),
        db_lock_timeout_s=_positive(env, "BONEMETS_DB_LOCK_TIMEOUT_S", 4.0),
        db_idle_in_transaction_timeout_s=_positive(env, "BONEMETS_DB_IDLE_IN_TRANSACTION_TIMEOUT_S", 10.0),
        reconcile_after_s=_positive(env, "BONEMETS_RECONCILE_AFTER_S", 120.0),
        reconcile_interval_s=_positive(env, "BONEMETS_RECONCILE_INTERVAL_S", 30.0),
        reconcile_max_requeues=_int(env, "BONEMETS_RECONCILE_MAX_REQUEUES", 5),
    )


def _cds_issuers(env: Mapping[str, str]) -> Mapping[str, Any]:
    from infra.cds_auth import load_issuers

    try:
        return load_issuers(env)
    except ValueError as exc:
        raise SettingsError(f"CDS Hooks issuers: {exc}") from None


def _timezone(env: Mapping[str, str]) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = env.get("BONEMETS_TIMEZONE") or "Europe/Paris"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"BONEMETS_TIMEZONE {name!r} is not a known time zone") from None
    return name


def _pseudonym_key(env: Mapping[str, str], var_dir: Path, *, embedded: bool, install: bool) -> bytes:
    """The HMAC key for patient_ref: from the environment, or made once into var/ on the embedded default."""
    given = env.get("BONEMETS_PSEUDONYM_KEY")
    if given is not None:
        if not given.strip():
            raise SettingsError("BONEMETS_PSEUDONYM_KEY is blank")
        if len(given) < 32:
            raise SettingsError("BONEMETS_PSEUDONYM_KEY must be at least 32 characters")
        return given.encode()
    if not embedded:
        raise SettingsError("BONEMETS_PSEUDONYM_KEY is required with a server database")
    return _key_file(var_dir / "pseudonym.key", install).encode()


def _signing_key(env: Mapping[str, str], var_dir: Path, *, embedded: bool, install: bool) -> bytes:
    """The Ed25519 seed (32 bytes, hex) that signs audit checkpoints; made once into var/ when embedded."""
    given = env.get("BONEMETS_AUDIT_SIGNING_KEY")
    if given is None or not given.strip():
        if given is not None:
            raise SettingsError("BONEMETS_AUDIT_SIGNING_KEY is blank")
        if not embedded:
            raise SettingsError("BONEMETS_AUDIT_SIGNING_KEY is required with a server database")
        given = _key_file(var_dir / "audit-signing.key", install)
    try:
        seed = bytes.fromhex(given)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise SettingsError("BONEMETS_AUDIT_SIGNING_KEY must be 64 hexadecimal characters (an Ed25519 seed)")
    return seed


def _key_file(path: Path, install: bool) -> str:
    """A secret of 32 random bytes (hex) kept in `path`, made on first use (by an install only), readable by its
    owner only."""
    if not path.exists() and not install:
        raise SettingsError(f"no bonemets installation in {path.parent} (no {path.name}): run `bonemets migrate` "
                            "or `bonemets run` there first, or set BONEMETS_VAR_DIR to the installation's var/")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # two processes starting at once: the first one wins
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    """BONEMETS_CORS_ORIGINS: comma-separated origins (scheme://host[:port]) a browser may call the API from."""
    origins = tuple(o.strip().rstrip("/") for o in env.get("BONEMETS_CORS_ORIGINS", "").split(",") if o.strip())
    for origin in origins:
        scheme, sep, host = origin.partition("://")
        if origin == "*" or scheme not in ("http", "https") or not sep or not host or "/" in host:
            raise SettingsError(f"BONEMETS_CORS_ORIGINS holds {origin!r}: each entry is an origin such as "
                                "https://ehr.example.org (scheme and host, no path, no wildcard)")
    return origins


# The default budgets, per client and API process: requests, seconds. `api`: scores, pathways, evaluations, the
# catalogue, reports and bulk job reads (10/s sustained, 600 at once: far above a hospital's interactive use, far
# below a runaway loop); `bulk`: bulk job submissions (each up to BONEMETS_BULK_MAX_BYTES; 20 at once, then one
# every 3 minutes); `audit`: audit queries, exports and verification (each a scan of the trail; 300 pages at once,
# then 5/s); `cds`: CDS Hooks calls, per EHR (one EHR speaks for all its clinicians: 50/s sustained).
RATE_LIMITS: Mapping[str, tuple[int, int]] = {"api": (600, 60), "bulk": (20, 3600), "audit": (300, 60),
                                              "cds": (3000, 60)}
_OFF = ("0", "off", "false", "no")


def _rate_limits(env: Mapping[str, str]) -> Mapping[str, tuple[int, int]]:
    """BONEMETS_RATE_LIMIT (on by default; 0/off: no limit at all), and for each policy BONEMETS_RATE_LIMIT_<NAME>:
    REQUESTS/SECONDS (600/60: up to 600 requests at once, refilled at 600 per 60 s), or 0/off for none."""
    switch = env.get("BONEMETS_RATE_LIMIT", "on").strip().lower()
    if switch in _OFF:
        return {}
    if switch not in ("on", "1", "true", "yes", ""):
        raise SettingsError(f"BONEMETS_RATE_LIMIT must be on or off, not {switch!r}")
    limits: dict[str, tuple[int, int]] = {}
    for name, default in RATE_LIMITS.items():
        variable = f"BONEMETS_RATE_LIMIT_{name.upper()}"
        text = env.get(variable, "").strip().lower()
        if text in _OFF:
            continue
        if not text:
            limits[name] = default
            continue
        requests, slash, seconds = text.partition("/")
        try:
            budget = int(requests), int(seconds)
        except ValueError:
            budget = (0, 0)
        if not slash or min(budget) < 1:
            raise SettingsError(f"{variable} must be REQUESTS/SECONDS, two whole numbers of at least 1 (e.g. "
                                f"600/60: 600 requests at once, refilled at 600 per 60 s), or 0/off for no limit")
        limits[name] = budget
    return limits


def _metrics_token(env: Mapping[str, str]) -> str | None:
    """BONEMETS_METRICS_TOKEN: the bearer token a Prometheus elsewhere scrapes /metrics with."""
    token = env.get("BONEMETS_METRICS_TOKEN")
    if token is None or token == "":
        return None
    if len(token.strip()) < 16 or token != token.strip():
        raise SettingsError("BONEMETS_METRICS_TOKEN must be at least 16 characters, without spaces around them")
    return token


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name, default))
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None


def _retention(env: Mapping[str, str]) -> int:
    days = _int(env, "BONEMETS_AUDIT_RETENTION_DAYS", 3650)
    if days < 1:
        raise SettingsError("BONEMETS_AUDIT_RETENTION_DAYS must be at least 1 day")
    return days


def _positive(env: Mapping[str, str], name: str, default: float, unit: str = "seconds") -> float:
    try:
        value = float(env.get(name, default))
    except ValueError:
        raise SettingsError(f"{name} must be a number of {unit}") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a finite number of {unit}, more than 0")
    return value


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SettingsError(f"{name} must be at least 1")
    return value


RETIRED_KEYS_FILE = "audit-retired-public-keys"


def _retired_keys(env: Mapping[str, str], var_dir: Path) -> tuple[str, ...]:
    """The public keys of retired signing keys: BONEMETS_AUDIT_RETIRED_PUBLIC_KEYS (hex, comma-separated), and
    on the embedded default also var/audit-retired-public-keys, which `bonemets audit keys rotate` appends to."""
    from infra.signing import is_public_key

    given = [k.strip() for k in env.get("BONEMETS_AUDIT_RETIRED_PUBLIC_KEYS", "").split(",") if k.strip()]
    path = var_dir / RETIRED_KEYS_FILE
    if path.exists():
        given += [k.strip() for k in path.read_text().splitlines() if k.strip()]
    for key in given:
        if not is_public_key(key):
            raise SettingsError(f"BONEMETS_AUDIT_RETIRED_PUBLIC_KEYS: {key[:16]}... is not an Ed25519 public key "
                                "(64 hexadecimal characters)")
    return tuple(dict.fromkeys(given))


def _sink(env: Mapping[str, str]) -> str | None:
    from infra.signing import sink_for

    spec = env.get("BONEMETS_AUDIT_CHECKPOINT_SINK", "").strip() or None
    if spec is not None:
        try:
            sink_for(spec)
        except ValueError as exc:
            raise SettingsError(f"BONEMETS_AUDIT_CHECKPOINT_SINK: {exc}") from None
    return spec


def _stdout_is_tty() -> bool:
    try:
        return os.isatty(1)
    except OSError:
        return False
