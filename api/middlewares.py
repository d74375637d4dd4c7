"""The request pipeline: request id, metrics, error rendering, auth, feature flag.

Order matters (first is outermost): every response, errors included, carries the request
id and is counted; errors of the inner layers are rendered as JSON by one middleware.
"""

from __future__ import annotations

import itertools
import math
import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from videolib.api.auth import authenticate
from videolib.api.keys import CONFIG, COUNTS, FLAG, METRICS, TOKENS
from videolib.api.storage_errors import is_storage_error, storage_error
from videolib.shared.db.actor import set_request_actor
from videolib.shared.db.repository import database_call_bound, translate
from videolib.shared.errors import DatabaseUnavailableError, VideolibError
from videolib.shared.logging import get_logger

log = get_logger(__name__)

MEDIA_PREFIX = "/api/media"
REQUEST_ID = web.RequestKey("request_id", str)
# A caller's own X-Request-Id is kept when it looks like an id, not arbitrary text.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Our own ids: this process's random prefix and a counter. Unique across processes and
# restarts without a uuid4 per request (a getrandom system call, costly in a VM).
_ID_PREFIX = uuid.uuid4().hex[:12]
_id_counter = itertools.count(1)


class FeaturesDisabledError(VideolibError):
    """Media features are disabled (ENABLE_MEDIA_FEATURES is false)."""

    status = 503
    code = "media_features_disabled"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.match(given) else f"{_ID_PREFIX}-{next(_id_counter)}"
    request[REQUEST_ID] = request_id
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    return response


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    metrics.in_flight.inc()
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        metrics.in_flight.dec()
        resource = request.match_info.route.resource
        # The route template, never the raw path: ids would make unbounded label values.
        route = resource.canonical if resource is not None else "unmatched"
        metrics.observe(request.method, route, status, time.perf_counter() - started)


def error_response(request: web.Request, status: int, code: str, message: str) -> web.Response:
    body = {"error": code, "message": message}
    if status >= 500:
        body["requestId"] = request.get(REQUEST_ID, "")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response(body, status=status, headers=headers)


def _code_of(error: web.HTTPException) -> str:
    return error.reason.lower().replace(" ", "_").replace("-", "_")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as JSON; each database call of the request bounded (503 with Retry-After)."""
    bound_s = request.app[CONFIG].api.database_timeout_seconds
    try:
        with database_call_bound(bound_s):
            return await handler(request)
    except VideolibError as error:
        return _videolib_error_response(request, error, bound_s)
    except web.HTTPException as error:
        if error.status < 400:
            raise  # redirects and the like are answers, not errors
        message = (
            error.text
            if error.text and error.text != f"{error.status}: {error.reason}"
            else error.reason
        )
        response = error_response(request, error.status, _code_of(error), message)
        for name in ("Allow",):  # 405 says which methods exist
            if name in error.headers:
                response.headers[name] = error.headers[name]
        return response
    except Exception as crash:
        if is_storage_error(crash):  # a file's trouble, never "database unavailable"
            reading = request.method in ("GET", "HEAD")
            return _videolib_error_response(request, storage_error(crash, reading=reading), bound_s)
        # A driver error that reached a handler past the repository is still a 503.
        translated = translate(crash)
        if translated is not None:
            return _videolib_error_response(request, translated, bound_s)
        log.exception("request_crashed", method=request.method, path=request.path)
        return error_response(
            request,
            500,
            "internal_error",
            f"unexpected error; quote request id {request.get(REQUEST_ID, '')}",
        )


def _videolib_error_response(
    request: web.Request, error: VideolibError, retry_after_s: float
) -> web.Response:
    if error.status >= 500:
        log.error("request_failed", error=error.code, message=error.message)
    response = error_response(request, error.status, error.code, error.message)
    if isinstance(error, DatabaseUnavailableError):
        # RFC 9110 §10.2.3: whole seconds; the same bound the call waited.
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return response


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(MEDIA_PREFIX):
        claims = authenticate(request, request.app[TOKENS])
        if request.method not in ("GET", "HEAD"):
            # The history names the admin behind each change (reads need no name: no cost).
            set_request_actor(claims.subject or "api")
    return await handler(request)


@web.middleware
async def feature_flag_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # After auth: an anonymous caller learns nothing, not even that the API is switched off.
    if request.path.startswith(MEDIA_PREFIX) and not await request.app[FLAG].enabled():
        raise FeaturesDisabledError()
    return await handler(request)


@web.middleware
async def forget_counts_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A write through this process makes its remembered listing totals stale: drop them."""
    response = await handler(request)
    if request.method not in ("GET", "HEAD") and response.status < 400:
        request.app[COUNTS].clear()
    return response


MIDDLEWARES = (
    request_id_middleware,
    metrics_middleware,
    error_middleware,
    auth_middleware,
    feature_flag_middleware,
    forget_counts_middleware,
)
