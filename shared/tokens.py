"""Admin tokens: HS256 JWTs with a `role` claim, shared with the main API."""

from __future__ import annotations

import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

ADMIN_ROLE = "SUPER_ADMIN"
ALGORITHM = "HS256"
_TTL = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TokenError(Exception):
    """The token is missing, malformed, expired or wrongly signed."""


@dataclass(frozen=True, slots=True)
class Claims:
    role: str
    subject: str | None
    expires_at: int


def parse_ttl(text: str) -> int:
    """`90s`, `15m`, `1h`, `7d` as seconds."""
    match = _TTL.match(text.strip())
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 15m, 1h or 7d")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def issue_token(
    secret: str,
    *,
    role: str = ADMIN_ROLE,
    ttl_s: int = 3600,
    subject: str = "videolib-cli",
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    payload: dict[str, Any] = {"role": role, "sub": subject, "iat": issued, "exp": issued + ttl_s}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> Claims:
    """The claims of a valid token; TokenError otherwise. Only HS256 is accepted (no `none`)."""
    if not token.isascii():  # a JWT is base64url; PyJWT would fail to encode other text
        raise TokenError("not a JWT: it has characters that are not ASCII")
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "role"]}
        )
    except jwt.PyJWTError as error:
        raise TokenError(str(error)) from None
    if not isinstance(payload.get("role"), str):
        raise TokenError("role claim is not a string")
    return Claims(payload["role"], payload.get("sub"), int(payload["exp"]))


class TokenVerifier:
    """verify_token with a memory: a token that passed is trusted again until its `exp`.

    A client sends the same token with every request, and checking its signature again each
    time was a tenth of a list request's CPU. Only tokens that passed are kept (by their
    exact text, with this verifier's one secret), so a forged or expired token is always
    checked in full; the least recently used of `size` tokens is forgotten first.
    """

    def __init__(self, secret: str, *, size: int = 256) -> None:
        self.secret = secret
        self._size = size
        self._verified: OrderedDict[str, Claims] = OrderedDict()

    def verify(self, token: str) -> Claims:
        claims = self._verified.get(token)
        if claims is not None and time.time() < claims.expires_at:  # PyJWT's rule for exp
            self._verified.move_to_end(token)
            return claims
        self._verified.pop(token, None)
        claims = verify_token(token, self.secret)
        self._verified[token] = claims
        if len(self._verified) > self._size:
            self._verified.popitem(last=False)
        return claims


def state_secret(state_dir: Path) -> str:
    """The secret `videolib run` makes once and keeps under the state directory."""
    path = state_dir / "jwt_secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()
