"""Per-client rate limits (issue 15): a token bucket per client and policy, with the RateLimit-Policy and RateLimit
header fields of draft-ietf-httpapi-ratelimit-headers (-11) on every limited answer, and a 429 problem document
with Retry-After once a bucket is empty.

Who is limited: the authenticated caller, `scope["bonemets"]["client"]` (an API key's client, or a CDS Hooks
EHR's issuer and tenant), never an IP address: a hospital's many users often share one address behind a proxy,
and one key is one integration. Routes without authentication (health probes, /metrics, the OpenAPI document and
its UI, the FHIR terminology, a signed report link) carry no client and are never limited; a request refused
before it is authenticated (401) or authorised (403) costs nothing, so no one can spend another client's budget.

Which budget: `policy_for` — `bulk` for bulk job submissions, `audit` for the audit trail's queries, exports and
verification, `cds` for CDS Hooks calls, `api` for everything else (scores, pathways, evaluations, the catalogue,
reports, bulk job status and results). Each is BONEMETS_RATE_LIMIT_<NAME> = REQUESTS/SECONDS: a bucket of
REQUESTS tokens, refilled continuously at REQUESTS per SECONDS; a request takes one token or is refused.

Where the buckets live: in this API process's memory. The event loop runs one request's code at a time, so a
bucket is read and written without a lock: a dictionary look-up and a few float operations, about a microsecond,
and 3-5 µs for the whole middleware pass (bench/ratelimit.py); no database, no broker. With N API processes
(uvicorn --workers, or N containers behind a load balancer) each process keeps its own buckets: a client's
effective budget is up to N times the configured one. Divide the setting by N for a global budget, or, where it
must be exact, move `Policy.take` to a Redis script (one round trip per request: the same bucket, kept by Redis).

A refused request is answered here, before the handler: its body is never read, nothing is computed, kept or
audited (no recommendation was given), and its log line is the usual one, with `rate_limited` = the policy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from api.audited import negotiated
from infra.problems import problem_body

_encode = msgspec.json.Encoder().encode
PROBLEM_JSON = b"application/problem+json"
MAX_IDLE_BUCKETS = 10_000  # past this many clients of one policy, the full (idle) buckets are forgotten


def policy_for(method: str, path: str) -> str:
    """The budget a request draws from (the OpenAPI document names the same for each operation)."""
    if path.startswith("/cds-services"):
        return "cds"
    if path.startswith("/v1/audit"):
        return "audit"
    if method == "POST" and path.rstrip("/") == "/v1/bulk-jobs":
        return "bulk"
    return "api"


class Policy:
    """One budget: `requests` tokens at most, refilled at `requests / seconds` per second; a bucket per client."""

    __slots__ = ("_field_start", "buckets", "capacity", "name", "policy_field", "rate", "requests", "seconds")

    def __init__(self, name: str, requests: int, seconds: int) -> None:
        self.name, self.requests, self.seconds = name, requests, seconds
        self.capacity = float(requests)
        self.rate = requests / seconds
        # the RateLimit-Policy field: a String item, its quota and window (the draft's section 3)
        self.policy_field = f'"{name}";q={requests};w={seconds}'.encode()
        self._field_start = f'"{name}";r='.encode()
        self.buckets: dict[str, list[float]] = {}  # client -> [tokens, monotonic time of the last take]

    def take(self, client: str, now: float) -> tuple[bool, int, int]:
        """One request of `client` at `now`: (served, whole tokens left, seconds until the next token). Refused,
        nothing is taken: a client that keeps knocking does not push its own recovery further away."""
        bucket = self.buckets.get(client)
        if bucket is None:
            if len(self.buckets) >= MAX_IDLE_BUCKETS:
                self._forget_idle(now)
            bucket = self.buckets[client] = [self.capacity, now]
            tokens = self.capacity
        else:
            tokens = bucket[0] + (now - bucket[1]) * self.rate
            if tokens > self.capacity:
                tokens = self.capacity
        served = tokens >= 1.0
        if served:
            tokens -= 1.0
        bucket[0], bucket[1] = tokens, now
        left = int(tokens)
        # the draft's effective window `t`: within it the client can use no more than `left` (the next token comes
        # at its end); on a refusal it is Retry-After, never earlier (the draft's section 6)
        return served, left, math.ceil((left + 1 - tokens) / self.rate)

    def field(self, left: int, window: int) -> bytes:
        """The RateLimit field: what is left, and when the next token comes (the draft's section 4)."""
        return self._field_start + b"%d;t=%d" % (left, window)

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets that have filled up again (an idle client's is the same as a new one's)."""
        full = [client for client, (tokens, stamp) in self.buckets.items()
                if tokens + (now - stamp) * self.rate >= self.capacity]
        for client in full:
            del self.buckets[client]


class Limiter:
    """The policies of one API process, by name; a policy left out of the settings is not limited."""

    def __init__(self, limits: Mapping[str, tuple[int, int]]) -> None:
        self.policies = {name: Policy(name, requests, seconds) for name, (requests, seconds) in limits.items()}

    def __bool__(self) -> bool:
        return bool(self.policies)


class RateLimiting:
    """ASGI middleware after authentication: takes a token for the request's client, adds the RateLimit-Policy and
    RateLimit fields to the answer, or answers 429 itself."""

    __slots__ = ("app", "policies")

    def __init__(self, app: Any, limiter: Limiter) -> None:
        self.app = app
        self.policies = limiter.policies

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        meta = scope.get("bonemets")
        client = meta.get("client") if meta is not None else None
        policy = self.policies.get(policy_for(scope["method"], scope["path"])) if client is not None else None
        if policy is None:  # not authenticated (a probe, the schema), or a budget turned off
            await self.app(scope, receive, send)
            return
        fields = meta.get(TAKEN)  # taken by the direct path (api.direct), which then left the request to us
        if fields is None:
            served, window, fields = take(policy, client, meta)
            if not served:
                await refuse(scope, send, policy, window, fields)
                return

        async def send_with_fields(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *fields]
            await send(message)

        await self.app(scope, receive, send_with_fields)


TAKEN = "rate_limit_fields"  # in scope["bonemets"]: this request's token is taken, these are its fields


def take(policy: Policy, client: str, meta: dict[str, Any]) -> tuple[bool, int, list[tuple[bytes, bytes]]]:
    """One token of `client`'s bucket: (served, seconds until the next token, the RateLimit fields)."""
    served, left, window = policy.take(client, time.monotonic())
    if not served:
        meta["log"]["rate_limited"] = policy.name
    return served, window, [(b"ratelimit-policy", policy.policy_field), (b"ratelimit", policy.field(left, window))]


QUOTA_DETAIL = "This client has used its {requests} requests per {seconds} s for {name} calls; retry in {retry} s."


async def refuse(scope: Any, send: Any, policy: Policy, retry_after: int, fields: list[tuple[bytes, bytes]]) -> None:
    """429, with Retry-After and the RateLimit fields, and a problem document in the caller's language naming the
    policy (the draft's quota-exceeded problem type: `violated-policies`)."""
    detail = QUOTA_DETAIL.format(requests=policy.requests, seconds=policy.seconds, name=policy.name,
                                 retry=retry_after)
    body = _encode({**problem_body(429, detail, instance=scope["path"], slug="quota-exceeded",
                                   language=negotiated(scope)),
                    "violated-policies": [policy.name]})
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", PROBLEM_JSON), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()), *fields]})
    await send({"type": "http.response.body", "body": body})
