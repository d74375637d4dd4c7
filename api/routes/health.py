"""Open routes: liveness, readiness, metrics, and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from videolib.api import schemas
from videolib.api.keys import ENGINE, METRICS
from videolib.api.openapi import build_document, operation
from videolib.shared.db.repository import ping

routes = web.RouteTableDef()
TAGS = ("operations",)


@routes.get("/healthz")
@operation(
    summary="Liveness: the process answers", responses={200: schemas.Health}, tags=TAGS, public=True
)
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
@operation(
    summary="Readiness: the database answers",
    responses={200: schemas.Health, 503: schemas.Error},
    tags=TAGS,
    public=True,
)
async def readyz(request: web.Request) -> web.Response:
    await ping(request.app[ENGINE])  # DatabaseUnavailableError: 503 by the error middleware
    return web.json_response({"status": "ready"})


@routes.get("/metrics")
@operation(
    summary="Prometheus metrics (bind to a private interface in production)",
    responses={200: "Prometheus text exposition format"},
    tags=TAGS,
    public=True,
)
async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=request.app[METRICS].render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


@routes.get("/api/media/openapi.json")
@operation(summary="This OpenAPI 3.1 description", responses={200: {"type": "object"}}, tags=TAGS)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app))
