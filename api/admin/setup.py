"""`setup_admin(app, config)`: the page, its session routes and the thumbnail route.

Called once by the API's create_app, before the app starts. It adds its own middleware in
front of the API's, so the API's auth middleware keeps being the only token check.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from videolib.api import schemas
from videolib.api.admin import pages, session
from videolib.api.admin.openapi import ERROR, FILE_NAME_PARAMETER, binary_responses
from videolib.api.admin.thumbnails import thumbnail
from videolib.api.openapi import operation
from videolib.shared.config import Config

TAGS = ("admin",)


def _session_route(summary: str, handler: Handler) -> Handler:
    """Declare a session route for the OpenAPI document (no bearer token: cookie or none)."""
    responses = {200: session.Session, 400: schemas.Error, 401: schemas.Error, 403: schemas.Error}
    return operation(summary=summary, responses=responses, tags=TAGS, public=True)(handler)


def _file_route(summary: str, handler: Handler, content_type: str, **extra: Any) -> Handler:
    """Declare a route of the page's files (HTML, scripts, styles): public, not JSON."""
    described = {**binary_responses(content_type, summary, 404), **extra}
    return operation(summary=summary, responses={}, tags=TAGS, public=True, extra=described)(
        handler
    )


def setup_admin(app: web.Application, config: Config) -> None:
    """Serve the admin page at /admin/ and GET /api/media/videos/{id}/thumbnail."""
    app[session.ADMIN] = session.AdminSettings(
        secret=config.api.jwt_secret,
        thumbnail_dir=str(config.thumbnail_dir.absolute()),
        library_root=str(config.library_root.absolute()),
    )
    # First: the cookie must become a Bearer header before the API's auth middleware runs.
    app.middlewares.insert(0, session.cookie_bridge)
    router = app.router
    router.add_get("/api/media/videos/{id}/thumbnail", thumbnail)
    redirect = {"responses": {"302": {"description": "Redirect to /admin/"}, "4XX": ERROR}}
    router.add_get(
        "/admin",
        operation(
            summary="The library page (redirect)",
            responses={},
            tags=TAGS,
            public=True,
            extra=redirect,
        )(pages.to_index),
    )
    router.add_get("/admin/", _file_route("The library page", pages.index, "text/html"))
    router.add_get(
        "/admin/static/{name:.+}",
        _file_route("A file of the library page", pages.static_file, "*/*", **FILE_NAME_PARAMETER),
    )
    for method, path, summary, handler in (
        ("GET", "/admin/session", "Signed in? and the CSRF token", session.session),
        ("POST", "/admin/login", "Sign in with an admin token (sets the cookie)", session.login),
        ("POST", "/admin/logout", "Sign out (clears the cookie)", session.logout),
    ):
        router.add_route(method, path, _session_route(summary, handler))
