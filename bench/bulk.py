"""End-to-end bulk throughput on PostgreSQL + Redis, and the in-process evaluation rate (the ceiling).

    .venv/bin/python bench/bulk.py [--lines 100000] [--kind scores|evaluation] [--concurrency 2]
                                   [--format ndjson|json] [--upload-only]

Starts one API process (uvicorn) and one Celery worker with N pool processes on this machine, submits one
NDJSON job over HTTP, polls until it succeeds, and prints where the time went. The database is a fresh
one on the server at BONEMETS_BENCH_POSTGRES_URL, dropped afterwards; Redis database 12 is emptied.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scores import PG_ADMIN, free_port, wait_ready  # noqa: E402
from domain.bulk import evaluate_line  # noqa: E402
from domain.kinds import KINDS  # noqa: E402

SCORES = ("mirels", "sins", "rades", "tokuhashi", "tomita")


def make_lines(count: int, kind: str) -> list[bytes]:
    names = SCORES if kind == "scores" else ("evaluation",)
    return [json.dumps({"kind": names[i % len(names)], "line_id": i, "patient_ref": f"P{i % 5000}",
                        **KINDS[names[i % len(names)]].example}).encode() for i in range(count)]


def in_process_rate(lines: list[bytes]) -> float:
    sample = lines[: min(len(lines), 20_000)]
    started = time.perf_counter()
    for line in sample:
        evaluate_line(line, "en")
    return len(sample) / (time.perf_counter() - started)


def request(method: str, url: str, key: str, body: bytes | None = None,
            content_type: str = "application/x-ndjson") -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, data=body, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=600) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--kind", choices=["scores", "evaluation"], default="scores")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--format", choices=["ndjson", "json"], default="ndjson",
                        help="the body as NDJSON lines or as one JSON array of the same lines")
    parser.add_argument("--upload-only", action="store_true", help="stop at the 202: the upload alone")
    args = parser.parse_args()
    lines = make_lines(args.lines, args.kind)
    ceiling = in_process_rate(lines)
    workdir = Path(tempfile.mkdtemp(prefix="bonemets-bulk-"))
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    dbname = f"bonemets_bulk_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    redis.Redis.from_url("redis://127.0.0.1:6379/12").flushdb()
    env = {**os.environ, "BONEMETS_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}",
           "BONEMETS_BROKER_URL": "redis://127.0.0.1:6379/12", "BONEMETS_VAR_DIR": str(workdir),
           "BONEMETS_PSEUDONYM_KEY": "bench-key-" + "x" * 32,
           "BONEMETS_AUDIT_SIGNING_KEY": "7a" * 32, "BONEMETS_LOG_FORMAT": "json",
           "BONEMETS_BULK_CHUNK_SIZE": str(args.chunk), "BONEMETS_BULK_MIN_POLL_S": "0.1",
           # one client submits and polls as fast as it can: its budgets out of reach, the limiter on
           "BONEMETS_RATE_LIMIT_API": "1000000000/1", "BONEMETS_RATE_LIMIT_BULK": "1000000000/1"}
    cli = [sys.executable, "-m", "api.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
    key = subprocess.run([*cli, "keys", "create", "--client", "bench", "--roles", "registry"], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    port = free_port()
    logs = [(workdir / name).open("w") for name in ("api.log", "worker.log")]
    processes = [
        subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=logs[0],
                         stderr=subprocess.STDOUT),
        subprocess.Popen([*cli, "worker", "--concurrency", str(args.concurrency)], env=env, cwd=ROOT,
                         stdout=logs[1], stderr=subprocess.STDOUT),
    ]
    try:
        wait_ready(port)
        time.sleep(2)  # the worker connects to Redis
        body = b"\n".join(lines) if args.format == "ndjson" else b"[" + b",\n".join(lines) + b"]"
        started = time.perf_counter()
        _, headers, job = request("POST", f"http://127.0.0.1:{port}/v1/bulk-jobs", key, body,
                                  "application/x-ndjson" if args.format == "ndjson" else "application/json")
        accepted = time.perf_counter()
        while job["status"] not in ("succeeded", "failed", "cancelled") and not args.upload_only:
            time.sleep(0.2)
            _, _, job = request("GET", f"http://127.0.0.1:{port}{headers['location']}", key)
        finished = time.perf_counter()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        for log in logs:
            log.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)
    total = finished - started
    print(f"{args.lines} lines ({args.kind}, {args.format}), {len(body) / 1e6:.1f} MB, chunks of {args.chunk}, "
          f"worker concurrency {args.concurrency}; job {job['status']}: done {job['done']}, failed {job['failed']}")
    phases = [("upload + store (202)", accepted - started)]
    if not args.upload_only:
        phases += [("evaluate + audit + store results", finished - accepted), ("end to end", total)]
    for label, seconds in phases:
        print(f"{label:34} {seconds:7.2f} s  ({args.lines / seconds:,.0f} lines/s, "
              f"{len(body) / 1e6 / seconds:.1f} MB/s)")
    print(f"in-process evaluation (ceiling, one core): {ceiling:,.0f} lines/s")


if __name__ == "__main__":
    main()
