"""create_app(settings) -> Litestar: the composition root of the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from api import console, errors, openapi
from api.auth import ApiKeyAuthentication
from api.direct import DirectRoutes
from api.metrics import ROUTES as METRICS_ROUTES
from api.metrics import Metrics
from api.observability import ObservedLitestar
from api.ratelimit import Limiter, RateLimiting
from api.routes import audit, bulk_jobs, cds_hooks, compute, fhir, meta, reports
from domain import version
from infra.audit_loop import LoopWriter, store_for
from infra.broker import create_client
from infra.cds_auth import IssuerRegistry, KeySets, SeenTokens
from infra.cds_store import InFlight, admission_for
from infra.db import engine_for
from infra.keys import KeyStore
from infra.log import configure_logging
from infra.settings import Settings

UNAUTHENTICATED = ["^/health", "^/schema", "^/static", "^/fhir/"]


def create_app(settings: Settings, *, configure_logs: bool = True) -> Litestar:
    openapi.keep_zero_bounds()
    issuers = IssuerRegistry(dict(settings.cds_issuers), settings.var_dir)
    if configure_logs:
        configure_logging(settings.log_format)
    engine = engine_for(settings)
    # CDS Hooks' token ids: on PostgreSQL, a small pool that commits without waiting for the disk (infra.cds_store)
    relaxed = engine if settings.embedded else engine_for(settings, pool_size=2, relaxed=True)
    app_state_seen = SeenTokens()
    admission = admission_for(settings)  # CDS Hooks calls admitted on the event loop (PostgreSQL)
    limiter = Limiter(settings.rate_limits)
    celery = create_client(settings)
    metrics = Metrics(settings, celery)  # GET /metrics (issue 15)
    writer = LoopWriter(store_for(settings), batch_max=settings.audit_batch_max, checkpoints=settings.checkpointer(),
                        stall_s=settings.audit_timeout_s / 2, timeout_s=settings.audit_timeout_s,
                        on_batch=metrics.audit)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        writer.start()
        app_state_seen.load(engine)  # replayed CDS Hooks tokens stay refused across a restart
        try:
            yield
        finally:
            await writer.stop()
            metrics.close()
            if admission is not None:
                await admission.close()
            engine.dispose()
            relaxed.dispose()

    assets = "/static/swagger-ui"
    app = ObservedLitestar(
        route_handlers=[*compute.ROUTES, *meta.ROUTES, *reports.ROUTES, bulk_jobs.router(settings), audit.router,
                        *cds_hooks.ROUTES, *fhir.ROUTES, *METRICS_ROUTES, console.router(),
                        create_static_files_router(path=assets, directories=[swagger_ui_path],
                                                   include_in_schema=False, opt={"exclude_from_auth": True})],
        state=State({"settings": settings, "engine": engine, "audit_writer": writer, "celery": celery,
                     "metrics": metrics,
                     "key_store": KeyStore(engine, settings.auth_cache_ttl_s),
                     "cds_issuers": issuers, "cds_key_sets": KeySets(issuers), "cds_seen_tokens": app_state_seen,
                     "cds_in_flight": InFlight(), "cds_admission": admission,
                     "cds_engine": relaxed, "rate_limiter": limiter}),
        # the rate limits after authentication: per client, and a request refused (401/403) spends nothing
        middleware=[DefineMiddleware(ApiKeyAuthentication, exclude=UNAUTHENTICATED),
                    *([DefineMiddleware(RateLimiting, limiter=limiter)] if limiter else [])],
        exception_handlers=errors.EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,  # the service configures logging (infra.log): one JSON stream, never replaced at start
        cors_config=cors_for(settings.cors_origins),
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="bonemets",
            version=version.ENGINE_VERSION,
            description="Clinical decision support for bone metastases of lung cancer, after the "
            f"regional guideline {version.GUIDELINE_VERSION}. Advisory: the multidisciplinary meeting decides.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(
                path="/swagger",
                js_url=f"{assets}/swagger-ui-bundle.js",
                css_url=f"{assets}/swagger-ui.css",
                standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
            )],
            components=Components(security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", description="bonemets API key"),
                "cdsJwt": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT",
                                         description="CDS Hooks: the EHR's JWT (ES384/RS384), from an allow-listed "
                                                     "issuer, aud = the URL called"),
            }),
            security=[{"apiKey": []}],
        ),
        debug=False,
    )
    # the document served at /schema/openapi.json, corrected once before any request (issue 12)
    plugin = app.plugins.get(OpenAPIPlugin)
    document = openapi.polish(plugin.provide_openapi().to_schema(), openapi.EXTRA_RESPONSES,
                              openapi.example_answers())
    openapi.polish_request_bodies(document)
    openapi.rate_limited(document, limiter.policies)
    openapi.request_ids(document)
    plugin._openapi_schema = document
    app.request_metrics = metrics.requests  # every request, by route template and status (api.observability)
    app.direct = DirectRoutes(compute.KIND_ROUTES, app.state, cors=app.cors_config is not None,
                              max_body=settings.max_body_bytes)
    return app


def cors_for(origins: tuple[str, ...]) -> CORSConfig | None:
    """Off unless origins are listed (BONEMETS_CORS_ORIGINS): a browser page elsewhere may then call the API with
    a key, and read the headers an integrator needs."""
    if not origins:
        return None
    return CORSConfig(allow_origins=list(origins), allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                      allow_headers=["Authorization", "Content-Type", "Accept", "Accept-Language", "X-Request-ID",
                                     "Idempotency-Key", "Prefer"],
                      expose_headers=["X-Request-ID", "Content-Language", "Location", "Content-Location",
                                      "Retry-After", "X-Progress", "ETag", "RateLimit", "RateLimit-Policy"],
                      allow_credentials=False, max_age=600)


__all__ = ["create_app"]
