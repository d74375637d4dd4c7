"""Auth matrix, feature flag, open routes."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import SECRET, Client
from videolib.api.keys import FLAG
from videolib.shared.db.repository import SettingsRepository
from videolib.shared.tokens import issue_token


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _alg_none() -> str:
    claims = {"role": "SUPER_ADMIN", "exp": int(time.time()) + 3600}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        f"Bearer {issue_token(SECRET, ttl_s=1, now=time.time() - 3600)}",  # expired
        f"Bearer {issue_token('another-secret-another-secret-another')}",  # wrong signature
        f"Bearer {_alg_none()}",
        "Bearer " + jwt.encode({"role": "SUPER_ADMIN"}, SECRET, algorithm="HS256"),  # no exp
        "Bearer "
        + jwt.encode(
            {"role": "SUPER_ADMIN", "exp": int(time.time()) + 60}, SECRET, algorithm="HS512"
        ),
    ],
    ids=[
        "missing",
        "empty",
        "no-token",
        "basic",
        "malformed",
        "expired",
        "wrong-signature",
        "alg-none",
        "no-exp",
        "hs512",
    ],
)
async def test_bad_tokens_get_401(client: Client, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.get("/api/media/videos", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = await response.json()
    assert body["error"] == "unauthorized" and body["message"]


async def test_other_role_gets_403(client: Client) -> None:
    token = issue_token(SECRET, role="USER")
    response = await client.get("/api/media/tags", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"


async def test_open_routes_need_no_token(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json()) == {"status": "ready"}
    assert (await client.get("/metrics")).status == 200


async def test_settings_row_switches_media_off(
    client: Client, auth: dict[str, str], engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await client.get("/api/media/videos", headers=auth)).status == 200
    await SettingsRepository(engine).set_setting("ENABLE_MEDIA_FEATURES", "false")
    # The row is re-read at most every few seconds: skip the wait by moving the clock.
    monkeypatch.setattr(client.app[FLAG], "_read_at", -1e9)
    response = await client.get("/api/media/videos", headers=auth)
    assert response.status == 503
    assert (await response.json())["error"] == "media_features_disabled"
    assert (await client.get("/healthz")).status == 200  # health still answers


async def test_config_switch_off(
    aiohttp_client: object, api_config: object, engine: AsyncEngine, auth: dict[str, str]
) -> None:
    from videolib.api.app import create_app

    config = api_config.replace("api", media_features=False)  # type: ignore[attr-defined]
    client = await aiohttp_client(create_app(config, engine))  # type: ignore[operator]
    assert (await client.get("/api/media/videos", headers=auth)).status == 503
    await SettingsRepository(engine).set_setting("ENABLE_MEDIA_FEATURES", "true")
    client.app[FLAG]._read_at = -1e9
    assert (await client.get("/api/media/videos", headers=auth)).status == 200
