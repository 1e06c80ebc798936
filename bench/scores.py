"""Audited score endpoint vs a bare Litestar endpoint, same server settings, one run; prints the ratio.

    .venv/bin/python bench/scores.py [--database postgres|sqlite] [--seconds 10] [--connections 64]
                                     [--rounds 3] [--processes 1] [--endpoint sins|evaluation]
                                     [--rate-limit on|off]

The two servers are measured in turns (bare, audited, bare, audited, ...): this machine's speed drifts by
±20 % within minutes, so each round's ratio is taken side by side and the median round is the figure.
`--endpoint evaluation` sends the whole-case example (domain.evaluation.EXAMPLE) to /v1/evaluations; the bare
server then decodes that same body into the same Struct.

Needs wrk (Debian package `wrk`). Each server is one uvicorn process; wrk runs on the same 2 cores,
for both alike. PostgreSQL: the server at BONEMETS_BENCH_POSTGRES_URL (default 127.0.0.1:5432), in a
database of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import msgspec
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
SINS = {"location": "junctional", "pain": "mechanical", "lesion": "lytic", "alignment": "normal", "collapse": "none",
        "posterolateral": "none", "patient_ref": "bench-patient"}


def body_and_path(endpoint: str) -> tuple[str, str]:
    if endpoint == "sins":
        return msgspec.json.encode(SINS).decode(), "/v1/scores/sins"
    from domain import evaluation

    return msgspec.json.encode({**evaluation.EXAMPLE, "patient_ref": "bench-patient"}).decode(), "/v1/evaluations"
PG_ADMIN = os.environ.get("BONEMETS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1)
            return
        except Exception as exc:
            if getattr(exc, "code", None) == 404:  # the bare app has no health route: it is up
                return
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def wrk(port: int, key: str | None, seconds: int, connections: int, workdir: Path,
        endpoint: str = "sins") -> dict[str, float]:
    body, path = body_and_path(endpoint)
    script = workdir / "post.lua"
    headers = 'wrk.headers["Content-Type"] = "application/json"\n'
    if key:
        headers += f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    script.write_text(f'wrk.method = "POST"\nwrk.body = [[{body}]]\n{headers}'
                      'done = function(summary, latency, requests)\n'
                      '  io.write(string.format("STATUS non2xx=%d errors=%d\\n", summary.errors.status,'
                      ' summary.errors.connect + summary.errors.read + summary.errors.write'
                      ' + summary.errors.timeout))\n'
                      'end\n')
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": to_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
            "p99": to_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
            "non2xx": int(re.search(r"non2xx=(\d+)", out).group(1)),
            "errors": int(re.search(r"errors=(\d+)", out).group(1))}


def to_ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1, help="uvicorn worker processes of each server")
    parser.add_argument("--endpoint", choices=["sins", "evaluation"], default="sins")
    parser.add_argument("--rate-limit", choices=["on", "off"], default="on",
                        help="the per-client limiter on (with a budget no flood reaches) or off")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="bonemets-bench-"))
    admin, dbname = None, None
    if args.database == "postgres":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        dbname = f"bonemets_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    else:
        url = f"sqlite:///{workdir / 'bench.db'}"
    env = {**os.environ, "BONEMETS_DATABASE_URL": url, "BONEMETS_VAR_DIR": str(workdir),
           "BONEMETS_PSEUDONYM_KEY": "bench-key-" + "x" * 32,
           "BONEMETS_AUDIT_SIGNING_KEY": "7a" * 32, "BONEMETS_LOG_FORMAT": "json",
           # one client floods the server: its budget raised out of reach, the limiter still runs on every request
           # (--rate-limit off measures without it)
           "BONEMETS_RATE_LIMIT_API": "1000000000/1" if args.rate_limit == "on" else "off"}
    bonemets = [sys.executable, "-m", "api.cli"]
    subprocess.run([*bonemets, "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
    key = subprocess.run([*bonemets, "keys", "create", "--client", "bench", "--roles", "scoring"], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1]
    uvicorn_opts = ["--host", "127.0.0.1", "--workers", str(args.processes), "--no-access-log", "--log-level",
                    "warning"]
    audited_name = f"audited {body_and_path(args.endpoint)[1]}"
    servers, rounds = {}, []
    try:
        for name, target, factory in (("bare Litestar + msgspec", "bench.bare_app:app", False),
                                      (audited_name, "api.main:app_from_environment", True)):
            port = free_port()
            cmd = [sys.executable, "-m", "uvicorn", target, "--port", str(port), *uvicorn_opts]
            cmd += ["--factory"] if factory else []
            log = (workdir / f"{port}.log").open("w")
            servers[name] = (port, subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
            wait_ready(port)
            wrk(port, key, 2, args.connections, workdir, args.endpoint)  # warm-up
        for _ in range(args.rounds):  # in turns: the machine's drift falls on both alike
            rounds.append({name: wrk(port, key, args.seconds, args.connections, workdir, args.endpoint)
                           for name, (port, _server) in servers.items()})
    finally:
        for _port, server in servers.values():
            server.terminate()
            server.wait(timeout=15)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"database: {args.database}; {args.connections} connections, {args.seconds} s x {args.rounds} rounds, "
          f"{args.processes} uvicorn process(es) each, endpoint {args.endpoint}")
    print(f"{'round':6} {'endpoint':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7}")
    ratios = []
    for number, results in enumerate(rounds, 1):
        for name, r in results.items():
            print(f"{number:<6} {name:28} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['non2xx']:8d} "
                  f"{r['errors']:7d}")
        bare, audited = results["bare Litestar + msgspec"], results[audited_name]
        ratios.append((audited["rps"] / bare["rps"], audited["p99"]))
    ratio, p99 = sorted(ratios)[len(ratios) // 2]
    print(f"ratio audited / bare, median round: {ratio:.2f} (rounds: {', '.join(f'{r:.2f}' for r, _ in ratios)}); "
          f"audited p99 that round {p99:.1f} ms (issue 14: >= 0.45 and p99 <= 40 ms; beyond: 0.6, 25 ms)")


if __name__ == "__main__":
    main()
