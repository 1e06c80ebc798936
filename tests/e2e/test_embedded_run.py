"""`bonemets run` on the embedded default, as the README starts it: a SQLite file, an embedded broker."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import httpx

from tests.cases import VALID
from tests.integration.test_audit_chain import free_port, wait_ready


def cli(*args, env):
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_run_serves_audited_scores_with_neither_redis_nor_postgres(tmp_path):
    env = {"BONEMETS_VAR_DIR": str(tmp_path / "var"), "PATH": os.environ.get("PATH", "")}
    port = free_port()
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen([sys.executable, "-m", "api.cli", "run", "--port", str(port)], env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(port, timeout=60)
        created = cli("keys", "create", "--client", "ward-7", "--roles", "scoring,auditor", env=env)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("bm_") and " " not in key
        headers = {"Authorization": f"Bearer {key}"}
        r = httpx.post(f"http://127.0.0.1:{port}/v1/scores/sins", json=VALID["sins"], headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["audit_id"]
        verify = httpx.get(f"http://127.0.0.1:{port}/v1/audit/verify", headers=headers, timeout=10).json()
        assert {k: verify[k] for k in ("intact", "records", "first_broken", "head")} == {
            "intact": True, "records": 1, "first_broken": None, "head": 1}
        bulk_job_completes_on_the_embedded_worker(port, env)
        an_ehr_trusted_by_the_cli_calls_the_running_service(port, env)
        assert run.poll() is None, "run stopped: " + (tmp_path / "run.log").read_text()[-2000:]
        assert cli("audit", "verify", env=env).returncode == 0
        assert {p.name for p in (tmp_path / "var").iterdir()} >= {"bonemets.db", "broker.db", "pseudonym.key"}
        # not a terminal: JSON mode, and every line run, its API and its worker write is a JSON object (issue 15)
        lines = [line for line in (tmp_path / "run.log").read_text().splitlines() if line.strip()]
        assert {json.loads(line)["event"] for line in lines} >= {"migrations.applied", "service.started"}
    finally:
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=30)
        log.close()


def an_ehr_trusted_by_the_cli_calls_the_running_service(port, env):
    """The README's CDS Hooks try-out: a local EHR key trusted while the service runs, a token for the URL called."""
    assert cli("cds", "try-key", env=env).returncode == 0
    url = f"http://127.0.0.1:{port}/cds-services"
    token = cli("cds", "token", "--aud", url, env=env).stdout.strip()
    discovery = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert discovery.status_code == 200 and len(discovery.json()["services"]) == 2
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401  # replayed
    wrong = cli("cds", "token", "--aud", f"{url}/bonemets-order-select", env=env).stdout.strip()
    assert httpx.get(url, headers={"Authorization": f"Bearer {wrong}"}, timeout=10).status_code == 401


def bulk_job_completes_on_the_embedded_worker(port, env):
    """The README's bulk example: NDJSON posted as curl would, polled until done, results downloaded."""
    created = cli("keys", "create", "--client", "registry-x", "--roles", "registry", env=env)
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}",
               "Content-Type": "application/x-ndjson"}
    lines = [json.dumps({"kind": "sins", "line_id": i, **VALID["sins"]}) for i in range(1200)]
    lines[3] = '{"kind": "sins", "pain": "sometimes"}'
    base = f"http://127.0.0.1:{port}/v1/bulk-jobs"
    r = httpx.post(base, content="\n".join(lines), headers=headers, timeout=30)
    assert r.status_code == 202, r.text
    location = f"http://127.0.0.1:{port}{r.headers['location']}"
    deadline = time.monotonic() + 90
    while (polled := httpx.get(location, headers=headers, timeout=10)).status_code != 200:
        assert polled.status_code == 202 and time.monotonic() < deadline, polled.text  # as Bulk Data: 202, then 200
        time.sleep(float(polled.headers["retry-after"]))  # the documented interval: never a 429
    status = polled.json()
    assert status["status"] == "succeeded" and status["output"][0]["count"] == 1199
    assert (status["done"], status["failed"]) == (1199, 1)
    results = httpx.get(f"{location}/results", headers=headers, timeout=30).text.splitlines()
    assert len(results) == 1200 and json.loads(results[3])["ok"] is False


def test_keys_create_rejects_an_unknown_role(tmp_path):
    env = {"BONEMETS_VAR_DIR": str(tmp_path / "var"), "PATH": ""}
    assert cli("migrate", env=env).returncode == 0
    bad = cli("keys", "create", "--client", "x", "--roles", "scoring,admin", env=env)
    assert bad.returncode == 2 and "admin" in bad.stderr


def test_production_settings_require_a_pseudonym_key(tmp_path):
    env = {"BONEMETS_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", "PATH": ""}
    result = cli("audit", "verify", env=env)
    assert result.returncode == 2 and "BONEMETS_PSEUDONYM_KEY" in result.stderr


def test_sigterm_to_run_stops_the_api_and_its_worker(tmp_path):
    """A service manager stops `bonemets run` with SIGTERM: the worker goes with it, none is orphaned."""
    env = {"BONEMETS_VAR_DIR": str(tmp_path / "var"), "PATH": os.environ.get("PATH", "")}
    port = free_port()
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        run = subprocess.Popen([sys.executable, "-m", "api.cli", "run", "--port", str(port)], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
        wait_ready(port, timeout=60)
        started = [json.loads(line) for line in log_path.read_text().splitlines() if '"service.started"' in line]
        worker_pid = started[0]["worker_pid"]  # not a terminal: JSON mode
        run.send_signal(signal.SIGTERM)  # to the run process alone, as systemd or docker stop would
        run.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(worker_pid):
        time.sleep(0.2)
    assert not _alive(worker_pid), "the worker outlived run: " + log_path.read_text()[-1500:]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = pathlib.Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"  # a zombie has exited, unreaped


def test_the_cli_refuses_where_there_is_no_installation(tmp_path):
    """Run from another directory, the CLI says so in one line and creates nothing (issue 10)."""
    env = {"BONEMETS_VAR_DIR": str(tmp_path / "elsewhere" / "var"), "PATH": os.environ.get("PATH", "")}
    for command in (("keys", "list"), ("audit", "verify"), ("serve",)):
        refused = cli(*command, env=env)
        assert refused.returncode == 2, refused
        assert refused.stderr.count("\n") == 1 and "no bonemets installation in" in refused.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_keys_are_listed_revoked_and_expire(tmp_path):
    env = {"BONEMETS_VAR_DIR": str(tmp_path / "var"), "PATH": os.environ.get("PATH", "")}
    assert cli("migrate", env=env).returncode == 0
    key = cli("keys", "create", "--client", "ward-7", "--roles", "scoring", "--expires-in-days", "30",
              env=env).stdout.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    listed = cli("keys", "list", env=env).stdout
    assert key_id in listed and "ward-7" in listed and "in force" in listed and key not in listed
    assert cli("keys", "revoke", key_id, env=env).returncode == 0
    assert "revoked" in cli("keys", "list", env=env).stdout
    again = cli("keys", "revoke", key_id, env=env)
    assert again.returncode == 2 and "no key in force" in again.stderr
