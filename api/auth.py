"""API keys (Authorization: Bearer) -> the calling client and its roles; role guards."""

from __future__ import annotations

import anyio.to_thread
import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.audited import header
from infra import cds_auth
from infra.audit import AuditUnavailable
from infra.keys import KeyStore, Principal

log = structlog.get_logger("bonemets.auth")

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bonemets"'}


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        if connection.scope["path"].startswith(CDS_PATH):
            return await authenticate_cds(connection)
        principal = connection.scope.get("bonemets", {}).get(AUTHENTICATED)
        if principal is not None:  # api.direct authenticated this request before its body, then left it to us
            check_role(principal, connection.route_handler.opt.get(ROLE))
            return AuthenticationResult(user=principal, auth=principal.key_id)
        scheme, _, key = header(connection.scope, b"authorization").partition(" ")
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
AUTHENTICATED = "principal"  # in scope["bonemets"] (set by the service's own code only): the caller, already known
CDS_PATH = "/cds-services"
JTI_IN_HANDLER = "cds_jti_in_handler"  # route option: the handler records the token id in its own transaction
CDS_REFUSED = "The CDS client's token is not accepted."
CDS_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bonemets-cds"'}


def public_url(connection: ASGIConnection) -> str:
    """The service's URL as its callers know it: BONEMETS_PUBLIC_URL, or the URL this request came to."""
    configured = connection.app.state.settings.public_url
    return configured.rstrip("/") if configured else str(connection.base_url).rstrip("/")


async def authenticate_cds(connection: ASGIConnection) -> AuthenticationResult:
    """The EHR's JWT, as CDS Hooks asks (infra.cds_auth); API keys are not accepted here. A refusal says only that
    (the reason goes to the log, never the token)."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    state = connection.app.state
    audience = public_url(connection) + connection.scope["path"]
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise cds_auth.TokenRefused("no bearer token")
        def check() -> dict:
            return cds_auth.verify(token.strip(), audience=audience, issuers=state.cds_issuers,
                                   key_sets=state.cds_key_sets)

        # a cached key checks in a fraction of a millisecond, here; a JWK Set to read first goes to a thread
        claims = check() if state.cds_key_sets.cached(token.strip()) else await anyio.to_thread.run_sync(check)
        if not connection.route_handler.opt.get(JTI_IN_HANDLER):  # a service call records it with its own reads
            try:
                await anyio.to_thread.run_sync(lambda: cds_auth.remember_jti(
                    state.engine, claims["iss"], str(claims["jti"]), claims["exp"], seen=state.cds_seen_tokens))
            except cds_auth.TokenRefused:
                raise
            except Exception as exc:  # the replay store is the database: unreachable means 503, not 401
                raise AuditUnavailable("token store unavailable") from exc
    except cds_auth.TokenRefused as refused:
        log.warning("cds.token_refused", reason=refused.reason, path=connection.scope["path"])
        raise NotAuthorizedException(CDS_REFUSED, headers=CDS_CHALLENGE) from None
    principal = Principal(key_id="cds-jwt", client=cds_auth.client_name(claims["iss"], claims.get("tenant")),
                          roles=frozenset({"cds"}))
    connection.scope.setdefault("bonemets", {}).update(client=principal.client, cds_issuer=claims["iss"],
                                                       cds_claims=claims)
    check_role(principal, connection.route_handler.opt.get(ROLE))
    return AuthenticationResult(user=principal, auth=principal.key_id)


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
