"""What the per-client rate limit costs a request (api/ratelimit.py), without HTTP: the bucket alone, and the whole
middleware pass (policy, bucket, the two header fields, the send wrapper) around an ASGI app that answers at once,
compared with that app called directly.

    .venv/bin/python bench/ratelimit.py [--requests 200000] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from api.ratelimit import Limiter, Policy, RateLimiting


async def _answer(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def _sink(message) -> None:
    return None


async def _receive() -> dict:
    return {"type": "http.request", "body": b""}


async def _per_call_us(app, scopes: list[dict]) -> float:
    started = time.perf_counter()
    for scope in scopes:
        await app(scope, _receive, _sink)
    return (time.perf_counter() - started) / len(scopes) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    policy = Policy("api", 10**9, 1)
    clients = [f"client-{n}" for n in range(args.clients)]
    started = time.perf_counter()
    for n in range(args.requests):
        policy.take(clients[n % args.clients], time.monotonic())
    bucket_us = (time.perf_counter() - started) / args.requests * 1e6
    limited = RateLimiting(_answer, Limiter({"api": (10**9, 1)}))
    scopes = [{"type": "http", "method": "POST", "path": "/v1/scores/sins", "headers": [],
               "bonemets": {"client": clients[n % args.clients], "log": {}}} for n in range(args.requests)]
    bare = asyncio.run(_per_call_us(_answer, scopes))
    through = asyncio.run(_per_call_us(limited, scopes))
    print(f"{args.requests} requests, {args.clients} clients: the bucket {bucket_us:.2f} µs a request; an ASGI app "
          f"answering at once {bare:.2f} µs, through the rate limit {through:.2f} µs (+{through - bare:.2f} µs)")


if __name__ == "__main__":
    main()
