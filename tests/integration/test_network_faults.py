"""Network faults between the API processes and PostgreSQL (issue 10): a drop, a blackhole and a reset, for
0.3 s and for 10 s, at random points of the writes and right between the chain head's lock and its commit. Within
15 s of the fault's end every API process answers 200 again, no session holds the chain's lock, and nothing was
lost: every 200's audit id has its committed record and the chain verifies."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from infra import audit
from infra.keys import create_key
from tests.conftest import PSEUDONYM_KEY, SIGNING_KEY, Keys
from tests.faultproxy import FaultProxy
from tests.integration.test_audit_chain import free_port, wait_ready

RECOVERY_BOUND_S = 15
SINS = {"location": "junctional", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
        "collapse": "none", "posterolateral": "none"}
# (mode, seconds, at the lock): the 0.3 s faults strike between SELECT ... FOR UPDATE and COMMIT
FAULTS = [("drop", 0.3, True), ("blackhole", 0.3, True), ("reset", 0.3, True),
          ("drop", 10, False), ("blackhole", 10, False), ("reset", 10, False)]


class Load:
    """Clients that keep posting to every API process, remembering the audit id of every 200."""

    def __init__(self, ports: list[int], key: str) -> None:
        self.ports, self.key = ports, key
        self.audit_ids: list[str] = []
        self.statuses: dict[int, int] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(port,), daemon=True) for port in ports * 2]

    def _run(self, port: int) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    r = client.post(f"http://127.0.0.1:{port}/v1/scores/sins", json=SINS,
                                    headers=Keys.header(self.key))
                except httpx.HTTPError:
                    continue
                self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    self.audit_ids.append(r.json()["audit_id"])
                else:
                    assert r.status_code == 503, r.text  # never a 500: the audit trail is down, nothing else

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def recovery_seconds(ports: list[int], key: str) -> float:
    """Seconds until every API process has answered 200 again."""
    started = time.monotonic()
    pending = set(ports)
    with httpx.Client(timeout=20) as client:
        while pending and time.monotonic() - started < 60:
            for port in list(pending):
                try:
                    r = client.post(f"http://127.0.0.1:{port}/v1/scores/sins", json=SINS, headers=Keys.header(key))
                    if r.status_code == 200:
                        pending.discard(port)
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
    assert not pending, f"API processes on {pending} never answered 200 again"
    return time.monotonic() - started


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_api_processes_recover_from_network_faults_and_lose_nothing(settings, engine, tmp_path):
    key = create_key(engine, "hospital-a", ("scoring",))
    proxy = FaultProxy(("127.0.0.1", 5432))
    url = settings.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    env = {"BONEMETS_DATABASE_URL": url, "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY,
           "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY, "BONEMETS_VAR_DIR": str(tmp_path), "BONEMETS_LOG_FORMAT": "json",
           "BONEMETS_RATE_LIMIT_API": "1000000/1",  # a load test: one client as fast as it can, for a minute
           "PATH": ""}
    ports = [free_port(), free_port()]
    logs = [(tmp_path / f"server-{p}.log").open("w") for p in ports]
    servers = [subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(p)], env=env,
                                stdout=log, stderr=subprocess.STDOUT) for p, log in zip(ports, logs, strict=True)]
    recoveries = {}
    try:
        for port in ports:
            wait_ready(port)
        with Load(ports, key) as load:
            for mode, seconds, at_lock in FAULTS:
                time.sleep(random.uniform(0.2, 1.0))  # a random point of the running writes
                if at_lock:
                    proxy.arm(mode, seconds)
                    deadline = time.monotonic() + 10
                    while not proxy.faulty() and time.monotonic() < deadline:
                        time.sleep(0.005)
                else:
                    proxy.fault(mode, seconds)
                proxy.wait_healed()
                try:
                    recoveries[(mode, seconds)] = round(recovery_seconds(ports, key), 2)
                except AssertionError:
                    for server in servers:  # every thread's stack into the server's log (faulthandler)
                        server.send_signal(signal.SIGUSR1)
                    time.sleep(1)
                    raise AssertionError(f"no recovery after {mode} {seconds} s; recovered before: {recoveries}; "
                                         f"logs in {tmp_path}") from None
        served = load.audit_ids
    finally:
        for server, log in zip(servers, logs, strict=True):
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a server stuck on a dead connection is not left behind
                server.kill()
                server.wait(timeout=10)
            log.close()
        proxy.close()
    print(f"recovery after each fault (s): {recoveries}; statuses under load: {load.statuses}")
    assert all(s <= RECOVERY_BOUND_S for s in recoveries.values()), recoveries
    assert len(served) > 100
    with engine.begin() as conn:  # no session holds the chain's lock
        conn.execute(text("SET LOCAL lock_timeout = '1s'"))
        conn.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT"))
        stored = {row[0] for row in conn.execute(text("SELECT id FROM audit_record"))}
    assert set(served) <= stored  # every 200 had its committed record
    assert audit.verify(engine, settings.keyring, coverage=settings.coverage).intact


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_service_sets_its_own_session_limits_and_keepalives(settings):
    from dataclasses import replace

    from infra.db import engine_for

    engine = engine_for(replace(settings, db_lock_timeout_s=2.5))
    with engine.connect() as conn:
        shown = {name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in (
            "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")}
        params = conn.connection.driver_connection.info.get_parameters()
    engine.dispose()
    assert shown == {"statement_timeout": "1min", "lock_timeout": "2500ms",
                     "idle_in_transaction_session_timeout": "10s"}
    assert (params["keepalives"], params["keepalives_idle"], params["tcp_user_timeout"]) == ("1", "5", "10000")
