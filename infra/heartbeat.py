"""Worker heartbeats (issue 15): each worker's main process writes a row every BONEMETS_WORKER_HEARTBEAT_S seconds
(its Celery node name, pid, and the time), and removes it when it stops; readiness lists the workers seen within
three periods, so one missed beat (a database blip, a long pause) does not make a worker vanish, and a worker killed
without a word disappears within three periods.

The times are the database's own clock (seconds since the epoch), written and compared in SQL: a worker host's
clock that drifts from the API host's cannot make a live worker look dead, or a dead one alive. The table is the
database every part already reaches (SQLite on the embedded default, PostgreSQL in production), so the heartbeat
needs no broker feature the embedded transport lacks.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection, Engine, text

log = structlog.get_logger("bonemets.heartbeat")

FORGET_AFTER_S = 86400.0  # rows of workers gone this long are deleted (a crash leaves its row behind)
WINDOW_PERIODS = 3  # readiness lists the workers seen within this many heartbeat periods


def _now(bind: Engine | Connection) -> str:
    """The database's clock, in seconds since the epoch, as an SQL expression."""
    if bind.dialect.name == "postgresql":
        return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"
    return "((julianday('now') - 2440587.5) * 86400.0)"


def beat(engine: Engine, worker_id: str, name: str, pid: int) -> None:
    """This worker is alive now; rows of workers silent for a day are dropped in the same transaction."""
    now = _now(engine)
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO worker_heartbeat (id, name, pid, started_at, seen_at) "
                          f"VALUES (:id, :name, :pid, {now}, {now}) "
                          f"ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at"),
                     {"id": worker_id, "name": name, "pid": pid})
        conn.execute(text(f"DELETE FROM worker_heartbeat WHERE seen_at < {now} - :forget"),
                     {"forget": FORGET_AFTER_S})


def forget(engine: Engine, worker_id: str) -> None:
    """This worker stops: readiness stops listing it at once, not three periods later."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM worker_heartbeat WHERE id = :id"), {"id": worker_id})


@dataclass(frozen=True)
class SeenWorker:
    name: str
    pid: int
    last_seen_s: float


def alive(conn: Connection, window_s: float) -> list[SeenWorker]:
    """The workers whose last heartbeat is at most `window_s` old, by name."""
    now = _now(conn)
    rows = conn.execute(text(f"SELECT name, pid, {now} - seen_at FROM worker_heartbeat "
                             f"WHERE seen_at >= {now} - :window ORDER BY name, pid"), {"window": window_s})
    return [SeenWorker(name=name, pid=pid, last_seen_s=round(max(age, 0.0), 1)) for name, pid, age in rows]


class Heartbeat:
    """A daemon thread beside a worker's main process, beating every `period_s` seconds until stopped."""

    def __init__(self, engine: Engine, name: str, period_s: float) -> None:
        self._engine, self._period_s = engine, period_s
        self.name, self.pid = name, os.getpid()
        self.id = f"{name}:{socket.gethostname()}:{self.pid}"[:160]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bonemets-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and remove this worker's row (best effort: a database away leaves it to the window)."""
        self._stop.set()
        self._thread.join(timeout=self._period_s + 5)
        try:
            forget(self._engine, self.id)
        except Exception as exc:
            log.warning("heartbeat.forget_failed", error=type(exc).__name__)

    def _run(self) -> None:
        failing = False
        while True:
            try:
                beat(self._engine, self.id, self.name, self.pid)
                if failing:
                    log.info("heartbeat.restored", worker=self.name)
                failing = False
            except Exception as exc:  # the database away: said once, then tried again each period
                if not failing:
                    log.warning("heartbeat.failed", worker=self.name, error=type(exc).__name__)
                failing = True
            if self._stop.wait(self._period_s):
                return
