"""Admin tokens: HS256 JWTs with a `role` claim, shared with the main API."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from videolib.shared.config import LOCAL_API_HOST, LOCAL_ORIGIN, Config
from videolib.shared.errors import ConfigError

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


def signing_secret(config: Config, *, create: bool = True) -> str:
    """api.jwt_secret, else a local run's secret file (made on first use when `create`).

    Empty when neither is there: the caller names api.jwt_secret in its error.
    """
    if config.api.jwt_secret or config.secret_file is None:
        return config.api.jwt_secret
    if not create and not config.secret_file.exists():
        return ""
    try:
        return state_secret(config.secret_file)
    except OSError as error:  # a state directory of another user, a read-only disk
        raise ConfigError(
            "api.jwt_secret",
            str(config.secret_file),
            LOCAL_ORIGIN,
            f"cannot read or make the secret file: {error.strerror or error}",
        ) from None


def state_secret(path: Path) -> str:
    """The secret kept in `path`, made once: the first of processes starting together wins.

    Written to a private temporary file and linked into place, so that a second process
    (`videolib token` beside a starting `run`) never reads a half-written or empty file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(48))
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def login_link(config: Config, token: str) -> str:
    """The admin page's address that signs in with `token`.

    The page reads the token from the fragment (never sent to a server or a log), signs
    in, and removes it from the address bar.
    """
    host = LOCAL_API_HOST if config.api.host in ("0.0.0.0", "::") else config.api.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.api.port}/admin/#token={token}"
