"""CPU per audited request through the ASGI application, without HTTP: a steadier signal than wrk's req/s on
this machine (which drifts by ±20 % within minutes), for finding where an audited request's time goes.

    .venv/bin/python bench/request_cpu.py [--requests 30000] [--without log|audit] [--bare]

64 concurrent callers send the SINS example to the audited app built as `bonemets serve` builds it (SQLite in
a temporary folder, JSON logs to /dev/null, rate limiter on), and the CPU time of the whole process (the event
loop, the SQLite commit thread) is divided by the requests. `--without log` drops the access line, `--without
audit` answers the audit writer at once (the records are still built); `--bare` runs bench/bare_app.py instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def environment(workdir: str) -> str:
    os.environ.update({"BONEMETS_DATABASE_URL": f"sqlite:///{workdir}/bench.db", "BONEMETS_VAR_DIR": workdir,
                       "BONEMETS_PSEUDONYM_KEY": "bench-key-" + "x" * 32, "BONEMETS_AUDIT_SIGNING_KEY": "7a" * 32,
                       "BONEMETS_LOG_FORMAT": "json", "BONEMETS_RATE_LIMIT_API": "1000000000/1"})
    cli = [sys.executable, "-m", "api.cli"]
    subprocess.run([*cli, "migrate"], check=True, capture_output=True, cwd=ROOT)
    return subprocess.run([*cli, "keys", "create", "--client", "bench", "--roles", "scoring"], check=True,
                          capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1]


def build_app(args: argparse.Namespace) -> object:
    if args.bare:
        from bench.bare_app import app

        return app
    import api.observability
    import infra.audit_loop
    from api.main import app_from_environment
    from infra.audit import Receipt

    if args.without == "log":
        init = api.observability.ObservedLitestar.__init__

        def quiet(self: object, *a: object, **k: object) -> None:
            init(self, *a, **k)
            self._access_log = lambda *a, **k: None

        api.observability.ObservedLitestar.__init__ = quiet
    elif args.without == "audit":
        async def instant(self: object, entry: object) -> Receipt:
            return Receipt(id=entry.id, seq=1, hash="0" * 64)

        infra.audit_loop.LoopWriter.append = instant
    return app_from_environment()


async def run(app: object, key: str, requests: int, callers: int = 64) -> tuple[float, float, int]:
    import msgspec

    from bench.scores import SINS

    body = msgspec.json.encode(SINS)
    started: asyncio.Queue = asyncio.Queue()
    lifespan_out: list[dict] = []

    async def lifespan_send(message: dict) -> None:
        lifespan_out.append(message)

    await started.put({"type": "lifespan.startup"})
    life = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, started.get, lifespan_send))
    while not lifespan_out:
        await asyncio.sleep(0.01)
    headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
               (b"authorization", f"Bearer {key}".encode()), (b"content-length", str(len(body)).encode())]
    statuses: list[int] = []

    async def one() -> None:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                   "scheme": "http", "path": "/v1/scores/sins", "raw_path": b"/v1/scores/sins", "query_string": b"",
                   "root_path": "", "headers": list(headers), "client": ("127.0.0.1", 5000),
                   "server": ("127.0.0.1", 8000), "state": {}}, receive, send)

    async def caller(count: int) -> None:
        for _ in range(count):
            await one()

    await asyncio.gather(*[caller(50) for _ in range(callers)])  # warm-up
    statuses.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*[caller(requests // callers) for _ in range(callers)])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if set(statuses) != {200}:
        raise SystemExit(f"statuses other than 200: {set(statuses)}")
    await started.put({"type": "lifespan.shutdown"})
    await life
    return cpu, wall, len(statuses)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--without", choices=["log", "audit"])
    parser.add_argument("--bare", action="store_true")
    args = parser.parse_args()
    key = environment(tempfile.mkdtemp(prefix="bonemets-cpu-"))
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the log lines, as a server writes them
        cpu, wall, count = asyncio.run(run(build_app(args), key, args.requests))
    label = "bare Litestar" if args.bare else "audited SINS" + (f" without its {args.without}" if args.without else "")
    print(f"{label}: {count} requests, {cpu / count * 1e6:.0f} us CPU per request, {count / wall:,.0f} req/s "
          "(one process, no HTTP)")


if __name__ == "__main__":
    main()
