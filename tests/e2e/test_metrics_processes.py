"""`bonemets serve --workers 2` (issue 15): a scrape reaches one API process, chosen by the kernel, and answers for
both: prometheus_client's multiprocess mode, the files of every process summed. The directory given in
PROMETHEUS_MULTIPROC_DIR is emptied at start."""

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PSEUDONYM_KEY, SIGNING_KEY, _reset_postgres, as_app_role
from tests.e2e.test_embedded_run import cli
from tests.integration.test_audit_chain import free_port, wait_ready

pytestmark = pytest.mark.postgres
TOKEN = "metrics-token-0123456789abcdef"
TOMITA = {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"}
ROUTE = {"method": "POST", "route": "/v1/scores/tomita", "status": "200"}


def tomita_requests(samples) -> float:
    return sum(s.value for s in samples if s.name == "bonemets_http_requests_total" and s.labels == ROUTE)


def test_every_scrape_of_two_api_processes_counts_the_requests_of_both(postgres_server, tmp_path):
    _reset_postgres(postgres_server)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")  # would fail every scrape if kept
    env = {**os.environ, "BONEMETS_DATABASE_URL": as_app_role(postgres_server),
           "BONEMETS_MIGRATION_DATABASE_URL": postgres_server, "BONEMETS_PSEUDONYM_KEY": PSEUDONYM_KEY,
           "BONEMETS_AUDIT_SIGNING_KEY": SIGNING_KEY, "BONEMETS_VAR_DIR": str(tmp_path / "var"),
           "BONEMETS_LOG_FORMAT": "json", "BONEMETS_METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    assert cli("migrate", env=env).returncode == 0
    key = cli("keys", "create", "--client", "hospital-a", "--roles", "scoring", env=env).stdout.split()[-1]
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def score(_):  # a connection of its own each time: the kernel picks the process that accepts it
        with httpx.Client(base_url=base, timeout=30) as http:
            return http.post("/v1/scores/tomita", json=TOMITA, headers={"Authorization": f"Bearer {key}"})

    try:
        wait_ready(port, timeout=60)
        sent, served_by = 0, {}
        with ThreadPoolExecutor(8) as pool:
            while sent < 400 and len([n for n in served_by.values() if n]) < 2:  # until both have answered some
                assert all(r.status_code == 200 for r in pool.map(score, range(40)))
                sent += 40
                served_by = {f.name: tomita_requests(s for m in MultiProcessCollector.merge([str(f)])
                                                     for s in m.samples)
                             for f in metrics_dir.glob("counter_*.db")}
        assert len([n for n in served_by.values() if n]) == 2, served_by
        assert sum(served_by.values()) == sent
        for _ in range(6):  # whichever process answers, every request of both
            with httpx.Client(base_url=base, timeout=30) as http:
                r = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200
            samples = [s for family in text_string_to_metric_families(r.text) for s in family.samples]
            assert tomita_requests(samples) == sent
            records = sum(s.value for s in samples if s.name == "bonemets_audit_batch_records_sum")
            assert records == sent
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
