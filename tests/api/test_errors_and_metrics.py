"""Error rendering, request ids, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from tests.api.conftest import Client
from videolib.api.app import create_app
from videolib.shared.config import Config


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
