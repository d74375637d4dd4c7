"""Error rendering, request ids, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import URL, text
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from tests.api.conftest import Client
from videolib.api.app import create_app
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine


async def test_unexpected_error_is_a_500_json_with_the_logged_request_id(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
) -> None:
    app = create_app(api_config, engine)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    with capture_logs() as logs:
        response = await client.get("/broken")
    assert response.status == 500
    body = await response.json()
    assert body["error"] == "internal_error" and "boom" not in body["message"]
    assert body["requestId"] == response.headers["X-Request-Id"]
    crash = [entry for entry in logs if entry["event"] == "request_crashed"]
    assert crash and crash[0]["log_level"] == "error"


async def test_unknown_route_and_method_are_json(client: Client, auth: dict[str, str]) -> None:
    response = await client.get("/nope")
    assert response.status == 404 and (await response.json())["error"] == "not_found"
    response = await client.patch("/api/media/videos", headers=auth)
    assert response.status == 405
    assert (await response.json())["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


async def test_request_id_is_echoed(client: Client) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    response = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert response.headers["X-Request-Id"] != "bad id\twith spaces"


async def test_metrics_by_route_template(client: Client, auth: dict[str, str]) -> None:
    await client.get("/api/media/videos/00000000-0000-0000-0000-000000000000", headers=auth)
    text = await (await client.get("/metrics")).text()
    assert (
        'videolib_api_requests_total{method="GET",route="/api/media/videos/{id}",status="404"} 1.0'
        in text
    )
    assert "videolib_api_request_seconds_bucket" in text
    assert "videolib_api_requests_in_flight" in text
    assert "videolib_api_db_connections_in_use" in text
    assert 'videolib_library_videos{directory_type="videos",valid="true"}' in text
    assert 'videolib_api_scan_jobs{status="running"}' in text


async def test_list_survives_killed_database_connections(
    client: Client, auth: dict[str, str], database_url: URL
) -> None:
    """The listing runs on the driver connection directly: a connection the server killed
    must give a 503 JSON once and leave the pool, not fail every request after it."""
    for _ in range(8):  # use several of the pool's connections
        assert (await client.get("/api/media/videos", headers=auth)).status == 200
    async with open_engine(database_url, pool_size=1) as admin, admin.connect() as connection:
        killed = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert killed
    statuses = []
    for _ in range(10):
        response = await client.get("/api/media/videos", headers=auth)
        statuses.append(response.status)
        if response.status == 503:
            assert (await response.json())["error"] == "database_unavailable"
        else:
            assert response.status == 200
    # Each dead connection fails one request at most (pool of 4), then all is well again.
    assert statuses.count(503) <= 4 and statuses[-6:] == [200] * 6
