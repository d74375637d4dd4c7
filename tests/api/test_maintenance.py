"""Validate, bulk, duplicates, tags."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client, insert_rows, row

URL = "/api/media/videos"


async def create(client: Client, auth: dict[str, str], path: str) -> dict:  # type: ignore[type-arg]
    response = await client.post(URL, json={"path": path}, headers=auth)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_validate_ok_missing_and_corrupt(
    client: Client, auth: dict[str, str], video_file: Path
) -> None:
    video = await create(client, auth, "videos/clip.mp4")
    response = await client.post(f"{URL}/{video['id']}/validate", headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body["isValid"] is True and body["lastValidated"].endswith("Z")
    assert body["metadata"] == {
        "durationSeconds": 1,
        "width": 320,
        "height": 240,
        "quality": "SD",
        "orientation": "landscape",
        "hasAudio": True,
    }
    video_file.unlink()
    missing = await client.post(f"{URL}/{video['id']}/validate", headers=auth)
    assert missing.status == 200
    assert (await missing.json())["invalidReason"] == "missing"
    video_file.write_bytes(b"\x00not a video any more" * 100)
    corrupt = await client.post(f"{URL}/{video['id']}/validate", headers=auth)
    assert corrupt.status == 422
    assert (await corrupt.json())["error"] == "probe_failed"
    after = await (await client.get(f"{URL}/{video['id']}", headers=auth)).json()
    assert (after["isValid"], after["invalidReason"]) == (False, "corrupt")
    unknown = await client.post(f"{URL}/{uuid.uuid4()}/validate", headers=auth)
    assert unknown.status == 404


async def test_bulk_update_and_validate(
    client: Client, auth: dict[str, str], engine: AsyncEngine, video_file: Path
) -> None:
    (a,) = await insert_rows(engine, row("videos/a.mp4"))
    b = (await create(client, auth, "videos/clip.mp4"))["id"]
    absent = str(uuid.uuid4())
    response = await client.post(
        f"{URL}/bulk",
        json={"ids": [a, b, absent], "action": "update", "set": {"tags": ["x"]}},
        headers=auth,
    )
    results = (await response.json())["results"]
    assert [(r["id"], r["ok"]) for r in results] == [(a, True), (b, True), (absent, False)]
    assert results[0]["video"]["tags"] == ["x"]
    response = await client.post(
        f"{URL}/bulk", json={"ids": [a, b, absent], "action": "validate"}, headers=auth
    )
    results = (await response.json())["results"]
    assert [r["ok"] for r in results] == [False, True, False]
    assert results[0]["video"]["invalidReason"] == "missing"


async def test_bulk_bad_bodies(client: Client, auth: dict[str, str]) -> None:
    for body, field in (
        ({"ids": [], "action": "validate"}, "ids"),
        ({"ids": ["nope"], "action": "validate"}, "ids.0"),
        ({"ids": [str(uuid.uuid4())], "action": "explode"}, "action"),
        ({"ids": [str(uuid.uuid4())], "action": "update"}, "body"),
        ({"ids": [str(uuid.uuid4())], "action": "update", "set": {"path": "x"}}, "set.path"),
    ):
        response = await client.post(f"{URL}/bulk", json=body, headers=auth)
        assert response.status == 400, body
        assert (await response.json())["message"].startswith(f"{field}:"), body


async def test_duplicates_largest_waste_first(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await insert_rows(
        engine,
        row("videos/a1.mp4", file_hash="a", file_size=10),
        row("videos/a2.mp4", file_hash="a", file_size=10),
        row("videos/b1.mp4", file_hash="b", file_size=100),
        row("videos/b2.mp4", file_hash="b", file_size=100),
        row(
            "videos/b3.mp4", file_hash="b", file_size=100, is_valid=False, invalid_reason="missing"
        ),
        row("videos/c.mp4", file_hash="c"),
    )
    body = await (await client.get(f"{URL}/duplicates", headers=auth)).json()
    assert [(g["fileHash"], g["copies"], g["wastedBytes"]) for g in body["data"]] == [
        ("b", 2, 100),
        ("a", 2, 10),
    ]
    assert [v["path"] for v in body["data"][0]["videos"]] == ["videos/b1.mp4", "videos/b2.mp4"]
    assert body["pagination"]["total"] == 2
    second = await (await client.get(f"{URL}/duplicates?limit=1&page=2", headers=auth)).json()
    assert [g["fileHash"] for g in second["data"]] == ["a"]
    assert (await client.get(f"{URL}/duplicates?limit=0", headers=auth)).status == 400


async def test_tags_with_counts_and_prefix(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    await insert_rows(
        engine,
        row("videos/a.mp4", tags=["action", "sports"]),
        row("videos/b.mp4", tags=["action", "act_ii"]),
        row("videos/c.mp4", tags=["actor"], is_valid=False, invalid_reason="deleted"),
    )
    body = await (await client.get("/api/media/tags", headers=auth)).json()
    assert body["data"][0] == {"tag": "action", "count": 2}
    prefixed = await (await client.get("/api/media/tags?prefix=ACT_", headers=auth)).json()
    assert prefixed["data"] == [{"tag": "act_ii", "count": 1}]  # `_` is not a wildcard
    assert (await client.get("/api/media/tags?limit=500", headers=auth)).status == 400
