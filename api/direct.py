"""The compute endpoints' direct path: the common request served without Litestar's layers, answered exactly as
the full application answers it.

Issue 14's profile of an audited score request: the audit write is a third of its CPU, the framework's layers
(scope and connection objects, exclude patterns, the authentication and rate-limit middlewares' wrappers,
signature models, kwargs extraction, response objects) most of the rest. The compute endpoints are the service's
hot path, so a request to one of them is first offered to `DirectRoutes`:

- it takes the request only when it is the plain case: POST to a compute path, an API key already in the key
  cache holding the route's role, a body within the size limit that decodes strictly into the kind's inputs,
  no FHIR answer asked for, no CORS origin to answer;
- anything else it *declines* before anything is kept, and the full application answers the request
  as it always has (the body read so far is replayed to it): an unknown, uncached or wrong-role key, a body that
  does not decode or fails a domain check, an over-long body, a FHIR Accept, a request with an Origin while CORS
  is on, a root path to strip, a Host header the router refuses. Their answers (401, 403, 400, 413, 422, FHIR)
  are the full application's own; a request declined after its rate-limit token keeps its token and the
  authentication made before its body (api.ratelimit.TAKEN, api.auth.AUTHENTICATED), as the full application
  authenticates and charges once, before the body;
- taken, the request goes through the same steps in the same order: the rate limit (the same bucket; a refusal
  is the same 429), the computation, the audit record committed before the answer (the same record: same
  endpoint, action, inputs, output, patient hash), the same answer bytes and header fields, the same log line
  and metrics. A failure once the audit has been asked for is answered here as the full application's handlers
  answer it (api.errors.failure: 503 when the record or the database is unavailable, 500 otherwise), never
  declined: declining would ask for a second record.

tests/integration/test_direct_path.py holds the two paths' answers equal, field by field, for every kind.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar._asgi.utils import is_valid_host  # the router's own check of the Host header

from api.audited import FHIR_JSON, audit_for, header, negotiated
from api.auth import AUTHENTICATED, ROLE
from api.errors import failure
from api.ratelimit import TAKEN, Policy, policy_for, refuse, take
from api.routes.compute import DECODERS, log_fields
from domain.kinds import Kind
from domain.validation import top_level_patient_ref

_encode = msgspec.json.Encoder().encode
JSON_HEADERS = (b"content-type", b"application/json")
PROBLEM_HEADERS = (b"content-type", b"application/problem+json")
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _Declined(Exception):
    """The body is not the plain case's."""


class _Route:
    __slots__ = ("decoder", "kind", "policy", "roles")

    def __init__(self, kind: Kind, roles: tuple[str, ...], policy: Policy | None) -> None:
        self.kind, self.roles, self.policy = kind, roles, policy
        self.decoder = DECODERS[kind.path]  # strict, as the route reads the body (api.routes.compute.strictly)


class DirectRoutes:
    """The compute routes' direct path, for one application (its state: key store, limiter, audit writer)."""

    def __init__(self, routes: list[tuple[Kind, Any]], state: Any, *, cors: bool, max_body: int) -> None:
        policies = state.rate_limiter.policies  # a budget turned off is not there
        self._routes = {kind.path: _Route(kind, handler.opt.get(ROLE) or (),
                                          policies.get(policy_for("POST", kind.path))) for kind, handler in routes}
        self._state = state
        self._cors = cors
        self._max_body = max_body or math.inf  # as Litestar reads it: 0 is no limit

    def route(self, scope: dict[str, Any]) -> _Route | None:
        """The compute route a request may be served by directly, or None: a POST to its path, with no root path
        to strip first (behind a prefix the full application routes) and a Host header Litestar's router takes."""
        if scope["method"] != "POST" or scope.get("root_path"):
            return None
        route = self._routes.get(scope["path"])
        if route is None:
            return None
        host = next((value for name, value in scope["headers"] if name == b"host"), None)
        return route if host is None or is_valid_host(host) else None

    async def serve(self, route: _Route, scope: dict[str, Any], receive: Receive, send: Send) -> list[dict] | None:
        """Answer the request, or decline it: None once answered, else the body's messages read so far (to be
        replayed to the full application)."""
        principal = self._principal(scope, route)
        if principal is None:
            return []
        meta = scope["bonemets"]
        meta["client"] = principal.client
        meta[AUTHENTICATED] = principal  # authenticated once, before the body, whichever path answers
        fields: list[tuple[bytes, bytes]] = []
        if route.policy is not None:  # after authentication, before the body: as api.ratelimit does
            served, window, fields = take(route.policy, principal.client, meta)
            if not served:
                scope["path_template"] = route.kind.path
                await refuse(scope, send, route.policy, window, fields)
                return None
            meta[TAKEN] = fields  # declined from here on, the full application does not take another
        read: list[dict] = []
        try:
            inputs = route.decoder.decode(await self._body(scope, receive, read))
            top_level_patient_ref(inputs)
            lang = negotiated(scope)
            result = route.kind.compute(inputs, lang)
        except Exception:  # every refusal of the plain case is the full application's to word
            return read
        scope["path_template"] = route.kind.path
        try:  # from here on the request is answered here, never declined: that would ask for a second record
            audited = await audit_for(self._state, principal, scope, action=route.kind.action, inputs=inputs,
                                      output=result, rule_ids=route.kind.rule_ids(result))
        except Exception as exc:  # as the full application's handlers answer it (api.errors.failure)
            status, problem, headers = failure(exc, scope["path"], lang)
            body = _encode(problem)
            await send({"type": "http.response.start", "status": status, "headers": [
                *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
                PROBLEM_HEADERS, (b"content-length", b"%d" % len(body)), *fields]})
            await send({"type": "http.response.body", "body": body})
            return None
        meta["log"].update(log_fields(result))
        body = audited.body()
        await send({"type": "http.response.start", "status": 200, "headers": [
            JSON_HEADERS, (b"content-length", b"%d" % len(body)), *fields]})
        await send({"type": "http.response.body", "body": body})
        return None

    def _principal(self, scope: dict[str, Any], route: _Route) -> Any:
        """The caller, when the request is the plain case so far; None to decline it."""
        if (self._cors and header(scope, b"origin")) or FHIR_JSON in header(scope, b"accept").lower():
            return None
        scheme, _, key = header(scope, b"authorization").partition(" ")
        if scheme.lower() != "bearer":
            return None
        found, principal = self._state.key_store.cached(key.strip())
        if not found or principal is None or principal.roles.isdisjoint(route.roles):
            return None
        return principal

    async def _body(self, scope: dict[str, Any], receive: Receive, read: list[dict]) -> bytes:
        announced = header(scope, b"content-length")
        if announced and (not announced.isdigit() or int(announced) > self._max_body):
            raise _Declined
        chunks, size = [], 0
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                raise _Declined
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise _Declined
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks) if len(chunks) > 1 else chunks[0]


def replaying(read: list[dict], receive: Receive) -> Receive:
    """`receive` that first gives back the messages the direct path read."""
    pending = list(read)

    async def again() -> dict[str, Any]:
        return pending.pop(0) if pending else await receive()

    return again
