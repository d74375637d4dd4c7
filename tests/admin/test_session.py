"""The browser session and the thumbnail route, over HTTP (no browser): cookie, CSRF, ETag."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import insert

from tests.admin.conftest import SECRET, admin_config, build_app
from tests.media import make_video
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import ThumbnailRepository
from videolib.shared.db.schema import videos
from videolib.shared.library import Library
from videolib.shared.thumbnails import ThumbnailMaker, ThumbnailSettings
from videolib.shared.tokens import issue_token

Client = TestClient[web.Request, web.Application]
TOKEN = issue_token(SECRET, ttl_s=600)


@pytest.fixture
def app_config(config: Config, tmp_path: Path) -> Config:
    return admin_config(config, tmp_path)


@pytest.fixture
async def client(
    app_config: Config, aiohttp_client: Callable[[web.Application], Awaitable[Client]]
) -> Client:
    return await aiohttp_client(build_app(app_config))  # skips until the API's app exists


async def sign_in(client: Client) -> str:
    """Log in; returns the CSRF token."""
    response = await client.post("/admin/login", json={"token": TOKEN})
    assert response.status == 200
    session = await response.json()
    assert session["authenticated"] is True
    return str(session["csrfToken"])


async def add_video(config: Config, stored: str, **values: Any) -> uuid.UUID:
    row = {"path": stored, "filename": stored.rsplit("/", 1)[-1], "directory_type": "videos"}
    async with (
        open_engine(config.sqlalchemy_url(), pool_size=1) as engine,
        engine.begin() as connection,
    ):
        result = await connection.execute(
            insert(videos).values(**row, **values).returning(videos.c.id)
        )
        return result.scalar_one()


async def test_login_sets_a_strict_http_only_cookie(client: Client) -> None:
    response = await client.post("/admin/login", json={"token": TOKEN})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("videolib_session=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert attribute in cookie
    assert "Secure" not in cookie
    behind_tls = await client.post(
        "/admin/login", json={"token": TOKEN}, headers={"X-Forwarded-Proto": "https"}
    )
    assert "Secure" in behind_tls.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"token": "nonsense"}, 401),
        ({"token": issue_token("another-secret-of-at-least-32-bytes!!")}, 401),
        ({"token": issue_token(SECRET, role="VIEWER")}, 403),
        ({"token": ""}, 400),
        ({}, 400),
    ],
)
async def test_login_refuses_bad_tokens(client: Client, body: object, status: int) -> None:
    response = await client.post("/admin/login", json=body)
    assert response.status == status
    assert "message" in await response.json()
    assert "Set-Cookie" not in response.headers


async def test_login_takes_json_only(client: Client) -> None:
    # A cross-site HTML form posts urlencoded without a preflight: refused.
    response = await client.post("/admin/login", data={"token": TOKEN})
    assert response.status == 415
    assert (await response.json())["error"] == "unsupported_media_type"


async def test_cookie_works_as_bearer_and_unsafe_calls_need_csrf(
    client: Client, app_config: Config
) -> None:
    assert (await client.get("/api/media/videos")).status == 401
    csrf = await sign_in(client)
    assert (await client.get("/api/media/videos")).status == 200
    video_id = await add_video(app_config, "videos/a.mp4")
    path = f"/api/media/videos/{video_id}"
    refused = await client.put(path, json={"title": "x"})
    assert refused.status == 403
    assert (await refused.json())["error"] == "csrf_failed"
    wrong = await client.put(path, json={"title": "x"}, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status == 403
    saved = await client.put(path, json={"title": "x"}, headers={"X-CSRF-Token": csrf})
    assert saved.status == 200
    assert (await saved.json())["title"] == "x"


async def test_session_route_and_logout(client: Client) -> None:
    anonymous = await (await client.get("/admin/session")).json()
    assert anonymous == {"authenticated": False, "csrfToken": None, "expiresAt": None}
    csrf = await sign_in(client)
    session = await (await client.get("/admin/session")).json()
    assert session["csrfToken"] == csrf and session["expiresAt"].endswith("Z")
    assert (await client.post("/admin/logout")).status == 403  # CSRF-checked too
    out = await client.post("/admin/logout", headers={"X-CSRF-Token": csrf})
    assert out.status == 200
    assert "videolib_session=" in out.headers["Set-Cookie"]
    assert (await client.get("/api/media/videos")).status == 401


async def test_page_and_its_files_are_served_with_a_strict_policy(client: Client) -> None:
    redirect = await client.get("/admin", allow_redirects=False)
    assert (redirect.status, redirect.headers["Location"]) == (302, "/admin/")
    page = await client.get("/admin/")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert '<script type="module" src="/admin/static/js/main.js">' in await page.text()
    script = await client.get("/admin/static/js/main.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    for name in ("../setup.py", "..%2Fsession.py", "missing.js"):
        assert (await client.get(f"/admin/static/{name}")).status == 404


async def test_thumbnail_route_serves_ours_with_etag_and_the_custom_one_first(
    client: Client, app_config: Config, library_root: Path
) -> None:
    make_video(library_root / "videos" / "a.mp4", width=640, height=360)
    video_id = await add_video(app_config, "videos/a.mp4", duration_seconds=1)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    path = f"/api/media/videos/{video_id}/thumbnail"
    assert (await client.get(path, headers=headers)).status == 404  # none yet
    assert (await client.get(path)).status == 401
    async with open_engine(app_config.sqlalchemy_url(), pool_size=1) as engine:
        repository = ThumbnailRepository(engine)
        settings = ThumbnailSettings.from_config(app_config)
        async with ThumbnailMaker(repository, Library.from_config(app_config), settings) as maker:
            await maker.make_many(await repository.backlog(missing_only=True))
    response = await client.get(path, headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert (await response.read())[:2] == b"\xff\xd8"
    etag = response.headers["ETag"]
    again = await client.get(path, headers={**headers, "If-None-Match": etag})
    assert again.status == 304
    # A custom thumbnail set through PUT wins, served from the library.
    (library_root / "covers").mkdir()
    (library_root / "covers" / "a.png").write_bytes(b"\x89PNG custom")
    put = await client.put(
        f"/api/media/videos/{video_id}", json={"thumbnailPath": "covers/a.png"}, headers=headers
    )
    assert put.status == 200
    custom = await client.get(path, headers=headers)
    assert (custom.headers["Content-Type"], await custom.read()) == ("image/png", b"\x89PNG custom")
    # ...but never a file outside the library through a symlink.
    (library_root / "covers" / "escape.png").symlink_to("/etc/hostname")
    await client.put(
        f"/api/media/videos/{video_id}",
        json={"thumbnailPath": "covers/escape.png"},
        headers=headers,
    )
    assert (await client.get(path, headers=headers)).status == 404
