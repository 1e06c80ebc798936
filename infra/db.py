"""Engines, with the settings each database needs for the audit trail's durability."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

# TCP keepalives and a user timeout: a dead peer is noticed in about 10 s, idle or mid-request (issue 10).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
              "tcp_user_timeout": 10_000}


def make_engine(url: str, *, pool_size: int = 5, statement_timeout_s: float = 60.0, lock_timeout_s: float = 4.0,
                idle_in_transaction_timeout_s: float = 10.0, pooled: bool = True, relaxed: bool = False) -> Engine:
    """An engine with the service's own session limits: on PostgreSQL a statement, a wait for a lock and an idle
    transaction are bounded by the server (a lost client can never hold the audit chain's lock), and the socket
    has keepalives and a user timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 5, "check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = pg_connect_args(statement_timeout_s, lock_timeout_s, idle_in_transaction_timeout_s, relaxed)
    if not pooled:  # a connection of its own each time (the audit writer's: it keeps one, and is never handed
        return create_engine(url, poolclass=NullPool, connect_args=connect_args,  # a stale pooled one)
                             hide_parameters=True)
    # hide_parameters: a database error's text never carries the values of a query (a line, a reference)
    return create_engine(url, pool_size=pool_size, pool_pre_ping=True, pool_timeout=5, connect_args=connect_args,
                         hide_parameters=True, **({"isolation_level": "AUTOCOMMIT"} if relaxed else {}))


def pg_connect_args(statement_timeout_s: float, lock_timeout_s: float, idle_in_transaction_timeout_s: float,
                    relaxed: bool) -> dict[str, Any]:
    """libpq connection options of the service's PostgreSQL sessions (make_engine's, and infra.cds_store's own
    event-loop connections)."""
    limits = {"statement_timeout": statement_timeout_s, "lock_timeout": lock_timeout_s,
              "idle_in_transaction_session_timeout": idle_in_transaction_timeout_s}
    options = " ".join(f"-c {name}={round(seconds * 1000)}" for name, seconds in limits.items())
    if relaxed:  # `relaxed`: autocommit, and a commit that does not wait for the disk — never for the audit trail
        options += " -c synchronous_commit=off"
    return {"connect_timeout": 3, **KEEPALIVES, "options": options}


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (psycopg.connect) reads it: the connections opened beside an engine."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def engine_for(settings: Any, *, pool_size: int = 5, pooled: bool = True, relaxed: bool = False) -> Engine:
    """make_engine with the limits of `settings` (infra.settings.Settings)."""
    return make_engine(settings.database_url, pool_size=pool_size, statement_timeout_s=settings.db_statement_timeout_s,
                       lock_timeout_s=settings.db_lock_timeout_s, pooled=pooled, relaxed=relaxed,
                       idle_in_transaction_timeout_s=settings.db_idle_in_transaction_timeout_s)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged audit record survives a power loss
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextlib.contextmanager
def raw_transaction(engine: Engine, checkpoints: Any = None) -> Iterator[Any]:
    """A DBAPI cursor in one transaction, committed on success and rolled back on any failure: for the
    few writes that chain audit records with other rows under the chain's lock. The checkpoints signed in it
    (`checkpoints`: an infra.signing.Checkpointer) reach the external sink once it has committed, never before."""
    raw = engine.raw_connection()
    if checkpoints is not None:
        checkpoints.begin()
    try:
        yield raw.cursor()
        raw.commit()
    except BaseException as exc:
        from infra.audit import connection_lost

        if connection_lost(exc):  # a dead connection is discarded: reset on its return, the pool logged an error
            raw.invalidate(exc)
        else:
            with contextlib.suppress(Exception):
                raw.rollback()
        raise
    finally:
        raw.close()
    if checkpoints is not None:
        checkpoints.publish()


def placeholder(engine: Engine) -> str:
    """The DBAPI parameter mark: psycopg's %s, sqlite3's ?."""
    return "%s" if engine.dialect.name == "postgresql" else "?"
