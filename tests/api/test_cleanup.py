"""Clean-up (issue 11 §4): invalid videos by reason and age, a dry run with sizes, then the
files to the trash and the records dropped, each re-checked. Real files, real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client, insert_rows, row
from tests.media import make_video

URL = "/api/media/cleanup"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


async def aged(engine: AsyncEngine, days: int, *ids: str) -> None:
    """Make records look invalid for `days` already."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE videos SET updated_at = now() - make_interval(days => :d)"
                " WHERE id = ANY(:ids)"
            ),
            {"d": days, "ids": [uuid.UUID(i) for i in ids]},
        )


async def preview(client: Client, auth: dict[str, str], query: str) -> dict[str, Any]:
    response = await client.get(f"{URL}?{query}", headers=auth)
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


def seen(listing: dict[str, Any]) -> list[dict[str, str]]:
    return [{"id": c["video"]["id"], "updatedAt": c["video"]["updatedAt"]} for c in listing["data"]]


async def test_dry_run_then_apply(
    client: Client, auth: dict[str, str], engine: AsyncEngine, library_root: Path
) -> None:
    deleted_file = make_video(library_root / "videos" / "deleted.mp4")
    corrupt_file = library_root / "studios" / "corrupt.mp4"
    corrupt_file.write_bytes(b"not a video at all" * 100)
    ids = await insert_rows(
        engine,
        row("videos/deleted.mp4", is_valid=False, invalid_reason="deleted", file_size=1),
        row("studios/corrupt.mp4", is_valid=False, invalid_reason="corrupt"),
        row("videos/missing.mp4", is_valid=False, invalid_reason="missing", file_size=777),
        row("videos/young.mp4", is_valid=False, invalid_reason="missing"),
        row("videos/valid.mp4"),
    )
    await aged(engine, 40, *ids[:3], ids[4])

    listing = await preview(client, auth, "reasons=deleted,missing,corrupt&olderThanDays=30")
    by_path = {c["video"]["path"]: c for c in listing["data"]}
    assert sorted(by_path) == ["studios/corrupt.mp4", "videos/deleted.mp4", "videos/missing.mp4"]
    assert by_path["videos/deleted.mp4"]["size"] == deleted_file.stat().st_size  # on disk
    assert by_path["videos/missing.mp4"] == {
        **by_path["videos/missing.mp4"],
        "onDisk": False,
        "size": 777,
    }
    assert listing["count"] == 3
    assert listing["totalBytes"] == deleted_file.stat().st_size + 1800 + 777
    assert deleted_file.exists() and corrupt_file.exists()  # a dry run changes nothing
    deleted_size = deleted_file.stat().st_size

    response = await client.post(
        URL,
        json={
            "reasons": ["deleted", "missing", "corrupt"],
            "olderThanDays": 30,
            "items": seen(listing),
        },
        headers=auth,
    )
    assert response.status == 200, await response.text()
    report = await response.json()
    assert (report["trashed"], report["dropped"], report["skipped"], report["failed"]) == (
        2,
        1,
        0,
        0,
    )
    assert report["trashedBytes"] == deleted_size + 1800
    outcomes = {i["path"]: (i["outcome"], i["trashPath"]) for i in report["items"]}
    assert outcomes == {
        "videos/deleted.mp4": ("trashed", f".trash/{today()}/videos/deleted.mp4"),
        "studios/corrupt.mp4": ("trashed", f".trash/{today()}/studios/corrupt.mp4"),
        "videos/missing.mp4": ("dropped", None),
    }
    assert not deleted_file.exists() and not corrupt_file.exists()
    assert (
        (library_root / ".trash" / today() / "studios" / "corrupt.mp4")
        .read_bytes()
        .startswith(b"not a")
    )
    async with engine.connect() as connection:
        left = sorted((await connection.execute(text("SELECT path FROM videos"))).scalars())
    assert left == ["videos/valid.mp4", "videos/young.mp4"]


async def test_a_stale_list_acts_on_nothing_that_changed(
    client: Client, auth: dict[str, str], engine: AsyncEngine, library_root: Path
) -> None:
    edited = make_video(library_root / "videos" / "edited.mp4")
    back = make_video(library_root / "videos" / "back.mp4")  # marked missing, file returned
    restored = make_video(library_root / "videos" / "restored.mp4")
    ids = await insert_rows(
        engine,
        row("videos/edited.mp4", is_valid=False, invalid_reason="deleted"),
        row("videos/back.mp4", is_valid=False, invalid_reason="missing"),
        row("videos/restored.mp4", is_valid=False, invalid_reason="deleted"),
    )
    listing = await preview(client, auth, "reasons=deleted,missing")
    assert listing["count"] == 3
    # Meanwhile: one is edited, one made valid again.
    assert (
        await client.put(f"/api/media/videos/{ids[0]}", json={"title": "kept"}, headers=auth)
    ).status == 200
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE videos SET is_valid = true, invalid_reason = NULL WHERE id = :id"),
            {"id": uuid.UUID(ids[2])},
        )

    response = await client.post(
        URL, json={"reasons": ["deleted", "missing"], "items": seen(listing)}, headers=auth
    )
    report = await response.json()
    assert (report["trashed"], report["dropped"], report["skipped"]) == (0, 0, 3), report
    reasons = {i["id"]: i["reason"] for i in report["items"]}
    assert reasons[ids[0]] == "changed since the list"
    assert reasons[ids[1]] == "its file is back on disk"
    assert "no longer selected" in reasons[ids[2]]
    assert edited.exists() and back.exists() and restored.exists()
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM videos"))).scalar() == 3


async def test_bad_cleanup_input_is_400_json(client: Client, auth: dict[str, str]) -> None:
    cases = [
        ("GET", "?reasons=valid", None, "reasons"),
        ("GET", "", None, "reasons"),
        ("GET", "?reasons=deleted&olderThanDays=-1", None, "olderThanDays"),
        ("GET", "?reasons=deleted&olderThanDays=soon", None, "olderThanDays"),
        ("POST", "", {"reasons": ["deleted"], "items": []}, "items"),
        (
            "POST",
            "",
            {
                "reasons": ["trashed"],
                "items": [
                    {
                        "id": "00000000-0000-0000-0000-000000000000",
                        "updatedAt": "2026-01-01T00:00:00Z",
                    }
                ],
            },
            "reasons",
        ),
        (
            "POST",
            "",
            {"reasons": ["deleted"], "items": [{"id": "x", "updatedAt": "2026-01-01T00:00:00Z"}]},
            "items",
        ),
    ]
    for method, suffix, body, field in cases:
        response = await client.request(method, f"{URL}{suffix}", json=body, headers=auth)
        assert response.status == 400, (method, suffix, body, await response.text())
        message = (await response.json())["message"]
        assert message.startswith(field), (field, message)
