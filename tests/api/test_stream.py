"""GET /api/media/videos/{id}/stream, /playback and /frame: real files, the real API and
PostgreSQL. Bytes are compared with the file's own; no mock of the file or the prober."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client, insert_rows, row
from tests.api.test_openapi import check, document
from tests.media import make_video
from videolib.api.keys import METRICS
from videolib.api.streaming import file_etag
from videolib.shared.config import Config
from videolib.shared.frame_cache import FOLDER as FRAMES_FOLDER

URL = "/api/media/videos"


async def recorded(client: Client, auth: dict[str, str], path: str) -> dict[str, Any]:
    response = await client.post(URL, json={"path": path}, headers=auth)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


@pytest.fixture
def clip(library_root: Path) -> Path:
    """A real clip of realistic density (noise), tens of kilobytes."""
    return make_video(library_root / "videos" / "clip.mp4", seconds=2, noise=True)


def stream_url(video: dict[str, Any]) -> str:
    return f"{URL}/{video['id']}/stream"


async def test_whole_file_with_validators(client: Client, auth: dict[str, str], clip: Path) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    response = await client.get(stream_url(video), headers=auth)
    assert response.status == 200
    assert await response.read() == clip.read_bytes()
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["ETag"] == file_etag(clip.stat())
    assert response.headers["ETag"].startswith('"')  # strong: a weak one cannot If-Range
    assert "Last-Modified" in response.headers
    assert response.headers["Cache-Control"] == "private, no-cache"


async def test_a_compressed_sibling_is_never_served_for_the_video(
    client: Client, auth: dict[str, str], clip: Path
) -> None:
    # aiohttp's FileResponse would send clip.mp4.gz to a client that accepts gzip.
    clip.with_name(clip.name + ".gz").write_bytes(b"not the video")
    video = await recorded(client, auth, "videos/clip.mp4")
    headers = {**auth, "Accept-Encoding": "gzip, br"}
    response = await client.get(stream_url(video), headers=headers, auto_decompress=False)
    assert response.status == 200
    assert "Content-Encoding" not in response.headers
    assert await response.read() == clip.read_bytes()


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=100-", 100, None),
        ("bytes=-500", -500, None),  # suffix: the last 500 bytes
        ("bytes=1234-1234", 1234, 1235),  # one byte
        ("bytes=50-999999999", 50, None),  # past the end: up to the end
    ],
)
async def test_ranges_answer_206_with_the_exact_bytes(
    client: Client, auth: dict[str, str], clip: Path, header: str, start: int, stop: int | None
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    content = clip.read_bytes()
    response = await client.get(stream_url(video), headers={**auth, "Range": header})
    assert response.status == 206
    expected = content[start:stop]
    assert await response.read() == expected
    first = start if start >= 0 else len(content) + start
    assert response.headers["Content-Range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(content)}"
    )
    assert response.headers["Content-Length"] == str(len(expected))


async def test_unsatisfiable_range_is_416_with_the_size(
    client: Client, auth: dict[str, str], clip: Path
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    size = clip.stat().st_size
    response = await client.get(stream_url(video), headers={**auth, "Range": f"bytes={size}-"})
    assert response.status == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"


async def test_if_range_with_the_current_etag_serves_the_range(
    client: Client, auth: dict[str, str], clip: Path
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    etag = file_etag(clip.stat())
    headers = {**auth, "Range": "bytes=10-19", "If-Range": etag}
    response = await client.get(stream_url(video), headers=headers)
    assert response.status == 206
    assert await response.read() == clip.read_bytes()[10:20]


@pytest.mark.parametrize("stale", ['"1-2"', "W/{current}"])
async def test_if_range_with_a_stale_or_weak_etag_sends_the_whole_file(
    client: Client, auth: dict[str, str], clip: Path, stale: str
) -> None:
    """RFC 9110 §13.1.5. aiohttp alone reads If-Range as a date only, and sent 206 here."""
    video = await recorded(client, auth, "videos/clip.mp4")
    if_range = stale.format(current=file_etag(clip.stat()))
    headers = {**auth, "Range": "bytes=10-19", "If-Range": if_range}
    response = await client.get(stream_url(video), headers=headers)
    assert response.status == 200
    assert await response.read() == clip.read_bytes()
    assert "Content-Range" not in response.headers


async def test_a_rewritten_file_gets_a_new_etag_and_a_stale_range_gets_all(
    client: Client, auth: dict[str, str], clip: Path
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    before = (await client.get(stream_url(video), headers=auth)).headers["ETag"]
    content = bytearray(clip.read_bytes())
    content[-1] ^= 0xFF  # same size, other bytes, later mtime
    clip.write_bytes(bytes(content))
    stat = clip.stat()
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    headers = {**auth, "Range": "bytes=-1", "If-Range": before}
    response = await client.get(stream_url(video), headers=headers)
    assert response.status == 200
    assert response.headers["ETag"] != before
    assert await response.read() == bytes(content)


async def test_if_none_match_is_304_and_head_sends_no_body(
    client: Client, auth: dict[str, str], clip: Path
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    etag = file_etag(clip.stat())
    response = await client.get(stream_url(video), headers={**auth, "If-None-Match": etag})
    assert response.status == 304
    assert await response.read() == b""
    assert response.headers["ETag"] == etag
    head = await client.head(stream_url(video), headers=auth)
    assert head.status == 200
    assert head.headers["Content-Length"] == str(clip.stat().st_size)
    assert head.headers["Accept-Ranges"] == "bytes"
    assert await head.read() == b""


async def test_cookie_and_bearer_authorise_it_and_nothing_is_401(
    client: Client, auth: dict[str, str], token: str, clip: Path
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    cookie = {"Cookie": f"videolib_session={token}", "Range": "bytes=0-3"}
    by_cookie = await client.get(stream_url(video), headers=cookie)
    assert by_cookie.status == 206
    assert await by_cookie.read() == clip.read_bytes()[:4]
    by_bearer = await client.get(stream_url(video), headers={**auth, "Range": "bytes=0-3"})
    assert by_bearer.status == 206
    anonymous = await client.get(stream_url(video))
    assert anonymous.status == 401
    assert (await anonymous.json())["error"] == "unauthorized"


async def test_bytes_sent_are_counted(client: Client, auth: dict[str, str], clip: Path) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    counter = client.app[METRICS].stream_bytes
    before = counter._value.get()
    await (await client.get(stream_url(video), headers={**auth, "Range": "bytes=0-99"})).read()
    await (await client.head(stream_url(video), headers=auth)).read()  # HEAD sends none
    assert counter._value.get() - before == 100
    scraped = await (await client.get("/metrics")).text()
    assert "videolib_api_stream_bytes_total" in scraped


async def test_unknown_id_is_404_json(client: Client, auth: dict[str, str]) -> None:
    response = await client.get(f"{URL}/{uuid.uuid4()}/stream", headers=auth)
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"


async def test_a_trashed_file_is_404_saying_so(
    client: Client, auth: dict[str, str], clip: Path
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    trashed = await client.delete(f"{URL}/{video['id']}?file=trash", headers=auth)
    assert trashed.status == 200
    response = await client.get(stream_url(video), headers=auth)
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "file_trashed"
    assert "in the trash" in body["message"]


async def test_a_file_gone_from_disk_or_recorded_missing_is_404_saying_so(
    client: Client, auth: dict[str, str], engine: AsyncEngine, clip: Path
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    clip.unlink()
    response = await client.get(stream_url(video), headers=auth)
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "file_missing"
    assert "videos/clip.mp4: no such file on disk" in body["message"]
    (missing,) = await insert_rows(
        engine, row("videos/gone.mp4", is_valid=False, invalid_reason="missing")
    )
    response = await client.get(f"{URL}/{missing}/stream", headers=auth)
    assert response.status == 404
    assert (await response.json())["error"] == "file_missing"
    # The record is untouched by a read: still there, still valid.
    again = await client.get(f"{URL}/{video['id']}", headers=auth)
    assert (await again.json())["isValid"] is True


async def test_a_symlink_out_of_the_library_is_refused(
    client: Client, auth: dict[str, str], engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    outside = make_video(tmp_path / "secret.mp4")
    (library_root / "videos" / "link.mp4").symlink_to(outside)
    # Recorded directly: POST refuses such a link, but a row may predate the rule.
    (video_id,) = await insert_rows(engine, row("videos/link.mp4"))
    response = await client.get(f"{URL}/{video_id}/stream", headers=auth)
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "file_outside_library"
    assert "outside the library" in body["message"]


async def test_playback_says_an_h264_mp4_plays(
    client: Client, auth: dict[str, str], clip: Path
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    response = await client.get(f"{URL}/{video['id']}/playback", headers=auth)
    assert response.status == 200, await response.text()
    assert await response.json() == {
        "id": video["id"],
        "playable": True,
        "reason": None,
        "container": "mov,mp4,m4a,3gp,3g2,mj2",
        "videoCodec": "h264",
        "audioCodec": "aac",
        "contentType": "video/mp4",
        "streamUrl": f"/api/media/videos/{video['id']}/stream",
    }


async def test_playback_says_an_mpeg2_file_does_not_play_and_frames_are_cached(
    client: Client, auth: dict[str, str], api_config: Config, library_root: Path
) -> None:
    make_video(library_root / "videos" / "tape.mkv", codec="mpeg2video", seconds=2)
    video = await recorded(client, auth, "videos/tape.mkv")
    response = await client.get(f"{URL}/{video['id']}/playback", headers=auth)
    body = await response.json()
    assert (body["playable"], body["videoCodec"]) == (False, "mpeg2video")
    assert body["reason"] == "browsers do not decode mpeg2video video in Matroska/WebM"
    assert body["contentType"] == "video/x-matroska"

    frame = await client.get(f"{URL}/{video['id']}/frame?at=0.5", headers=auth)
    assert frame.status == 200, await frame.text()
    assert frame.headers["Content-Type"] == "image/jpeg"
    assert (await frame.read()).startswith(b"\xff\xd8")
    cached = list((api_config.thumbnail_dir / FRAMES_FOLDER).rglob("*.jpg"))
    assert [p.name.rsplit("-", 1)[-1] for p in cached] == ["0500.jpg"]
    mtime = cached[0].stat().st_mtime_ns
    again = await client.get(f"{URL}/{video['id']}/frame?at=0.5", headers=auth)
    assert again.status == 200
    assert cached[0].stat().st_mtime_ns == mtime  # served from the cache, not made again


@pytest.mark.parametrize("at", ["-0.1", "1.5", "x", ""])
async def test_frame_position_out_of_range_is_400(
    client: Client, auth: dict[str, str], clip: Path, at: str
) -> None:
    video = await recorded(client, auth, "videos/clip.mp4")
    response = await client.get(f"{URL}/{video['id']}/frame?at={at}", headers=auth)
    assert response.status == 400
    assert "at" in (await response.json())["message"]


async def test_frame_of_a_file_that_does_not_decode_is_422(
    client: Client, auth: dict[str, str], engine: AsyncEngine, library_root: Path
) -> None:
    (library_root / "videos" / "junk.mp4").write_bytes(b"not a video at all" * 100)
    (video_id,) = await insert_rows(engine, row("videos/junk.mp4"))
    response = await client.get(f"{URL}/{video_id}/frame?at=0.2", headers=auth)
    assert response.status == 422
    assert "videos/junk.mp4: no frame at 0.2" in (await response.json())["message"]
    playback = await (await client.get(f"{URL}/{video_id}/playback", headers=auth)).json()
    assert playback["playable"] is False
    assert playback["reason"].startswith("its streams cannot be read")


async def test_stale_frames_go_when_the_file_changes_and_all_go_with_the_record(
    client: Client, auth: dict[str, str], api_config: Config, library_root: Path
) -> None:
    tape = make_video(library_root / "videos" / "tape.mkv", codec="mpeg2video", seconds=2)
    video = await recorded(client, auth, "videos/tape.mkv")
    frames = api_config.thumbnail_dir / FRAMES_FOLDER
    for at in ("0.25", "0.75"):
        assert (await client.get(f"{URL}/{video['id']}/frame?at={at}", headers=auth)).status == 200
    first = sorted(p.name for p in frames.rglob("*.jpg"))
    assert len(first) == 2
    stat = tape.stat()
    os.utime(tape, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a new version
    assert (await client.get(f"{URL}/{video['id']}/frame?at=0.25", headers=auth)).status == 200
    now = sorted(p.name for p in frames.rglob("*.jpg"))
    assert len(now) == 1 and now[0] not in first  # the old version's two are gone

    assert (await client.delete(f"{URL}/{video['id']}", headers=auth)).status == 200
    purged = await client.delete(f"{URL}/{video['id']}?permanent=true", headers=auth)
    assert purged.status == 200
    assert list(frames.rglob("*.jpg")) == []
    assert tape.exists()  # the record went, never the file


async def test_playback_answers_match_the_openapi_document(
    client: Client, auth: dict[str, str], clip: Path
) -> None:
    doc = await document(client, auth)
    video = await recorded(client, auth, "videos/clip.mp4")
    template = "/api/media/videos/{id}/playback"
    for url in (f"{URL}/{video['id']}/playback", f"{URL}/{uuid.uuid4()}/playback"):
        response = await client.get(url, headers=auth)
        check(doc, "get", template, response.status, await response.json())
    stream = doc["paths"]["/api/media/videos/{id}/stream"]["get"]["responses"]
    assert {"200", "206", "304", "404", "416"} <= set(stream)
