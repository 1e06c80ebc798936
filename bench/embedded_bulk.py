"""Bulk throughput on the embedded default (SQLite file, SQLite broker, one worker), end to end as the README's
start command runs it: `bonemets run` in a fresh directory, a registry key, N SINS lines submitted, polled to
completion.

    .venv/bin/python bench/embedded_bulk.py [--lines 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from domain.kinds import KINDS  # noqa: E402
from tests.integration.test_audit_chain import free_port, wait_ready  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "BONEMETS_VAR_DIR": var, "BONEMETS_LOG_FORMAT": "json", "BONEMETS_BULK_MIN_POLL_S": "0"}
        for name in ("BONEMETS_DATABASE_URL", "BONEMETS_BROKER_URL"):
            env.pop(name, None)
        port = free_port()
        run = subprocess.Popen([sys.executable, "-m", "api.cli", "run", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_ready(port, timeout=60)
            created = subprocess.run([sys.executable, "-m", "api.cli", "keys", "create", "--client", "bench",
                                      "--roles", "registry"], env=env, cwd=ROOT, capture_output=True, text=True,
                                     check=True)
            headers = {"Authorization": f"Bearer {created.stdout.split()[-1]}", "Content-Type": "application/x-ndjson"}
            body = "\n".join(json.dumps({"kind": "sins", **KINDS["sins"].example}) for _ in range(args.lines))
            started = time.perf_counter()
            r = httpx.post(f"http://127.0.0.1:{port}/v1/bulk-jobs", content=body, headers=headers, timeout=120)
            location = f"http://127.0.0.1:{port}{r.headers['location']}"
            while (status := httpx.get(location, headers=headers, timeout=30).json())["status"] not in (
                    "succeeded", "failed"):
                time.sleep(0.1)
            took = time.perf_counter() - started
            print(f"embedded default: {status['done']} lines in {took:.1f} s, {status['done'] / took:,.0f} lines/s "
                  "end to end (submit -> all results stored)")
        finally:
            os.killpg(run.pid, signal.SIGINT)
            run.wait(timeout=30)


if __name__ == "__main__":
    main()
