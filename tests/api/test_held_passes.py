"""API scans over an unmounted folder hold their missing marks; the held-pass routes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client
from tests.media import make_video
from tests.mounts import tmpfs
from videolib.shared.db.schema import videos

SCAN = "/api/media/videos/scan"
HELD = "/api/media/library/held-passes"
APPLY = "/api/media/library/held-passes/apply"


async def states(engine: AsyncEngine) -> dict[str, tuple[object, bool]]:
    async with engine.connect() as connection:
        result = await connection.execute(select(videos.c.path, videos.c.id, videos.c.is_valid))
    return {r.path: (r.id, r.is_valid) for r in result}


async def test_scan_over_an_empty_mount_point_holds_then_apply(
    client: Client, auth: dict[str, str], library_root: Path, engine: AsyncEngine
) -> None:
    for name in ("a.mp4", "b.mp4"):
        make_video(library_root / "videos" / name, width=160 if name == "a.mp4" else 176)
    first = await client.post(SCAN, json={"directoryType": "videos"}, headers=auth)
    assert (await first.json())["created"] == 2
    before = await states(engine)

    with tmpfs(library_root / "videos", "1m"):
        response = await client.post(SCAN, json={"directoryType": "videos"}, headers=auth)
        assert response.status == 200
        body = await response.json()
        assert body["missing"] == 0
        assert [(h["directoryType"], h["kind"], h["missing"]) for h in body["held"]] == [
            ("videos", "unmounted", 2)
        ]
        assert await states(engine) == before  # nothing marked

        listed = await (await client.get(HELD, headers=auth)).json()
        assert listed["libraryMounted"] is True
        assert [(h["directoryType"], h["missing"], h["records"]) for h in listed["heldPasses"]] == [
            ("videos", 2, 2)
        ]
        # An admin who knows the share is gone for good applies it.
        applied = await client.post(APPLY, json={"directoryType": "videos"}, headers=auth)
        assert applied.status == 200, await applied.text()
        assert (await applied.json())["missing"] == 2
    assert not any(valid for _id, valid in (await states(engine)).values())
    assert (await (await client.get(HELD, headers=auth)).json())["heldPasses"] == []


async def test_apply_bad_bodies_are_400_json(client: Client, auth: dict[str, str]) -> None:
    for bad in ({}, {"directoryType": "movies"}, {"directoryType": 3}):
        response = await client.post(APPLY, json=bad, headers=auth)
        assert response.status == 400, bad
        assert "directoryType" in (await response.json())["message"]


async def test_without_the_marker_nothing_is_applied(
    client: Client, auth: dict[str, str], library_root: Path, engine: AsyncEngine
) -> None:
    make_video(library_root / "videos" / "a.mp4")
    await client.post(SCAN, json={"directoryType": "videos"}, headers=auth)
    (library_root / "videos" / "a.mp4").unlink()
    (library_root / ".videolib-library").unlink()
    listed = await (await client.get(HELD, headers=auth)).json()
    assert listed["libraryMounted"] is False and ".videolib-library" in listed["libraryReason"]
    response = await client.post(APPLY, json={"directoryType": "videos"}, headers=auth)
    assert response.status == 409
    assert "still held" in (await response.json())["message"]
    assert all(valid for _id, valid in (await states(engine)).values())
