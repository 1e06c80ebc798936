"""Audit export in bounded memory: the API's peak RSS while it streams a full export of 1,000,000 records, and the
offline verifier's peak RSS while it checks the file against its signed manifest.

    .venv/bin/python bench/audit_export.py [--records 1000000] [--format ndjson|csv]

Loads a correct chain of N records with COPY (bench/audit.py's builder) into a fresh database on the server at
BONEMETS_BENCH_POSTGRES_URL, starts one API process (`bonemets serve`), streams the export to a file while
sampling the server's resident memory, then runs `bonemets audit verify --file` on it and reads its peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit import SIGNER, build
from bench.scores import PG_ADMIN, ROOT, free_port, wait_ready
from infra.db import make_engine
from infra.migrate import migrate


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["ndjson", "csv"], default="ndjson")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bonemets-export-"))
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bonemets_export_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "BONEMETS_DATABASE_URL": url, "BONEMETS_VAR_DIR": str(workdir),
           "BONEMETS_PSEUDONYM_KEY": "bench-key-" + "x" * 32, "BONEMETS_AUDIT_SIGNING_KEY": SIGNER.seed.hex(),
           "BONEMETS_LOG_FORMAT": "json"}
    server = None
    try:
        engine = make_engine(url)
        migrate(engine)
        build(engine, args.records)
        engine.dispose()
        bonemets = [sys.executable, "-m", "api.cli"]
        key = subprocess.run([*bonemets, "keys", "create", "--client", "bench", "--roles", "auditor"], env=env,
                             check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1]
        port = free_port()
        server = subprocess.Popen([*bonemets, "serve", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(port)
        idle = rss_mb(server.pid)
        peak, done = [idle], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak.append(rss_mb(server.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        path = workdir / f"export.{args.format}"
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/audit?format={args.format}",
                                         headers={"Authorization": f"Bearer {key}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=600) as response, path.open("wb") as out:
            media = response.headers["Content-Type"]
            manifest_link = response.headers["Link"].split(";")[0].strip("<>")
            while chunk := response.read(1 << 20):
                out.write(chunk)
        exported = time.perf_counter() - started
        done.set()
        sampler.join()
        time.sleep(1)
        after = rss_mb(server.pid)
        extra = []
        if args.format == "csv":
            manifest = workdir / "manifest.json"
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{manifest_link}", headers={
                    "Authorization": f"Bearer {key}"}), timeout=600) as response:
                manifest.write_bytes(response.read())
            extra = ["--manifest", str(manifest)]
        started = time.perf_counter()
        verifier = subprocess.Popen([*bonemets, "audit", "verify", "--file", str(path), "--public-key",
                                     SIGNER.public_key_hex, *extra], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        verdict = verifier.stdout.read().strip()
        _, status, usage = os.wait4(verifier.pid, 0)  # this child's own peak resident memory
        verifier.returncode = os.waitstatus_to_exitcode(status)
        checked = time.perf_counter() - started
        verifier_peak = usage.ru_maxrss / 1024
        size = path.stat().st_size / 1e6
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"export of {args.records:,} records as {args.format} ({media}): {size:,.0f} MB in {exported:.1f} s "
          f"= {args.records / exported:,.0f} records/s")
    print(f"API resident memory: idle {idle:.0f} MB, peak during the export {max(peak):.0f} MB "
          f"(+{max(peak) - idle:.0f} MB), 1 s after {after:.0f} MB")
    print(f"offline verify: {checked:.1f} s = {args.records / checked:,.0f} records/s, its peak RSS "
          f"{verifier_peak:.0f} MB; verdict (exit {verifier.returncode}): {verdict}")


if __name__ == "__main__":
    main()
