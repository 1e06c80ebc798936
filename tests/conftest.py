"""Fixtures shared by every test: databases (SQLite file and the real PostgreSQL), apps and API keys.

PostgreSQL tests run against the server at BONEMETS_TEST_POSTGRES_URL (default 127.0.0.1:5432), each
session in a database of its own, dropped at the end. Where no server answers, they are skipped with
the reason, unless BONEMETS_REQUIRE_SERVICES=1 (as .ci/run sets), where they fail instead.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from infra.db import make_engine
from infra.keys import create_key
from infra.migrate import migrate
from infra.settings import Settings, load_settings

PG_ADMIN_URL = os.environ.get("BONEMETS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("BONEMETS_REQUIRE_SERVICES") == "1"
PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef0123456789"
SIGNING_KEY = "5e" * 32  # an Ed25519 seed for the tests' checkpoints


def unavailable(service: str, reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{service} is required (BONEMETS_REQUIRE_SERVICES=1) but unavailable: {reason}")
    pytest.skip(f"{service} unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; yields its URL."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"bonemets_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable("PostgreSQL", str(exc).splitlines()[0])
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@dataclass
class ProxiedPostgres:
    """A migrated PostgreSQL reached through a FaultProxy (tests/faultproxy.py) that a test can stall or cut, and
    the service's settings pointing at the proxy."""

    proxy: object
    url: str

    def settings(self, var_dir: Path, **extra: str) -> Settings:
        return load_settings({"BONEMETS_DATABASE_URL": self.url, "BONEMETS_VAR_DIR": str(var_dir),
                              "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY, "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY,
                              "BONEMETS_LOG_FORMAT": "json", **extra})


@pytest.fixture
def proxied_postgres(postgres_server: str) -> Iterator[ProxiedPostgres]:
    from tests.faultproxy import FaultProxy

    _reset_postgres(postgres_server)
    engine = make_engine(postgres_server)
    migrate(engine)
    engine.dispose()
    proxy = FaultProxy(("127.0.0.1", 5432))
    try:
        yield ProxiedPostgres(proxy, postgres_server.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
    finally:
        proxy.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a SQLite file, then the real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bonemets.db'}"
    else:
        url = request.getfixturevalue("postgres_server")
        _reset_postgres(url)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


APP_ROLE = "bonemets_app"


def as_app_role(url: str) -> str:
    """The URL the service itself connects with: on PostgreSQL the application role the migrations made, with
    only the rights the service needs (issue 11), so every API and worker test also proves they are enough."""
    if not url.startswith("postgresql"):
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=APP_ROLE, password=None).render_as_string(hide_password=False)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = load_settings({"BONEMETS_DATABASE_URL": as_app_role(database_url), "BONEMETS_VAR_DIR": str(tmp_path / "var"),
                          "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY, "BONEMETS_LOG_FORMAT": "json",
                          "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY})
    return replace(base, max_body_bytes=64 * 1024)


@dataclass(frozen=True)
class Keys:
    scoring: str
    registry: str
    auditor: str
    everything: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(engine: Engine) -> Keys:
    return Keys(
        scoring=create_key(engine, "hospital-a", ("scoring",)),
        registry=create_key(engine, "registry-b", ("registry",)),
        auditor=create_key(engine, "compliance", ("auditor",)),
        everything=create_key(engine, "ops", ("scoring", "registry", "auditor")),
    )


@pytest.fixture
def log_stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def client(settings: Settings, keys: Keys, log_stream: io.StringIO):
    from litestar.testing import TestClient

    from api.app import create_app
    from infra.log import configure_logging

    configure_logging("json", stream=log_stream)
    app = create_app(settings, configure_logs=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


REDIS_URL = os.environ.get("BONEMETS_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture
def redis_broker() -> str:
    """The real Redis, one database of it emptied for the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        unavailable("Redis", str(exc))
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def bulk_env(postgres_server: str, redis_broker: str, tmp_path: Path) -> dict[str, str]:
    """Settings of a production-shaped deployment: PostgreSQL, Redis, short redelivery for the tests."""
    _reset_postgres(postgres_server)
    engine = make_engine(postgres_server)
    migrate(engine)
    engine.dispose()
    return {"BONEMETS_DATABASE_URL": as_app_role(postgres_server), "BONEMETS_BROKER_URL": redis_broker,
            "BONEMETS_MIGRATION_DATABASE_URL": postgres_server,
            "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY, "BONEMETS_VAR_DIR": str(tmp_path / "var"),
            "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY,
            "BONEMETS_LOG_FORMAT": "json", "BONEMETS_BULK_CHUNK_SIZE": "200",
            "BONEMETS_VISIBILITY_TIMEOUT_S": "6", "BONEMETS_UNACKED_RESTORE_INTERVAL_S": "1",
            "BONEMETS_BULK_MIN_POLL_S": "0",  # the tests poll fast; one test turns the limit on
            "PATH": os.environ.get("PATH", "")}


@pytest.fixture
def worker(bulk_env: dict[str, str], tmp_path: Path):
    from tests.integration.workers import WorkerProcess

    process = WorkerProcess(bulk_env, tmp_path / "worker.log").start()
    yield process
    process.stop()


@pytest.fixture
def bulk_client(bulk_env: dict[str, str]):
    """The API on the bulk deployment, with a registry key for two clients and a scoring key."""
    from litestar.testing import TestClient

    from api.app import create_app

    settings = load_settings(bulk_env)
    engine = make_engine(settings.database_url)
    keys = {"registry": create_key(engine, "registry-b", ("registry",)),
            "other": create_key(engine, "registry-c", ("registry",)),
            "scoring": create_key(engine, "hospital-a", ("scoring",))}
    engine.dispose()
    with TestClient(create_app(settings, configure_logs=False), raise_server_exceptions=False) as client:
        client.keys = keys
        client.engine_url = settings.database_url
        yield client


from tests.cds_fixtures import cds_client, ehr  # noqa: E402, F401 — the CDS Hooks tests' EHR, for every test module
