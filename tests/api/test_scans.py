"""Scans: synchronous, as jobs, locked per directory type, and racing a create."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client
from tests.media import make_video
from videolib.api.app import create_app
from videolib.api.jobs import ORPHANED
from videolib.shared.config import Config
from videolib.shared.db.repository import DirectoryLocks, ScanJobRepository
from videolib.shared.db.schema import videos

SCAN = "/api/media/videos/scan"


async def test_sync_scan_seed_response(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    make_video(library_root / "videos" / "a.mp4")
    (library_root / "videos" / "sub").mkdir()
    make_video(library_root / "videos" / "sub" / "b.mkv")
    response = await client.post(SCAN, json={"directoryType": "videos"}, headers=auth)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert {k: body[k] for k in ("scanned", "created", "skipped", "failed", "errors")} == {
        "scanned": 2,
        "created": 2,
        "skipped": 0,
        "failed": 0,
        "errors": [],
    }
    again = await (await client.post(SCAN, json={"directoryType": "videos"}, headers=auth)).json()
    assert (again["scanned"], again["created"], again["skipped"]) == (2, 0, 2)


async def test_bad_scan_bodies(client: Client, auth: dict[str, str]) -> None:
    for body, field in (
        ({}, "directoryType"),
        ({"directoryType": "movies"}, "directoryType"),
        ({"directoryType": "videos", "skipExisting": "sometimes"}, "skipExisting"),
        ({"directoryType": "videos", "async": 3}, "async"),
    ):
        response = await client.post(SCAN, json=body, headers=auth)
        assert response.status == 400
        assert (await response.json())["message"].startswith(f"{field}:"), body


async def test_async_scan_job(client: Client, auth: dict[str, str], library_root: Path) -> None:
    make_video(library_root / "studios" / "a.mp4")
    response = await client.post(
        SCAN, json={"directoryType": "studios", "async": True}, headers=auth
    )
    assert response.status == 202
    job_id = (await response.json())["jobId"]
    assert response.headers["Location"] == f"/api/media/scans/{job_id}"
    deadline = time.monotonic() + 60  # generous: workers start slowly on a loaded machine
    while True:
        job = await (await client.get(f"/api/media/scans/{job_id}", headers=auth)).json()
        if job["status"] != "running" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert job["status"] == "succeeded", job
    assert job["result"]["created"] == 1 and job["finishedAt"].endswith("Z")
    assert (await client.get(f"/api/media/scans/{uuid.uuid4()}", headers=auth)).status == 404
    assert (await client.get("/api/media/scans/nope", headers=auth)).status == 400


async def test_second_scan_of_a_type_gets_409(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    # Someone else (the daemon, the CLI, another API process) is scanning `gifs`.
    async with DirectoryLocks(engine).directory_lock(["gifs"]) as held:
        assert held
        for body in ({"directoryType": "gifs"}, {"directoryType": "gifs", "async": True}):
            response = await client.post(SCAN, json=body, headers=auth)
            assert response.status == 409
            assert (await response.json())["error"] == "conflict"
        other = await client.post(SCAN, json={"directoryType": "videos"}, headers=auth)
        assert other.status == 200


async def test_scan_and_create_of_one_path_make_one_row(
    client: Client, auth: dict[str, str], library_root: Path, engine: AsyncEngine
) -> None:
    for i in range(6):
        make_video(library_root / "curated" / f"{i}.mp4")
    creates = [
        client.post("/api/media/videos", json={"path": f"curated/{i}.mp4"}, headers=auth)
        for i in range(6)
    ]
    scan = client.post(SCAN, json={"directoryType": "curated"}, headers=auth)
    responses = await asyncio.gather(scan, *creates)
    assert responses[0].status == 200
    assert {r.status for r in responses[1:]} <= {201, 409}
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(videos))
        paths = await connection.scalar(select(func.count(videos.c.path.distinct())))
    assert count == paths == 6


async def test_a_job_whose_process_died_is_failed_not_running_for_ever(
    client: Client, auth: dict[str, str], engine: AsyncEngine
) -> None:
    jobs = ScanJobRepository(engine)
    # Rows as a killed API process leaves them: running, and nobody holds the type's lock.
    orphan = await jobs.create(["gifs"], True)
    live = await jobs.create(["videos"], True)
    async with DirectoryLocks(engine).directory_lock(["videos"]) as held:
        assert held  # `videos` is still being scanned by someone alive
        body = await (await client.get(f"/api/media/scans/{orphan.id}", headers=auth)).json()
        assert body["status"] == "failed" and body["error"] == ORPHANED
        assert body["finishedAt"] is not None
        body = await (await client.get(f"/api/media/scans/{live.id}", headers=auth)).json()
        assert body["status"] == "running"


async def test_api_start_fails_jobs_left_running(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
) -> None:
    jobs = ScanJobRepository(engine)
    left = await jobs.create(["studios"], False)
    await aiohttp_client(create_app(api_config, engine))  # starting is enough
    job = await jobs.get(left.id)
    assert job is not None and job.status == "failed" and job.error == ORPHANED
