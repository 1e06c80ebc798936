"""The web console (issue 16): server-rendered pages at /console for compliance reviewers, clinicians and
registries, served by the API itself (Jinja2 templates, a vendored stylesheet and one small script, nothing from
elsewhere). Sign-in exchanges an API key for a server-side session; every page follows the key's roles as the
REST API does, and calls the same functions the REST routes call."""

from __future__ import annotations

from litestar import Response, Router
from litestar.response import File
from litestar.response.file import ASGIFileResponse
from litestar.static_files import create_static_files_router

from api.console import pages, review
from api.console.web import EXCEPTION_HANDLERS, HERE, PUBLIC, SECURITY_HEADERS, guard


async def secured(response: Response) -> Response:
    """Every console answer but its static files carries the console's security headers, downloads included (a
    PDF report, an audit export, a job's results: no copy kept by a shared workstation's cache, no sniffing); a
    header a handler set itself is kept."""
    if not isinstance(response, File | ASGIFileResponse):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def router() -> Router:
    """Mounted by api.app.create_app; the API key middleware is bypassed here (`exclude_from_auth`): the session
    guard (api.console.web.guard) authenticates instead."""
    static = create_static_files_router(path="/static", directories=[HERE / "static"], include_in_schema=False,
                                        opt={PUBLIC: True}, cache_control=None)
    return Router(path="/console", route_handlers=[*pages.ROUTES, *review.ROUTES, static],
                  opt={"exclude_from_auth": True}, before_request=guard, after_request=secured,
                  include_in_schema=False,
                  exception_handlers=EXCEPTION_HANDLERS)


__all__ = ["router"]
