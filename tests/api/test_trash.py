"""Trash instead of unlink (issue 11 §3): DELETE ?file=trash, restore, permanent delete.

Real files made by tests/media.py, the real API on the test's PostgreSQL."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client
from tests.media import make_video
from tests.mounts import tmpfs
from videolib.shared.config import Config
from videolib.shared.thumbnails import thumbnail_name

URL = "/api/media/videos"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


async def recorded(client: Client, auth: dict[str, str], path: str) -> dict[str, Any]:
    response = await client.post(URL, json={"path": path}, headers=auth)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def trash(client: Client, auth: dict[str, str], video_id: str) -> Any:
    return await client.delete(f"{URL}/{video_id}?file=trash", headers=auth)


async def test_trash_moves_the_file_and_restore_brings_it_back(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    (library_root / "studios" / "a").mkdir(parents=True)
    clip = make_video(library_root / "studios" / "a" / "clip.mp4")
    content = clip.read_bytes()
    video = await recorded(client, auth, "studios/a/clip.mp4")

    response = await trash(client, auth, video["id"])
    assert response.status == 200, await response.text()
    trashed = (await response.json())["video"]
    trash_path = f".trash/{today()}/studios/a/clip.mp4"
    assert trashed["id"] == video["id"]
    assert (trashed["isValid"], trashed["invalidReason"]) == (False, "trashed")
    assert (trashed["path"], trashed["trashedFrom"]) == (trash_path, "studios/a/clip.mp4")
    assert trashed["trashedAt"] is not None
    assert not clip.exists()
    assert (library_root / trash_path).read_bytes() == content

    response = await client.post(f"{URL}/{video['id']}/restore", headers=auth)
    assert response.status == 200, await response.text()
    restored = await response.json()
    assert restored["id"] == video["id"]
    assert (restored["path"], restored["isValid"], restored["invalidReason"]) == (
        "studios/a/clip.mp4",
        True,
        None,
    )
    assert (restored["trashedFrom"], restored["trashedAt"]) == (None, None)
    assert clip.read_bytes() == content
    assert not (library_root / trash_path).exists()


async def test_the_same_path_trashed_twice_in_a_day_keeps_both(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    first = make_video(library_root / "videos" / "x.mp4", seconds=1.0)
    one = await recorded(client, auth, "videos/x.mp4")
    assert (await trash(client, auth, one["id"])).status == 200
    make_video(first, seconds=2.0)
    two = await recorded(client, auth, "videos/x.mp4")  # a new record: the path was free
    assert two["id"] != one["id"]
    response = await trash(client, auth, two["id"])
    assert response.status == 200, await response.text()
    assert (await response.json())["video"]["path"] == f".trash/{today()}/videos/x-1.mp4"
    assert sorted(os.listdir(library_root / ".trash" / today() / "videos")) == ["x-1.mp4", "x.mp4"]


async def test_restore_refuses_a_taken_path_and_keeps_everything(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    clip = make_video(library_root / "videos" / "clip.mp4")
    video = await recorded(client, auth, "videos/clip.mp4")
    assert (await trash(client, auth, video["id"])).status == 200
    newcomer = make_video(clip, seconds=2.0)  # a new file took the name meanwhile
    new_bytes = newcomer.read_bytes()

    response = await client.post(f"{URL}/{video['id']}/restore", headers=auth)
    assert response.status == 409
    body = await response.json()
    assert body["error"] == "trash_refused"
    assert "videos/clip.mp4" in body["message"] and "a file is there now" in body["message"]
    assert clip.read_bytes() == new_bytes  # not replaced
    assert (library_root / ".trash" / today() / "videos" / "clip.mp4").is_file()
    still = await (await client.get(f"{URL}/{video['id']}", headers=auth)).json()
    assert still["invalidReason"] == "trashed"


async def test_restore_refuses_a_path_recorded_again(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    clip = make_video(library_root / "videos" / "clip.mp4")
    video = await recorded(client, auth, "videos/clip.mp4")
    assert (await trash(client, auth, video["id"])).status == 200
    make_video(clip, seconds=2.0)
    await recorded(client, auth, "videos/clip.mp4")
    clip.unlink()  # the file went, its record stays: the path is still taken

    response = await client.post(f"{URL}/{video['id']}/restore", headers=auth)
    assert response.status == 409
    assert "another record has this path" in (await response.json())["message"]
    assert (library_root / ".trash" / today() / "videos" / "clip.mp4").is_file()
    assert not clip.exists()


async def test_bad_trash_requests_are_4xx_json(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    clip = make_video(library_root / "videos" / "clip.mp4")
    video = await recorded(client, auth, "videos/clip.mp4")
    response = await client.delete(f"{URL}/{video['id']}?file=unlink", headers=auth)
    assert response.status == 400
    assert (await response.json())["message"].startswith("file:")
    response = await client.delete(f"{URL}/{video['id']}?file=trash&permanent=true", headers=auth)
    assert response.status == 400
    message = (await response.json())["message"]
    assert message.startswith("file:") and "not both" in message
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await trash(client, auth, missing)).status == 404
    assert (await client.post(f"{URL}/{missing}/restore", headers=auth)).status == 404
    assert clip.is_file()  # none of these touched the file

    assert (await trash(client, auth, video["id"])).status == 200
    again = await trash(client, auth, video["id"])
    assert again.status == 409
    assert "already in the trash" in (await again.json())["message"]


async def test_a_record_without_its_file_is_not_trashed(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    clip = make_video(library_root / "videos" / "clip.mp4")
    video = await recorded(client, auth, "videos/clip.mp4")
    clip.unlink()
    response = await trash(client, auth, video["id"])
    assert response.status == 409
    assert "no file to move" in (await response.json())["message"]
    after = await (await client.get(f"{URL}/{video['id']}", headers=auth)).json()
    assert after["path"] == "videos/clip.mp4" and after["invalidReason"] is None


async def test_a_type_folder_on_its_own_mount_refuses_the_trash(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    with tmpfs(library_root / "gifs", "20m"):
        clip = make_video(library_root / "gifs" / "clip.mp4")
        video = await recorded(client, auth, "gifs/clip.mp4")
        response = await trash(client, auth, video["id"])
        assert response.status == 409
        body = await response.json()
        assert body["error"] == "trash_refused"
        assert "another file system" in body["message"]
        assert clip.is_file()
        after = await (await client.get(f"{URL}/{video['id']}", headers=auth)).json()
        assert (after["path"], after["isValid"]) == ("gifs/clip.mp4", True)


async def test_permanent_delete_removes_the_thumbnail_jpeg(
    client: Client, auth: dict[str, str], library_root: Path, api_config: Config
) -> None:
    make_video(library_root / "videos" / "clip.mp4")
    video = await recorded(client, auth, "videos/clip.mp4")
    jpeg = api_config.thumbnail_dir / thumbnail_name(uuid.UUID(video["id"]))
    jpeg.parent.mkdir(parents=True, exist_ok=True)
    jpeg.write_bytes(b"\xff\xd8 a jpeg")
    other = api_config.thumbnail_dir / "ff" / "someone-else.jpg"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_bytes(b"\xff\xd8")

    assert (await client.delete(f"{URL}/{video['id']}", headers=auth)).status == 200
    assert jpeg.exists()  # a soft delete keeps it
    response = await client.delete(f"{URL}/{video['id']}?permanent=true", headers=auth)
    assert response.status == 200, await response.text()
    assert not jpeg.exists()
    assert other.exists()


async def test_trashed_records_are_not_marked_missing_by_a_rescan(
    client: Client, auth: dict[str, str], library_root: Path, engine: AsyncEngine
) -> None:
    make_video(library_root / "videos" / "clip.mp4")
    video = await recorded(client, auth, "videos/clip.mp4")
    assert (await trash(client, auth, video["id"])).status == 200
    response = await client.post(
        f"{URL}/scan", json={"directoryType": "videos", "skipExisting": False}, headers=auth
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["scanned"] == 0
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT path, invalid_reason FROM videos"))).all()
    assert [tuple(r) for r in rows] == [(f".trash/{today()}/videos/clip.mp4", "trashed")]


async def test_a_trashed_video_is_restored_as_it_probes_and_is_not_soft_deleted(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    broken = library_root / "videos" / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    scanned = await client.post(f"{URL}/scan", json={"directoryType": "videos"}, headers=auth)
    assert scanned.status == 200, await scanned.text()
    listed = await (await client.get(f"{URL}?isValid=false", headers=auth)).json()
    [video] = [v for v in listed["data"] if v["path"] == "videos/broken.mp4"]
    assert video["invalidReason"] == "corrupt"
    assert (await trash(client, auth, video["id"])).status == 200
    # A plain delete of a trashed video is refused, not a 500; it stays in the trash.
    refused = await client.delete(f"{URL}/{video['id']}", headers=auth)
    assert refused.status == 409
    assert "in the trash" in (await refused.json())["message"]
    restored = await client.post(f"{URL}/{video['id']}/restore", headers=auth)
    assert restored.status == 200
    body = await restored.json()
    assert (body["id"], body["path"]) == (video["id"], "videos/broken.mp4")
    assert (body["isValid"], body["invalidReason"]) == (False, "corrupt")  # not made valid
    assert broken.exists()
