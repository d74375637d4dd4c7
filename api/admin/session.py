"""The browser's session: the admin JWT in a cookie, and the CSRF token bound to it.

The page never sees the token after login: it lives in an HttpOnly, SameSite=Strict cookie
(Secure over HTTPS). `cookie_bridge` turns that cookie into the `Authorization: Bearer`
header the API's auth middleware checks, so there is one auth check, not two. Requests that
change state must also carry `X-CSRF-Token`, an HMAC of the session token that only a page
of this origin can learn (from `GET /admin/session`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from videolib.api.auth import ForbiddenError, UnauthorizedError
from videolib.api.schemas import ApiModel, BadRequestError, UnsupportedMediaTypeError
from videolib.api.text import text_problem
from videolib.shared.tokens import ADMIN_ROLE, Claims, TokenError, verify_token

SESSION_COOKIE = "videolib_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MEDIA_PREFIX = "/api/media"
ADMIN_PREFIX = "/admin"

# What the page may load: only its own files and the API, nothing from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """What the admin routes need from the config, kept on the app."""

    secret: str
    thumbnail_dir: str
    library_root: str


ADMIN = web.AppKey("admin", AdminSettings)


class Session(ApiModel):
    """The browser's session."""

    authenticated: bool
    csrf_token: str | None
    expires_at: datetime | None


def csrf_token(secret: str, session_token: str) -> str:
    """The CSRF token of a session: an HMAC of its JWT, so no server-side state is needed."""
    key = hashlib.sha256(f"videolib-csrf:{secret}".encode()).digest()
    return hmac.new(key, session_token.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, session_token: str, given: str | None) -> bool:
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text (a header's bytes).
    expected = csrf_token(secret, session_token).encode()
    return bool(given) and hmac.compare_digest(
        expected, (given or "").encode("utf-8", "surrogateescape")
    )


def admin_claims(token: str, secret: str) -> Claims:
    """The claims of a token that may use the admin page; 401 or 403 otherwise."""
    try:
        claims = verify_token(token, secret)
    except TokenError as error:
        raise UnauthorizedError(f"invalid token: {error}") from None
    if claims.role != ADMIN_ROLE:
        raise ForbiddenError(f"role {claims.role!r} may not use the admin page")
    return claims


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def cookie_bridge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session cookie -> Bearer header on media routes (CSRF-checked when unsafe)."""
    session = request.cookies.get(SESSION_COOKIE)
    if session and not session.isascii():
        # Not a JWT, and not a header value either: copying it into Authorization would
        # fail outside the error middleware (a plain-text 500).
        return _json_error(401, "unauthorized", f"the {SESSION_COOKIE} cookie is not a token")
    if session and request.path.startswith(MEDIA_PREFIX) and "Authorization" not in request.headers:
        secret = request.app[ADMIN].secret
        if request.method not in SAFE_METHODS and not csrf_ok(
            secret, session, request.headers.get(CSRF_HEADER)
        ):
            return _json_error(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
        headers = CIMultiDict(request.headers)
        headers["Authorization"] = f"Bearer {session}"
        request = request.clone(headers=headers)
    response = await handler(request)
    if request.path.startswith(ADMIN_PREFIX):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def session_json(secret: str, token: str | None) -> dict[str, object]:
    """What the page learns about its session: whether it has one, and its CSRF token."""
    if token:
        try:
            claims = admin_claims(token, secret)
        except (UnauthorizedError, ForbiddenError):
            pass
        else:
            expires = datetime.fromtimestamp(claims.expires_at, UTC)
            return {
                "authenticated": True,
                "csrfToken": csrf_token(secret, token),
                "expiresAt": expires.isoformat().replace("+00:00", "Z"),
            }
    return {"authenticated": False, "csrfToken": None, "expiresAt": None}


def is_https(request: web.Request) -> bool:
    # Behind a TLS-terminating proxy the scheme is http; the proxy says so in the header.
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


async def login(request: web.Request) -> web.Response:
    """Check a pasted token and keep it in the session cookie."""
    secret = request.app[ADMIN].secret
    # JSON only: a cross-site HTML form cannot send it without a CORS preflight.
    if request.content_type != "application/json":
        raise UnsupportedMediaTypeError('body: send JSON {"token": "..."}')
    try:
        given = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequestError("body: not valid JSON") from None
    token = given.get("token") if isinstance(given, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise BadRequestError("token: a token is required (`videolib token` prints one)")
    if (problem := text_problem(token)) is not None:
        raise BadRequestError(f"token: {problem}")
    token = token.strip()
    claims = admin_claims(token, secret)
    response = web.json_response(session_json(secret, token))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(claims.expires_at - int(time.time()), 0),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """Forget the session (CSRF-checked when there is one)."""
    secret = request.app[ADMIN].secret
    session = request.cookies.get(SESSION_COOKIE)
    if session and not csrf_ok(secret, session, request.headers.get(CSRF_HEADER)):
        raise ForbiddenError(f"missing or wrong {CSRF_HEADER} header")
    response = web.json_response(session_json(secret, None))
    response.del_cookie(SESSION_COOKIE, path="/", samesite="Strict", secure=is_https(request))
    return response


async def session(request: web.Request) -> web.Response:
    """Whether the browser is signed in, and the CSRF token to send if it is."""
    secret = request.app[ADMIN].secret
    response = web.json_response(session_json(secret, request.cookies.get(SESSION_COOKIE)))
    response.headers["Cache-Control"] = "no-store"
    return response
