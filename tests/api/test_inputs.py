"""Input hygiene: one text rule for every string input, 415 for non-JSON bodies, restore."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client, insert_rows, row
from tests.media import make_truncated_mp4
from videolib.shared.db.schema import videos

URL = "/api/media/videos"
NUL = "bad\x00text"
SURROGATE = "bad\ud800text"


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(videos))).scalar_one()
        )


async def post_raw_json(
    client: Client, method: str, url: str, body: dict[str, object], auth: dict[str, str]
) -> tuple[int, dict[str, object]]:
    """Send a JSON body as text: json.dumps escapes NUL and lone surrogates (\\u0000)."""
    headers = {**auth, "Content-Type": "application/json"}
    response = await client.request(method, url, data=json.dumps(body), headers=headers)
    return response.status, await response.json()


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_bad_text_in_json_fields_is_a_400_naming_the_field(
    client: Client, auth: dict[str, str], engine: AsyncEngine, bad: str
) -> None:
    [video_id] = await insert_rows(engine, row("videos/a.mp4"))
    cases: list[tuple[str, str, dict[str, object], str]] = [
        ("post", URL, {"path": f"videos/{bad}.mp4"}, "path:"),
        ("post", URL, {"path": "videos/a.mp4", "filename": bad}, "filename:"),
        ("put", f"{URL}/{video_id}", {"title": bad}, "title:"),
        ("put", f"{URL}/{video_id}", {"producer": bad}, "producer:"),
        ("put", f"{URL}/{video_id}", {"tags": ["ok", bad]}, "tags.1:"),
        ("put", f"{URL}/{video_id}", {"thumbnailPath": f"videos/{bad}.jpg"}, "thumbnailPath:"),
        ("post", f"{URL}/bulk", {"ids": [video_id], "action": "update", "set": {"creator": bad}},
         "set.creator:"),
    ]  # fmt: skip
    for method, url, body, field in cases:
        status, answer = await post_raw_json(client, method, url, body, auth)
        assert status == 400, (url, body, answer)
        assert answer["error"] == "bad_request"
        assert str(answer["message"]).startswith(field), answer
    after = await (await client.get(f"{URL}/{video_id}", headers=auth)).json()
    assert (after["title"], after["producer"], after["tags"]) == (None, None, [])
    assert await count_rows(engine) == 1  # nothing created


async def test_bad_text_in_query_and_path_parameters_is_a_400(
    client: Client, auth: dict[str, str]
) -> None:
    for url, field in (
        (f"{URL}?search=a%00b", "search:"),
        (f"{URL}?producer=%00", "producer:"),
        ("/api/media/tags?prefix=x%00", "prefix:"),
        (f"{URL}/abc%00def", "id:"),
        ("/admin/static/app%00.js", "name:"),
    ):
        response = await client.get(url, headers=auth)
        assert response.status == 400, (url, await response.text())
        assert (await response.json())["message"].startswith(field)


async def test_text_length_is_bounded(client: Client, auth: dict[str, str]) -> None:
    response = await client.get(f"{URL}?search={'x' * 501}", headers=auth)
    assert response.status == 400
    assert (await response.json())["message"].startswith("search:")
    status, answer = await post_raw_json(client, "post", URL, {"path": "v" * 5000}, auth)
    assert status == 400 and str(answer["message"]).startswith("path:")


async def test_a_json_route_refuses_other_content_types_with_415(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    for url, data, content_type in (
        (f"{URL}/scan", "directoryType=gifs", "application/x-www-form-urlencoded"),
        (URL, '{"path": "videos/a.mp4"}', "text/plain"),
        (f"{URL}/bulk", "{}", "multipart/form-data; boundary=x"),
    ):
        headers = {**auth, "Content-Type": content_type}
        response = await client.post(url, data=data, headers=headers)
        assert response.status == 415, (url, await response.text())
        assert (await response.json())["error"] == "unsupported_media_type"
    merge_patch = {**auth, "Content-Type": "application/merge-patch+json"}
    response = await client.post(
        f"{URL}/scan", data='{"directoryType": "gifs"}', headers=merge_patch
    )
    assert response.status == 200
    assert await count_rows(engine) == 0


async def test_restore_of_a_file_that_no_longer_probes_is_a_409(
    client: Client, auth: dict[str, str], engine: AsyncEngine, video_file: Path
) -> None:
    created = await (await client.post(URL, json={"path": "videos/clip.mp4"}, headers=auth)).json()
    assert (await client.delete(f"{URL}/{created['id']}", headers=auth)).status == 200
    make_truncated_mp4(video_file)  # the same name, now cut: no longer a video
    response = await client.post(f"{URL}/{created['id']}/restore", headers=auth)
    assert response.status == 409, await response.text()
    answer = await response.json()
    assert answer["error"] == "conflict"
    assert answer["message"].startswith("videos/clip.mp4: cannot restore: corrupt")
    after = await (await client.get(f"{URL}/{created['id']}", headers=auth)).json()
    assert (after["isValid"], after["invalidReason"]) == (False, "deleted")
    video_file.unlink()
    gone = await client.post(f"{URL}/{created['id']}/restore", headers=auth)
    assert gone.status == 409
    assert "file not found" in (await gone.json())["message"]
    after = await (await client.get(f"{URL}/{created['id']}", headers=auth)).json()
    assert (after["isValid"], after["invalidReason"]) == (False, "deleted")


async def raw_status(client: Client, request: bytes) -> tuple[int, bytes]:
    """Send bytes an HTTP client library would refuse to send; the status and the body."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_credentials_that_are_not_ascii_are_refused_not_a_500(
    client: Client, token: str
) -> None:
    # Header bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape).
    end = b"Connection: close\r\n\r\n"
    for request, status in (
        (b"GET /api/media/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n" + end,
         401),
        (b"GET /api/media/videos HTTP/1.1\r\nHost: x\r\nCookie: videolib_session=\xff\r\n" + end,
         401),
        (b"POST /api/media/videos/scan HTTP/1.1\r\nHost: x\r\nCookie: videolib_session="
         + token.encode() + b"\r\nX-CSRF-Token: \xc3\xa9\xff\r\nContent-Length: 0\r\n" + end,
         403),
    ):  # fmt: skip
        got, body = await raw_status(client, request)
        assert got == status, (request, body)
        assert "message" in json.loads(body)
