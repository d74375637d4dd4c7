from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Client


async def test_health_and_list(client: Client, auth: dict[str, str]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    response = await client.get("/api/media/videos", headers=auth)
    assert response.status == 200, await response.text()
    assert await response.json() == {
        "data": [],
        "pagination": {
            "page": 1,
            "limit": 20,
            "total": 0,
            "totalPages": 0,
            "nextCursor": None,
            "prevCursor": None,
        },
    }


async def test_create_then_get(client: Client, auth: dict[str, str], video_file: Path) -> None:
    response = await client.post(
        "/api/media/videos", json={"path": "videos/clip.mp4", "title": "Clip"}, headers=auth
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    assert (created["path"], created["title"]) == ("videos/clip.mp4", "Clip")
    assert created["isValid"] is True and created["width"] == 320
    response = await client.get(f"/api/media/videos/{created['id']}", headers=auth)
    assert response.status == 200
    assert await response.json() == created
