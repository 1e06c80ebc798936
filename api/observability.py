"""Request ids and the one canonical log line per request, around the whole application (404s too)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from litestar import Litestar

from api.audited import negotiated
from api.direct import DirectRoutes, replaying
from infra.audit import new_hex
from infra.log import access_logger

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(text):
                return text
            break
    return new_hex()


# Routes whose text is in no one language of the request's: the audit trail holds what was answered, in the
# language of each answer; the schema and the probes carry no clinical text.
WITHOUT_LANGUAGE = ("/v1/audit", "/schema", "/static", "/health", "/metrics")


def language_headers(scope: Any, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Content-Language (the language negotiated from Accept-Language, unless the route set the language of what
    it returns, e.g. a stored report's) and Vary: Accept-Language, on every answer that carries text: a problem
    document always does, even where the route's own answers hold no one language (the audit trail's)."""
    names = {name.lower() for name, _ in headers}
    if scope["path"].startswith(WITHOUT_LANGUAGE) and not _problem(headers):  # a problem is worded in a language
        return []
    added = [(b"vary", b"Accept-Language")] if b"vary" not in names else []
    if b"content-language" not in names:
        added.append((b"content-language", negotiated(scope).encode()))
    return added


def _problem(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"application/problem+json")
               for name, value in headers)


class ObservedLitestar(Litestar):
    """Litestar, with every HTTP exchange given a request id (echoed in X-Request-ID) and logged once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Made after logging is configured: the access line's own fast path in JSON mode (infra.log)
        self._access_log = access_logger()
        # (scope, status, seconds) once per request, with what is logged: the operator's metrics (api.metrics)
        self.request_metrics: Callable[[Any, int, float], None] | None = None
        self.direct: DirectRoutes | None = None  # the compute endpoints' plain requests, past Litestar (api.direct)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope["headers"])
        meta = scope["bonemets"] = {"request_id": request_id, "log": {}}
        status: int | None = None
        disconnected = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode()),
                                      *language_headers(scope, message.get("headers", []))]
            await send(message)

        async def watched_receive() -> dict[str, Any]:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        try:
            route = self.direct.route(scope) if self.direct is not None else None
            if route is None:
                await super().__call__(scope, watched_receive, send_with_id)
            elif (read := await self.direct.serve(route, scope, watched_receive, send_with_id)) is not None:
                await super().__call__(scope, replaying(read, watched_receive), send_with_id)  # declined
        finally:
            # no answer sent: the client went away (or sent a body the server could not frame) -> 499, as proxies
            # log it; a 500 is logged only for a failure of ours
            if disconnected and (status is None or status >= 500):
                status = 499
            elif status is None:
                status = 500
            elapsed = time.perf_counter() - started
            self._access_log("http.request", method=scope["method"], path=scope["path"], status=status,
                     duration_ms=round(elapsed * 1000, 3), request_id=request_id,
                     client=meta.get("client"), **meta["log"])
            if self.request_metrics is not None:
                self.request_metrics(scope, status, elapsed)
