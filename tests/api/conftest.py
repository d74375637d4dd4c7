"""Fixtures of the API tests: an app on the test's database and library, and tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.media import make_video
from videolib.api.app import create_app
from videolib.shared.config import Config
from videolib.shared.tokens import issue_token

SECRET = "test-secret-" + "x" * 64  # long enough for HS512 too (the hs512 case)
Client = TestClient[web.Request, web.Application]


@pytest.fixture
def api_config(config: Config) -> Config:
    return config.replace("api", jwt_secret=SECRET)


@pytest.fixture
def token() -> str:
    return issue_token(SECRET)


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
) -> Client:
    return await aiohttp_client(create_app(api_config, engine))


@pytest.fixture
def video_file(library_root: Path) -> Path:
    """A real one-second clip at videos/clip.mp4."""
    return make_video(library_root / "videos" / "clip.mp4", width=320, height=240)


def row(path: str, **values: object) -> dict[str, object]:
    """A `videos` row for direct insertion (no file behind it)."""
    base: dict[str, object] = {
        "path": path,
        "filename": path.rsplit("/", 1)[-1],
        "directory_type": path.split("/", 1)[0],
        "duration_seconds": 60,
        "quality": "FHD",
        "orientation": "landscape",
        "has_audio": True,
        "width": 1920,
        "height": 1080,
        "file_size": 1000,
        "file_hash": path,
    }
    base.update(values)
    return base


async def insert_rows(engine: AsyncEngine, *rows: dict[str, object]) -> list[str]:
    """Insert rows; their ids as strings, in order."""
    from sqlalchemy import insert

    from videolib.shared.db.schema import videos

    ids = []
    async with engine.begin() as connection:
        for values in rows:  # one by one: rows may set different columns
            result = await connection.execute(insert(videos).values(values).returning(videos.c.id))
            ids.append(str(result.scalar_one()))
    return ids
