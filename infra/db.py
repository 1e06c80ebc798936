"""Engines, with the settings each database needs for the audit trail's durability."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 5, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 3},
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged audit record survives a power loss
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextlib.contextmanager
def raw_transaction(engine: Engine) -> Iterator[Any]:
    """A DBAPI cursor in one transaction, committed on success and rolled back on any failure: for the
    few writes that chain audit records with other rows under the chain's lock."""
    raw = engine.raw_connection()
    try:
        yield raw.cursor()
        raw.commit()
    except BaseException:
        with contextlib.suppress(Exception):  # the connection may be the thing that failed
            raw.rollback()
        raise
    finally:
        raw.close()


def placeholder(engine: Engine) -> str:
    """The DBAPI parameter mark: psycopg's %s, sqlite3's ?."""
    return "%s" if engine.dialect.name == "postgresql" else "?"
