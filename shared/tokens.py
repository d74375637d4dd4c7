"""Admin tokens: HS256 JWTs with a `role` claim, shared with the main API."""

from __future__ import annotations

import re
import secrets
import time
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
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "role"]}
        )
    except jwt.PyJWTError as error:
        raise TokenError(str(error)) from None
    if not isinstance(payload.get("role"), str):
        raise TokenError("role claim is not a string")
    return Claims(payload["role"], payload.get("sub"), int(payload["exp"]))


def state_secret(state_dir: Path) -> str:
    """The secret `videolib run` makes once and keeps under the state directory."""
    path = state_dir / "jwt_secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()
