"""Uploads: streamed into the inbox, limited, and leaving nothing behind when cut."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client, insert_rows, row
from tests.api.test_inputs import NUL, count_rows
from tests.daemon.harness import eventually
from tests.daemon.proxy import CuttableProxy
from tests.daemon.test_failures import socket_of
from tests.media import make_video
from tests.mounts import tmpfs
from videolib.api.app import create_app
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine

UPLOAD = "/api/media/upload/single"


def form(path: Path, name: str | None = None, **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData(quote_fields=False)  # names as browsers send them
    for key, value in fields.items():
        data.add_field(key, value)
    data.add_field("video", io.BytesIO(path.read_bytes()), filename=name or path.name)
    return data


def inbox_files(library_root: Path) -> list[str]:
    return sorted(p.name for p in (library_root / "inbox").iterdir())


async def test_upload_records_into_the_inbox(
    client: Client, auth: dict[str, str], tmp_path: Path, library_root: Path
) -> None:
    clip = make_video(tmp_path / "My Clip.MP4", width=640, height=360)
    fields = {"producer": "Studio A", "tags": '["a", " a", "b"]', "title": "First"}
    response = await client.post(UPLOAD, data=form(clip, **fields), headers=auth)
    assert response.status == 201, await response.text()
    video = await response.json()
    assert video["path"] == "inbox/My Clip.MP4" and video["directoryType"] == "inbox"
    assert video["originalFilename"] == "My Clip.MP4"
    assert (video["producer"], video["tags"], video["width"]) == ("Studio A", ["a", "b"], 640)
    second = await client.post(UPLOAD, data=form(clip, tags="x, y"), headers=auth)
    assert (await second.json())["path"] == "inbox/My Clip-1.MP4"  # never overwrites
    assert (await second.json())["tags"] == ["x", "y"]
    assert inbox_files(library_root) == ["My Clip-1.MP4", "My Clip.MP4"]


async def test_upload_refusals(
    client: Client, auth: dict[str, str], tmp_path: Path, library_root: Path, engine: AsyncEngine
) -> None:
    clip = make_video(tmp_path / "clip.mp4")
    for data, field in (
        (form(clip, name="notes.txt"), "video"),
        (form(clip, name="../../.hidden.mp4.part"), "video"),
        (form(clip, color="red"), "color"),
        (form(clip, tags="[1"), "tags"),
    ):
        response = await client.post(UPLOAD, data=data, headers=auth)
        assert response.status == 400, await response.text()
        assert (await response.json())["message"].startswith(f"{field}:")
    no_file = aiohttp.FormData(default_to_multipart=True)
    no_file.add_field("title", "x")
    response = await client.post(UPLOAD, data=no_file, headers=auth)
    assert response.status == 400
    assert (await response.json())["message"].startswith("video:")
    # Form fields follow the one text rule (api/text.py); bytes that are not UTF-8 (a lone
    # surrogate cannot even be encoded) are refused, not replaced.
    for bad in (NUL.encode(), "bad\ud800".encode("utf-8", "surrogatepass"), b"\xff"):
        raw_form = aiohttp.MultipartWriter("form-data")
        raw_form.append(bad).set_content_disposition("form-data", name="title")
        video = raw_form.append(io.BytesIO(clip.read_bytes()))
        video.set_content_disposition("form-data", name="video", filename="clip.mp4")
        response = await client.post(UPLOAD, data=raw_form, headers=auth)
        assert response.status == 400, await response.text()
        assert (await response.json())["message"].startswith("title:")
    response = await client.post(UPLOAD, json={"video": "x"}, headers=auth)
    assert response.status == 415
    assert await count_rows(engine) == 0
    assert inbox_files(library_root) == []


async def test_upload_over_the_limit_leaves_nothing(
    aiohttp_client: object, api_config: Config, engine: object, auth: dict[str, str],
    tmp_path: Path, library_root: Path,
) -> None:  # fmt: skip
    config = api_config.replace("api", max_upload_bytes=1000)
    client = await aiohttp_client(create_app(config, engine))  # type: ignore[operator, arg-type]
    clip = make_video(tmp_path / "clip.mp4", seconds=2, noise=True)
    response = await client.post(UPLOAD, data=form(clip), headers=auth)
    assert response.status == 413
    assert (await response.json())["error"] == "payload_too_large"
    assert inbox_files(library_root) == []


async def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `condition` until it holds, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_client_cut_mid_stream_leaves_nothing(
    client: Client, token: str, library_root: Path, engine: AsyncEngine
) -> None:
    server = client.server
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    boundary = "cutcutcut"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="video"; filename="cut.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    writer.write(
        (
            f"POST {UPLOAD} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + 10_000_000}\r\n\r\n"
        ).encode()
        + head
        + b"\x00" * 300_000
    )
    await writer.drain()
    # The part file exists while the upload runs; generous bounds for a loaded machine.
    await until(lambda: bool(inbox_files(library_root)), "the part file")
    assert inbox_files(library_root)[0].endswith(".part")
    writer.close()
    await writer.wait_closed()
    await until(lambda: not inbox_files(library_root), "the part file to be removed")
    assert await count_rows(engine) == 0


@pytest.fixture
def small_inbox(library_root: Path) -> Iterator[Path]:
    """The inbox on a real 256 KiB tmpfs, so a write fails with ENOSPC."""
    with tmpfs(library_root / "inbox", "256k") as inbox:
        yield inbox


async def test_a_full_disk_is_a_507_and_leaves_nothing(
    client: Client, auth: dict[str, str], engine: AsyncEngine, small_inbox: Path, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "big.mp4", seconds=3, noise=True)
    assert clip.stat().st_size > 256 * 1024  # larger than the file system
    response = await client.post(UPLOAD, data=form(clip), headers=auth)
    assert response.status == 507, await response.text()
    answer = await response.json()
    assert answer["error"] == "insufficient_storage"
    assert answer["message"].startswith("video: no space left")
    assert list(small_inbox.iterdir()) == []
    assert await count_rows(engine) == 0


@pytest.fixture
def read_only_inbox(library_root: Path) -> Iterator[Path]:
    """The inbox on a real read-only tmpfs: every write there fails with EROFS, even root's."""
    with tmpfs(library_root / "inbox", "256k", read_only=True) as inbox:
        yield inbox


async def test_a_read_only_inbox_is_a_storage_error_naming_it_not_a_database_one(
    client: Client,
    auth: dict[str, str],
    engine: AsyncEngine,
    read_only_inbox: Path,
    tmp_path: Path,
) -> None:
    response = await client.post(UPLOAD, data=form(make_video(tmp_path / "a.mp4")), headers=auth)
    assert response.status == 503, await response.text()
    answer = await response.json()
    assert answer["error"] == "storage_unavailable"
    assert answer["message"].startswith(f"{read_only_inbox}/")  # the file it could not write
    assert "Read-only file system" in answer["message"]
    assert "Retry-After" not in response.headers  # no database wait was involved
    assert list(read_only_inbox.iterdir()) == []
    assert await count_rows(engine) == 0


async def test_a_missing_inbox_is_a_storage_error_and_the_library_is_untouched(
    client: Client,
    auth: dict[str, str],
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
) -> None:
    (library_root / "inbox").rmdir()  # the inbox's share not there
    response = await client.post(UPLOAD, data=form(make_video(tmp_path / "a.mp4")), headers=auth)
    assert response.status == 503, await response.text()
    answer = await response.json()
    assert answer["error"] == "storage_unavailable"
    assert answer["message"].startswith(f"{library_root / 'inbox'}/")
    assert "No such file or directory" in answer["message"]
    assert not (library_root / "inbox").exists()  # nothing created in its place
    assert await count_rows(engine) == 0


async def test_an_upload_the_daemon_recorded_first_answers_with_that_record(
    client: Client, auth: dict[str, str], engine: AsyncEngine, tmp_path: Path, library_root: Path
) -> None:
    # The daemon's record of inbox/clip.mp4 is in place before the upload's insert runs.
    [recorded_id] = await insert_rows(engine, row("inbox/clip.mp4", producer="daemon"))
    clip = make_video(tmp_path / "clip.mp4")
    response = await client.post(UPLOAD, data=form(clip, producer="upload"), headers=auth)
    assert response.status == 201, await response.text()
    video = await response.json()
    assert (video["id"], video["producer"]) == (recorded_id, "daemon")
    assert inbox_files(library_root) == ["clip.mp4"]  # the file the record points at
    assert await count_rows(engine) == 1


async def test_an_upload_the_database_refuses_leaves_no_file(
    client: Client, auth: dict[str, str], engine: AsyncEngine, tmp_path: Path, library_root: Path
) -> None:
    # A real refusal by PostgreSQL at the insert (a trigger): "the server is shutting down".
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'going down' USING ERRCODE = 'admin_shutdown'; END $$"
        )
        await connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON videos FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    clip = make_video(tmp_path / "clip.mp4")
    response = await client.post(UPLOAD, data=form(clip), headers=auth)
    # 57P01 means the server is going away: a 503 the client may retry, and no file and no
    # record stay behind.
    assert response.status == 503, await response.text()
    assert "Retry-After" in response.headers
    assert "error" in await response.json()
    assert inbox_files(library_root) == []
    assert await count_rows(engine) == 0


async def test_a_malformed_multipart_header_is_a_400(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    # Found by tests/api/test_schemathesis.py: a control character in a part's header made
    # aiohttp's parser raise InvalidHeader, answered 500.
    body = b'--b\r\nContent-Disposition: form-data; name="x\x1fy"\r\n\r\nvalue\r\n--b--\r\n'
    headers = {**auth, "Content-Type": "multipart/form-data; boundary=b"}
    response = await client.post(UPLOAD, data=body, headers=headers)
    assert response.status == 400, await response.text()
    assert (await response.json())["message"].startswith("body: malformed multipart")
    assert inbox_files(library_root) == []


class ReplyLosingProxy(CuttableProxy):
    """Passes the upload's COMMIT of its insert to the server, then cuts every connection
    and refuses new ones before the reply comes back: the row is committed, the API
    cannot tell (nor, at once, look it up)."""

    def __init__(self, socket_path: str) -> None:
        super().__init__(socket_path)
        self.lost = asyncio.Event()

    async def _up(
        self,
        reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
    ) -> None:
        inserted = False
        while data := await reader.read(65536):
            inserted = inserted or b"INSERT INTO videos" in data
            up_writer.write(data)
            if inserted and b"COMMIT" in data and not self.lost.is_set():
                # No await between the COMMIT leaving and the cut: the reply cannot pass.
                client.transport.abort()
                assert self._server is not None
                self._server.close()
                for pipe in self._pipes:
                    pipe.cancel()
                self.lost.set()
                return
            await up_writer.drain()


async def test_an_upload_whose_commit_reply_is_lost_keeps_its_file_beside_its_record(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    database_url: URL,
    engine: AsyncEngine,
    auth: dict[str, str],
    tmp_path: Path,
    library_root: Path,
) -> None:
    proxy = ReplyLosingProxy(socket_of(database_url))
    await proxy.start()
    via_proxy = database_url.set(host="127.0.0.1", port=proxy.port, query={})
    async with open_engine(via_proxy, pool_size=2) as lossy:
        client = await aiohttp_client(create_app(api_config, lossy))
        clip = make_video(tmp_path / "clip.mp4")
        response = await client.post(UPLOAD, data=form(clip), headers=auth)
        assert proxy.lost.is_set()  # the test did what it says: the reply was lost
        # The API cannot know the outcome: a 503 the client may retry...
        assert response.status == 503, await response.text()
        assert (await response.json())["error"] == "database_unavailable"
    await proxy.cut()

    # ...and the committed record still has its file (the daemon's pass settles the rest).
    async def recorded() -> bool:  # the server commits as it reads the COMMIT: at once
        return await count_rows(engine) == 1

    await eventually(recorded, what="the committed row")
    assert inbox_files(library_root) == ["clip.mp4"]
