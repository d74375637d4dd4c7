"""Listing, reading, creating, editing, deleting and restoring videos."""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client, insert_rows, row
from tests.media import make_video
from videolib.shared.db.repository import listing as listing_statements

URL = "/api/media/videos"


async def listing(client: Client, auth: dict[str, str], query: str = "") -> dict:  # type: ignore[type-arg]
    response = await client.get(f"{URL}?{query}", headers=auth)
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


def paths(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [video["path"] for video in body["data"]]


async def test_filters_and_valid_by_default(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await insert_rows(
        engine,
        row("videos/a.mp4", quality="HD", orientation="portrait", width=720, height=1280),
        row("studios/b.mp4", has_audio=False),
        row("videos/c.mp4", is_valid=False, invalid_reason="deleted"),
    )
    assert sorted(paths(await listing(client, auth))) == ["studios/b.mp4", "videos/a.mp4"]
    assert paths(await listing(client, auth, "directoryType=videos")) == ["videos/a.mp4"]
    assert paths(await listing(client, auth, "quality=HD&orientation=portrait")) == ["videos/a.mp4"]
    assert paths(await listing(client, auth, "hasAudio=false")) == ["studios/b.mp4"]
    # The page's quality checkboxes send several, comma-separated.
    assert sorted(paths(await listing(client, auth, "quality=HD,FHD"))) == [
        "studios/b.mp4",
        "videos/a.mp4",
    ]
    assert paths(await listing(client, auth, "quality=HD,UHD")) == ["videos/a.mp4"]
    assert paths(await listing(client, auth, "isValid=false")) == ["videos/c.mp4"]


async def test_producer_match_escapes_wildcards(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await insert_rows(
        engine,
        row("videos/a.mp4", producer="100% Studio"),
        row("videos/b.mp4", producer="1000 Studio"),
        row("videos/c.mp4", producer="a_b", creator="Back\\slash"),
        row("videos/d.mp4", producer="axb"),
    )
    assert paths(await listing(client, auth, "producer=100%25")) == ["videos/a.mp4"]
    assert paths(await listing(client, auth, "producer=a_b")) == ["videos/c.mp4"]
    assert len((await listing(client, auth, "producer=STUDIO"))["data"]) == 2
    assert paths(await listing(client, auth, "creator=k%5Cs")) == ["videos/c.mp4"]


async def test_search_is_the_seeds_substring_match(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await insert_rows(
        engine,
        row("videos/a.mp4", title="Mountain Biking Highlights"),
        row("videos/b.mp4", producer="Oceanic Studios", creator="Jane Doe"),
        row("videos/c.mp4", title="Cooking"),
    )
    assert paths(await listing(client, auth, "search=mountain")) == ["videos/a.mp4"]
    assert paths(await listing(client, auth, "search=bik")) == ["videos/a.mp4"]  # partial
    assert paths(await listing(client, auth, "search=anic%20stud")) == ["videos/b.mp4"]
    # One substring, as the seed's ILIKE: not word by word, not across two fields.
    assert paths(await listing(client, auth, "search=ocean%20jane")) == []
    assert paths(await listing(client, auth, "search=studios%20jane")) == []
    assert paths(await listing(client, auth, "search=%27%22%3A%2A%26%7C")) == []  # syntax only
    assert paths(await listing(client, auth, "search=nothing")) == []


async def test_sort_and_pagination(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await insert_rows(
        engine,
        *(
            row(f"videos/{i}.mp4", title=f"t{i}", file_size=i, created_at=start + timedelta(i))
            for i in range(5)
        ),
    )
    body = await listing(client, auth, "limit=2&page=2")
    assert paths(body) == ["videos/2.mp4", "videos/1.mp4"]  # newest first by default
    where = body["pagination"]
    assert {k: where[k] for k in ("page", "limit", "total", "totalPages")} == {
        "page": 2,
        "limit": 2,
        "total": 5,
        "totalPages": 3,
    }
    assert where["nextCursor"] and where["prevCursor"]  # pages 1 and 3 exist
    assert paths(await listing(client, auth, "sort=fileSize&limit=2")) == [
        "videos/0.mp4",
        "videos/1.mp4",
    ]
    assert paths(await listing(client, auth, "sort=-title&limit=1")) == ["videos/4.mp4"]
    beyond = await listing(client, auth, "page=9&limit=2")
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 5
    assert body["data"][0]["createdAt"] == "2026-01-03T00:00:00.000Z"


@pytest.mark.parametrize("deep_from", [0, 10**9])
async def test_deep_pages_by_deferred_join_match_direct_reads(
    client: Client,
    auth: dict[str, str],
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    deep_from: int,
) -> None:
    """Every page reads the same rows whichever way PostgreSQL finds them."""
    monkeypatch.setattr(listing_statements, "DEFERRED_JOIN_FROM", deep_from)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await insert_rows(
        engine,
        *(  # pairs share a created_at, so the id decides their order
            row(f"videos/{i}.mp4", file_size=i % 3, created_at=start + timedelta(i // 2))
            for i in range(7)
        ),
        row("videos/gone.mp4", is_valid=False, invalid_reason="missing", created_at=start),
    )
    everything = paths(await listing(client, auth, "limit=100"))
    assert len(everything) == 7
    for sort in ("-createdAt", "fileSize"):
        everything = paths(await listing(client, auth, f"limit=100&sort={sort}"))
        pages = [await listing(client, auth, f"limit=2&page={n}&sort={sort}") for n in range(1, 6)]
        assert [p for body in pages for p in paths(body)] == everything
        assert pages[-1]["data"] == [] and pages[0]["pagination"]["total"] == 7


async def test_list_items_equal_the_single_video_form(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    """PostgreSQL renders list items, Python renders one video: the two must not drift."""
    moment = datetime(2026, 3, 4, 5, 6, 7, 999_999, tzinfo=UTC)  # milliseconds are cut
    await insert_rows(
        engine,
        row(
            "videos/a.mp4",
            title='quote " back\\slash \u00e9t\u00e9 \u2603 tab\t',
            producer=None,
            tags=["x", "d\u00e9j\u00e0 vu"],
            file_size=2**40 + 1,  # beyond 32 bits
            last_validated=moment,
            standardized_at=None,
            probe_error=None,
            created_at=moment,
        ),
        row("gifs/b.gif", has_audio=False, duration_seconds=None, quality=None, tags=[]),
    )
    items = (await listing(client, auth))["data"]
    assert len(items) == 2
    for item in items:
        response = await client.get(f"/api/media/videos/{item['id']}", headers=auth)
        assert item == await response.json()
        assert list(item) == list(await response.json())  # same keys, same order
    first = next(item for item in items if item["path"] == "videos/a.mp4")
    assert first["lastValidated"] == first["createdAt"] == "2026-03-04T05:06:07.999Z"
    assert first["fileSize"] == 2**40 + 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("page=0", "page"),
        ("directoryType=movies", "directoryType"),
        ("orientation=diagonal", "orientation"),
        ("quality=8K", "quality"),
        ("sort=path", "sort"),
        ("hasAudio=maybe", "hasAudio"),
        ("isValid=2", "isValid"),
    ],
)
async def test_bad_list_queries(
    client: Client, auth: dict[str, str], query: str, field: str
) -> None:
    response = await client.get(f"{URL}?{query}", headers=auth)
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "bad_request"
    # The field is named first; an item of a list adds its index (`quality.0: ...`).
    assert body["message"].split(":")[0].split(".")[0] == field


async def test_get_unknown_and_malformed(client: Client, auth: dict[str, str]) -> None:
    response = await client.get(f"{URL}/{uuid.uuid4()}", headers=auth)
    assert response.status == 404 and (await response.json())["error"] == "not_found"
    response = await client.get(f"{URL}/not-a-uuid", headers=auth)
    assert response.status == 400 and (await response.json())["message"].startswith("id:")


async def test_create_records_the_probed_file(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    make_video(library_root / "videos" / "new-video.mp4", width=1280, height=720, seconds=2)
    body = {
        "path": "videos/new-video.mp4",
        "filename": "new-video.mp4",
        "directoryType": "videos",
        "producer": "Studio A",
        "tags": ["action", " action ", "sports"],
    }
    response = await client.post(URL, json=body, headers=auth)
    assert response.status == 201, await response.text()
    video = await response.json()
    assert video["quality"] == "HD" and video["width"] == 1280 and video["durationSeconds"] == 2
    assert video["tags"] == ["action", "sports"] and video["isValid"] is True
    assert len(video["fileHash"]) == 64
    again = await client.post(URL, json={"path": "videos/./new-video.mp4"}, headers=auth)
    assert again.status == 409


@pytest.mark.parametrize(
    "path",
    [
        "../outside.mp4",
        "videos/../../outside.mp4",
        "/etc/passwd",
        "movies/x.mp4",
        "videos/absent.mp4",
        "videos/link-out.mp4",
        "videos/notes.txt",
    ],
)
async def test_create_refuses_bad_paths(
    client: Client, auth: dict[str, str], library_root: Path, tmp_path: Path, path: str
) -> None:
    outside = make_video(tmp_path / "outside.mp4")
    os.symlink(outside, library_root / "videos" / "link-out.mp4")
    (library_root / "videos" / "notes.txt").write_text("hello")
    response = await client.post(URL, json={"path": path}, headers=auth)
    assert response.status == 400, await response.text()
    assert (await response.json())["error"] in ("bad_path", "unsafe_path")


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1, 2]", b"", b'{"path": 5}', b'{"path": "videos/a.mp4", "extra": 1}'],
)
async def test_create_bad_bodies(client: Client, auth: dict[str, str], payload: bytes) -> None:
    response = await client.post(
        URL, data=payload, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"] == "bad_request"


async def test_json_body_too_large(client: Client, auth: dict[str, str]) -> None:
    huge = b'{"path": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        URL, data=io.BytesIO(huge), headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status == 413
    assert (await response.json())["error"] == "request_entity_too_large"


async def test_update_fields(client: Client, auth: dict[str, str], engine: AsyncEngine) -> None:
    (video_id,) = await insert_rows(engine, row("videos/a.mp4", producer="Old"))
    edit = {
        "producer": "Updated Studio",
        "title": "T",
        "tags": [" b", "a", "b", ""],
        "thumbnailPath": "thumbnails/a.jpg",
    }
    response = await client.put(f"{URL}/{video_id}", json=edit, headers=auth)
    assert response.status == 200, await response.text()
    video = await response.json()
    assert (video["producer"], video["tags"], video["thumbnailPath"]) == (
        "Updated Studio",
        ["b", "a"],
        "thumbnails/a.jpg",
    )
    cleared = await client.put(f"{URL}/{video_id}", json={"producer": None}, headers=auth)
    assert (await cleared.json())["producer"] is None


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ({"isValid": True}, "isValid"),
        ({"tags": "a,b"}, "tags"),
        ({"tags": [1]}, "tags.0"),
        ({"title": 5}, "title"),
        ({"thumbnailPath": "../../etc/passwd"}, "thumbnailPath"),
        ({"thumbnailPath": "/abs.jpg"}, "thumbnailPath"),
        ({}, "body"),
    ],
)
async def test_update_rejects(
    client: Client,
    auth: dict[str, str],
    engine: AsyncEngine,
    edit: dict[str, object],
    field: str,
) -> None:
    (video_id,) = await insert_rows(engine, row("videos/a.mp4"))
    response = await client.put(f"{URL}/{video_id}", json=edit, headers=auth)
    assert response.status == 400
    assert (await response.json())["message"].startswith(f"{field}:")


async def test_update_unknown_is_404(client: Client, auth: dict[str, str]) -> None:
    response = await client.put(f"{URL}/{uuid.uuid4()}", json={"title": "x"}, headers=auth)
    assert response.status == 404


async def test_delete_soft_then_permanent(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    (video_id,) = await insert_rows(engine, row("videos/a.mp4"))
    refused = await client.delete(f"{URL}/{video_id}?permanent=true", headers=auth)
    assert refused.status == 409
    response = await client.delete(f"{URL}/{video_id}", headers=auth)
    assert await response.json() == {"success": True, "message": "Video marked as invalid"}
    video = await (await client.get(f"{URL}/{video_id}", headers=auth)).json()
    assert (video["isValid"], video["invalidReason"]) == (False, "deleted")
    assert (await listing(client, auth))["data"] == []
    gone = await client.delete(f"{URL}/{video_id}?permanent=true", headers=auth)
    assert gone.status == 200
    assert (await client.get(f"{URL}/{video_id}", headers=auth)).status == 404
    assert (await client.delete(f"{URL}/{video_id}", headers=auth)).status == 404
    bad = await client.delete(f"{URL}/{video_id}?permanent=perhaps", headers=auth)
    assert bad.status == 400


async def test_restore(client: Client, auth: dict[str, str], video_file: Path) -> None:
    created = await (await client.post(URL, json={"path": "videos/clip.mp4"}, headers=auth)).json()
    await client.delete(f"{URL}/{created['id']}", headers=auth)
    restored = await client.post(f"{URL}/{created['id']}/restore", headers=auth)
    assert restored.status == 200
    assert (await restored.json())["isValid"] is True
    await client.delete(f"{URL}/{created['id']}", headers=auth)
    video_file.unlink()
    missing = await client.post(f"{URL}/{created['id']}/restore", headers=auth)
    assert missing.status == 409  # the record stays deleted (tests/api/test_inputs.py)
    after = await (await client.get(f"{URL}/{created['id']}", headers=auth)).json()
    assert (after["isValid"], after["invalidReason"]) == (False, "deleted")
