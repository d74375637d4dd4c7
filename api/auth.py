"""Bearer JWT check of every `/api/media` request (SPEC: HTTP API)."""

from __future__ import annotations

from aiohttp import web

from videolib.shared.errors import VideolibError
from videolib.shared.tokens import ADMIN_ROLE, Claims, TokenError, TokenVerifier


class UnauthorizedError(VideolibError):
    """A valid bearer token is required."""

    status = 401
    code = "unauthorized"


class ForbiddenError(VideolibError):
    """This token's role may not use the media API."""

    status = 403
    code = "forbidden"


def authenticate(request: web.Request, verifier: TokenVerifier) -> Claims:
    """The claims of the request's admin token; 401 or 403 otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise UnauthorizedError("missing Authorization header")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("Authorization header must be `Bearer <token>`")
    try:
        claims = verifier.verify(token.strip())
    except TokenError as error:
        raise UnauthorizedError(f"invalid token: {error}") from None
    if claims.role != ADMIN_ROLE:
        raise ForbiddenError(f"role {claims.role!r} may not use the media API")
    return claims
