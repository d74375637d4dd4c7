"""The API with its database stopped, frozen, or out of connection slots: 503 in bounded time.

Every route answers without a 500 or a hang; the database routes say 503 with a JSON body
and Retry-After; what was written before is all there once the server is back.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import SECRET, insert_rows, row
from tests.outages.conftest import OutageServer, dsn_of
from videolib.api.app import create_app
from videolib.shared.config import (
    ApiConfig,
    Config,
    DatabaseConfig,
    LibraryConfig,
    ProbeConfig,
    StateConfig,
)
from videolib.shared.db.engine import DatabaseTimeouts, open_engine
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.tokens import issue_token

Client = TestClient[web.Request, web.Application]
BOUND_S = 1.5  # api.database_timeout_seconds in these tests
#: A request may wait out the feature flag's read and then its own call, each bounded.
WITHIN_S = 2 * BOUND_S + 2.0
#: Routes whose every answer needs the database (the rest may answer without it).
DATABASE_ROUTES = [
    ("GET", "/readyz", None),
    ("GET", "/api/media/videos", None),
    ("GET", "/api/media/videos/{id}", None),
    ("GET", "/api/media/tags", None),
    ("GET", "/api/media/videos/duplicates", None),
    ("GET", "/api/media/scans/{id}", None),
    ("POST", "/api/media/videos/scan", {"directoryType": "videos"}),
    ("POST", "/api/media/videos/scan", {"directoryType": "videos", "async": True}),
    ("DELETE", "/api/media/videos/{id}", None),
]


def api_config(tmp_path: Path, url: URL) -> Config:
    root = tmp_path / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True, exist_ok=True)
    return Config(
        library=LibraryConfig(root=root),
        database=DatabaseConfig(url=dsn_of(url), pool_size=4, connect_timeout_seconds=BOUND_S),
        state=StateConfig(dir=tmp_path / "state"),
        probe=ProbeConfig(workers=1, timeout_ms=20000),
        api=ApiConfig(jwt_secret=SECRET, database_timeout_seconds=BOUND_S),
    )


@pytest.fixture
async def outage_engine(outage_url: URL, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    timeouts = DatabaseTimeouts.from_config(api_config(tmp_path, outage_url))
    async with open_engine(outage_url, 4, timeouts) as engine:
        yield engine


@pytest.fixture
async def outage_client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    outage_url: URL,
    outage_engine: AsyncEngine,
    tmp_path: Path,
) -> Client:
    return await aiohttp_client(create_app(api_config(tmp_path, outage_url), outage_engine))


AUTH = {"Authorization": f"Bearer {issue_token(SECRET)}"}


async def answer(client: Client, method: str, path: str, body: object = None) -> tuple:
    path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
    started = time.monotonic()
    async with client.request(method, path, json=body, headers=AUTH) as response:
        elapsed = time.monotonic() - started
        text = await response.text()
        return response.status, dict(response.headers), text, elapsed


def assert_unavailable(status: int, headers: dict, text: str, elapsed: float, what: str) -> None:
    assert status == 503, f"{what}: {status} {text}"
    assert headers.get("Retry-After") == "2", what  # ceil(1.5)
    assert '"error": "database_' in text or '"error":"database_' in text, text
    assert elapsed < WITHIN_S, f"{what} took {elapsed:.1f} s"


async def test_every_route_answers_without_500_when_the_database_is_stopped(
    outage_server: OutageServer, outage_client: Client, outage_engine: AsyncEngine
) -> None:
    ids = await insert_rows(outage_engine, row("videos/a.mp4"), row("videos/b.mp4"))
    status, *_ = await answer(outage_client, "GET", "/readyz")
    assert status == 200
    outage_server.stop()
    try:
        for method, path, body in DATABASE_ROUTES:
            assert_unavailable(*await answer(outage_client, method, path, body), f"{method} {path}")
        app = outage_client.server.app
        assert app is not None
        for route in app.router.routes():
            if route.method in ("HEAD", "OPTIONS"):
                continue
            canonical = route.resource.canonical if route.resource else "/"
            status, headers, text, elapsed = await answer(
                outage_client, route.method, canonical, {}
            )
            assert status != 500 and status < 504, f"{route.method} {canonical}: {status} {text}"
            if status == 503 and "database" in text:
                assert "Retry-After" in headers, canonical
            assert elapsed < WITHIN_S, f"{route.method} {canonical} took {elapsed:.1f} s"
    finally:
        outage_server.start()
    # Back: the pool's dead connections fail once at most, then all is as before.
    for _ in range(5):
        status, _h, text, _e = await answer(outage_client, "GET", "/api/media/videos")
        if status == 200:
            break
    assert status == 200, text
    assert all(i in text for i in ids)


async def test_a_frozen_server_gives_503_within_the_bound_not_a_hang(
    outage_server: OutageServer, outage_client: Client, outage_engine: AsyncEngine
) -> None:
    ids = await insert_rows(outage_engine, row("videos/a.mp4"))
    assert (await answer(outage_client, "GET", "/api/media/videos"))[0] == 200
    with outage_server.frozen():
        assert_unavailable(*await answer(outage_client, "GET", "/readyz"), "readyz")
        assert_unavailable(*await answer(outage_client, "GET", "/api/media/videos"), "list")
        scan = {"directoryType": "videos"}
        assert_unavailable(
            *await answer(outage_client, "POST", "/api/media/videos/scan", scan), "scan"
        )
    deadline = time.monotonic() + 30
    while (status := (await answer(outage_client, "GET", "/readyz"))[0]) != 200:
        assert time.monotonic() < deadline, "readyz never came back after SIGCONT"
    status, _h, text, _e = await answer(outage_client, "GET", "/api/media/videos")
    assert status == 200 and ids[0] in text


async def test_no_free_connection_slot_gives_503(
    outage_server: OutageServer, outage_client: Client, outage_url: URL, outage_engine: AsyncEngine
) -> None:
    await outage_engine.dispose()  # the app's start used some: each request needs a new one
    async with outage_server.slots_used_up(dsn_of(outage_url)) as held:
        assert held > 0
        assert_unavailable(*await answer(outage_client, "GET", "/readyz"), "readyz")
        assert_unavailable(*await answer(outage_client, "GET", "/api/media/videos"), "list")
        status, _h, text, _e = await answer(
            outage_client, "POST", "/api/media/videos/scan", {"directoryType": "videos"}
        )
        assert status == 503 and "too many" in text.lower(), text
    assert (await answer(outage_client, "GET", "/readyz"))[0] == 200
