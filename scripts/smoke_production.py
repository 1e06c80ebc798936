"""The production path, end to end, as an operator starts it: a non-dev install (`pip install .`), `bonemets
migrate`, `bonemets serve` and `bonemets worker` on PostgreSQL and Redis, then a bulk job and a PDF report
through HTTP, and again through the registry CLI (`bonemets bulk submit`). Standard library only: it runs with the
production virtual environment's Python.

    python scripts/smoke_production.py --bin /path/to/venv/bin --database-url postgresql+psycopg://... \\
        --broker-url redis://127.0.0.1:6379/12
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CASE = {"kind": "evaluation", "evaluation_date": "2025-06-01", "patient_ref": "SMOKE-0001",
        "patient": {"age": 70, "sex": "female", "weight_kg": 58, "creatinine": {"value": 95, "unit": "umol_l"},
                    "karnofsky": 70, "life_expectancy_months": 10},
        "lesions": [{"id": "T12", "kind": "spine", "spine": {"vertebral_involvement": True, "cord_threat": False,
                     "sins": {"level": "T12", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
                              "collapse": "under_50", "posterolateral": "none"}}}]}


def call(method: str, url: str, key: str, body: bytes | None = None, content_type: str = "application/json"):
    request = urllib.request.Request(url, data=body, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
    except (urllib.error.URLError, ConnectionError):  # not listening yet
        return 0, {}, b""


def wait_for(predicate, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise SystemExit(f"smoke: timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="the bin/ of the production virtual environment")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--broker-url", required=True)
    parser.add_argument("--migration-database-url", help="the owner's connection for `bonemets migrate`; the service "
                                                         "itself connects with --database-url (the application role)")
    args = parser.parse_args()
    bonemets = str(Path(args.bin) / "bonemets")
    workdir = Path(tempfile.mkdtemp(prefix="bonemets-smoke-"))
    env = {"PATH": os.environ.get("PATH", ""), "BONEMETS_DATABASE_URL": args.database_url,
           "BONEMETS_BROKER_URL": args.broker_url, "BONEMETS_PSEUDONYM_KEY": secrets.token_hex(32),
           "BONEMETS_AUDIT_SIGNING_KEY": secrets.token_hex(32), "BONEMETS_LOG_FORMAT": "json",
           "BONEMETS_VAR_DIR": str(workdir / "var"),
           "BONEMETS_AUDIT_CHECKPOINT_SINK": str(workdir / "published-checkpoints.ndjson")}
    if args.migration_database_url:
        env["BONEMETS_MIGRATION_DATABASE_URL"] = args.migration_database_url
    subprocess.run([bonemets, "migrate"], env=env, check=True, cwd=workdir)
    created = subprocess.run([bonemets, "keys", "create", "--client", "smoke", "--roles", "scoring,registry"],
                             env=env, check=True, cwd=workdir, capture_output=True, text=True)
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    logs = {name: open(workdir / f"{name}.log", "w") for name in ("serve", "worker")}  # noqa: SIM115
    processes = [subprocess.Popen([bonemets, "serve", "--port", str(port)], env=env, cwd=workdir,
                                  stdout=logs["serve"], stderr=subprocess.STDOUT),
                 subprocess.Popen([bonemets, "worker", "--concurrency", "1"], env=env, cwd=workdir,
                                  stdout=logs["worker"], stderr=subprocess.STDOUT)]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: call("GET", f"{base}/health/ready", key)[0] == 200, "readiness")
        lines = b"".join(json.dumps({**CASE, "line_id": n}).encode() + b"\n" for n in range(1, 51))
        status, headers, body = call("POST", f"{base}/v1/bulk-jobs", key, lines, "application/x-ndjson")
        assert status == 202, (status, body)
        job = headers["Location"]
        wait_for(lambda: json.loads(call("GET", base + job, key)[2])["status"] == "succeeded", "the bulk job")
        status, _, results = call("GET", f"{base}{job}/results", key)
        rows = [json.loads(line) for line in results.splitlines()]
        assert status == 200 and len(rows) == 50 and all(r["ok"] for r in rows), results[:500]
        assert all(r["result"]["withheld"] == [] and r["result"]["audit_id"] for r in rows)
        status, headers, body = call("POST", f"{base}/v1/reports", key,
                                     json.dumps({"audit_id": rows[0]["result"]["audit_id"]}).encode())
        assert status == 202, (status, body)
        report = headers["Location"]
        wait_for(lambda: call("GET", base + report, key)[0] == 200, "the PDF report")
        status, headers, pdf = call("GET", base + report, key)
        assert headers["Content-Type"] == "application/pdf" and pdf.startswith(b"%PDF"), headers
        client_run(bonemets, base, key, lines, workdir / "client")
    except BaseException:
        for name, log in logs.items():
            log.flush()
            print(f"--- {name} log ---\n{(workdir / f'{name}.log').read_text()[-4000:]}", file=sys.stderr)
        stop(processes)
        raise
    stop(processes)  # a writer that stops signs the head: every record is covered by a published checkpoint
    verified = subprocess.run([bonemets, "audit", "verify", "--against-checkpoints", env[
        "BONEMETS_AUDIT_CHECKPOINT_SINK"]], env=env, cwd=workdir, capture_output=True, text=True)
    assert verified.returncode == 0 and "also published outside the database" in verified.stdout, verified
    print(f"smoke: production path ok (pip install ., PostgreSQL, Redis, the application role): 50-line bulk job, "
          f"{len(pdf)}-byte PDF report, the same through `bonemets bulk submit`; {verified.stdout.strip()}",
          flush=True)
    return 0


def client_run(bonemets: str, base: str, key: str, lines: bytes, client: Path) -> None:
    """The registry CLI as on a machine with the package and nothing else: no settings, no installation."""
    client.mkdir()
    (client / "cases.ndjson").write_bytes(lines)
    run = subprocess.run([bonemets, "bulk", "submit", "cases.ndjson", "--new", "--out", "results.ndjson", "--report",
                          "summary.pdf"], env={"PATH": os.environ.get("PATH", ""), "BONEMETS_URL": base,
                                               "BONEMETS_API_KEY": key}, cwd=client, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert len((client / "results.ndjson").read_bytes().splitlines()) == 50, run.stdout
    assert (client / "summary.pdf").read_bytes().startswith(b"%PDF"), run.stdout


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    sys.exit(main())
