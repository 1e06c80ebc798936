"""API keys (Authorization: Bearer) -> the calling client and its roles; role guards."""

from __future__ import annotations

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from infra.audit import AuditUnavailable
from infra.keys import KeyStore, Principal

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bonemets"'}


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise NotAuthorizedException("An API key is required: Authorization: Bearer <key>.", headers=CHALLENGE)
        store: KeyStore = connection.app.state.key_store
        key = key.strip()
        found, principal = store.cached(key)  # the common case: no thread hop, no query
        if not found:
            try:
                principal = await anyio.to_thread.run_sync(store.lookup, key)
            except Exception as exc:  # the key store is the database: unreachable means 503, not 500
                raise AuditUnavailable("key store unavailable") from exc
        if principal is None:
            raise NotAuthorizedException("The API key is unknown, revoked or expired.", headers=CHALLENGE)
        connection.scope.setdefault("bonemets", {})["client"] = principal.client
        check_role(principal, connection.route_handler.opt.get(ROLE))
        return AuthenticationResult(user=principal, auth=principal.key_id)


ROLE = "role"


def requires(*roles: str) -> dict[str, tuple[str, ...]]:
    """Route options letting through only keys that hold one of `roles`, checked by the authentication
    middleware itself: a Litestar guard would cost a thread hop and a copy of the handler per request."""
    return {ROLE: roles}


def check_role(principal: Principal, roles: tuple[str, ...] | None) -> None:
    if roles is None:
        raise PermissionDeniedException("This endpoint declares no role; it is closed.")
    if principal.roles.isdisjoint(roles):
        raise PermissionDeniedException(f"This endpoint needs the {' or '.join(repr(r) for r in roles)} role; "
                                        f"the key has {', '.join(sorted(principal.roles))}.")
