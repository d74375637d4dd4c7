"""A video's history (issue 11 §6): every change, in the change's transaction, by whom."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import SECRET, Client
from tests.media import make_video
from videolib.shared.db import actor
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import TrashRepository, VideoRepository
from videolib.shared.tokens import issue_token

URL = "/api/media/videos"


def as_admin(subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, subject=subject)}"}


async def history(client: Client, video_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{URL}/{video_id}/history", params=params, headers=as_admin("x"))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def kinds(body: dict[str, Any]) -> list[str]:
    return [event["kind"] for event in body["data"]]


async def test_a_video_life_is_recorded_newest_first_and_outlives_its_record(
    client: Client, library_root: Path
) -> None:
    clip = make_video(library_root / "videos" / "clip.mp4", width=320, height=240)
    alice, bob = as_admin("alice"), as_admin("bob")
    created = await client.post(URL, json={"path": "videos/clip.mp4"}, headers=alice)
    video_id = (await created.json())["id"]
    await client.put(f"{URL}/{video_id}", json={"title": "Mountain"}, headers=bob)
    make_video(clip, width=640, height=480)  # rewritten in place: new size and hash
    await client.post(f"{URL}/{video_id}/validate", headers=alice)
    await client.delete(f"{URL}/{video_id}", headers=bob)
    await client.post(f"{URL}/{video_id}/restore", headers=bob)
    clip.unlink()
    await client.post(f"{URL}/{video_id}/validate", headers=alice)
    gone = await client.delete(f"{URL}/{video_id}?permanent=true", headers=alice)
    assert gone.status == 200

    body = await history(client, video_id)
    assert kinds(body) == [
        "deleted",
        "invalidated",
        "validated",  # the restore's re-probe found the file as it was
        "restored",
        "invalidated",
        "reprobed",
        "edited",
        "ingested",
    ]
    actors = [event["actor"] for event in body["data"]]
    assert actors == ["alice", "alice", "bob", "bob", "bob", "alice", "bob", "alice"]
    deleted, missing, _, restored, soft_deleted, reprobed, edited, ingested = body["data"]
    assert restored["changes"] == {"previousReason": "deleted"}
    assert deleted["changes"]["path"] == "videos/clip.mp4"
    assert (missing["changes"]["reason"], soft_deleted["changes"]["reason"]) == (
        "missing",
        "deleted",
    )
    assert reprobed["changes"]["width"] == {"old": 320, "new": 640}
    assert reprobed["changes"]["fileHash"]["old"] != reprobed["changes"]["fileHash"]["new"]
    assert edited["changes"] == {"title": {"old": None, "new": "Mountain"}}
    assert ingested["changes"]["path"] == "videos/clip.mp4"
    assert body["pagination"] == {
        "page": 1,
        "limit": 20,
        "total": 8,
        "totalPages": 1,
        "nextCursor": None,  # the history pages by number only
        "prevCursor": None,
    }
    assert all(event["videoId"] == video_id for event in body["data"])

    second = await history(client, video_id, page=2, limit=3)
    assert kinds(second) == ["restored", "invalidated", "reprobed"]


async def test_a_validation_that_finds_nothing_new_is_one_validated_event(
    client: Client, video_file: Path
) -> None:
    created = await client.post(URL, json={"path": "videos/clip.mp4"}, headers=as_admin("a"))
    video_id = (await created.json())["id"]
    await client.post(f"{URL}/{video_id}/validate", headers=as_admin("a"))
    await client.put(f"{URL}/{video_id}", json={"tags": []}, headers=as_admin("a"))  # no change
    assert kinds(await history(client, video_id)) == ["validated", "ingested"]


async def test_moves_name_the_process_that_made_them(
    database_url: Any, client: Client, video_file: Path
) -> None:
    created = await client.post(URL, json={"path": "videos/clip.mp4"}, headers=as_admin("a"))
    video_id = (await created.json())["id"]
    actor.set_process_actor("daemon")
    try:
        async with open_engine(database_url, pool_size=1) as daemon_engine:
            await VideoRepository(daemon_engine).move("videos/clip.mp4", "curated/clip.mp4")
    finally:
        actor.set_process_actor("unknown")
    moved = (await history(client, video_id))["data"][0]
    assert (moved["kind"], moved["actor"]) == ("moved", "daemon")
    assert (moved["changes"]["from"], moved["changes"]["to"]) == (
        "videos/clip.mp4",
        "curated/clip.mp4",
    )
    assert moved["changes"]["directoryType"] == {"old": "videos", "new": "curated"}


async def test_history_is_written_in_the_change_transaction(
    client: Client, engine: AsyncEngine, video_file: Path
) -> None:
    created = await client.post(URL, json={"path": "videos/clip.mp4"}, headers=as_admin("a"))
    video_id = (await created.json())["id"]
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(
            text("UPDATE videos SET title = 'never' WHERE id = :id"), {"id": video_id}
        )
        await transaction.rollback()
    assert kinds(await history(client, video_id)) == ["ingested"]


async def test_unknown_and_malformed_ids(client: Client) -> None:
    unknown = await client.get(f"{URL}/{uuid.uuid4()}/history", headers=as_admin("a"))
    assert unknown.status == 404
    assert (await unknown.json())["error"] == "not_found"
    malformed = await client.get(f"{URL}/not-an-id/history", headers=as_admin("a"))
    assert malformed.status == 400
    assert "id" in (await malformed.json())["message"]
    bad_page = await client.get(f"{URL}/{uuid.uuid4()}/history?page=0", headers=as_admin("a"))
    assert bad_page.status == 400
    assert "page" in (await bad_page.json())["message"]


async def test_trash_restore_and_purge_are_their_own_events(
    client: Client, engine: AsyncEngine, video_file: Path
) -> None:
    alice = as_admin("alice")
    created = await client.post(URL, json={"path": "videos/clip.mp4"}, headers=alice)
    video_id = (await created.json())["id"]
    assert (await client.delete(f"{URL}/{video_id}?file=trash", headers=alice)).status == 200
    assert (await client.post(f"{URL}/{video_id}/restore", headers=alice)).status == 200
    assert (await client.delete(f"{URL}/{video_id}?file=trash", headers=alice)).status == 200
    trashed = (await (await client.get(f"{URL}/{video_id}", headers=alice)).json())["path"]
    day = trashed.rsplit("/videos/", 1)[0]
    assert await TrashRepository(engine).drop_trashed_under(day) == [uuid.UUID(video_id)]

    body = await history(client, video_id)
    # Into and out of the trash is no move of the video; back, it is examined again.
    assert kinds(body) == ["purged", "trashed", "validated", "restored", "trashed", "ingested"]
    purged, again, _, restored, first, _ = body["data"]
    assert (first["changes"]["from"], first["changes"]["to"]) == ("videos/clip.mp4", trashed)
    assert first["changes"]["reason"] == "trashed"
    assert restored["changes"] == {
        "previousReason": "trashed",
        "from": trashed,
        "to": "videos/clip.mp4",
    }
    assert again["actor"] == "alice"
    assert purged["changes"]["path"] == trashed
