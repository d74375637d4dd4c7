"""Scans: synchronous, as jobs, locked per directory type, and racing a create."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client
from tests.daemon.harness import eventually
from tests.media import make_video
from tests.stoppable_postgres import StoppablePostgres, stoppable_postgres
from videolib.api.app import create_app
from videolib.api.jobs import ORPHANED
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import DirectoryLocks, ScanJobRepository
from videolib.shared.db.schema import videos

SCAN = "/api/media/videos/scan"


@pytest.fixture
def server() -> Iterator[StoppablePostgres]:
    """A PostgreSQL of this test's own, to stop and freeze."""
    with stoppable_postgres() as running:
        yield running


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


FILES = 2000  # enough that the cut lands in the middle of the scan


async def test_a_job_cut_off_from_the_database_ends_failed_with_the_reason(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    auth: dict[str, str],
    library_root: Path,
    tmp_path: Path,
    server: StoppablePostgres,
) -> None:
    original = make_video(tmp_path / "one.mp4", seconds=0.2)
    for index in range(FILES):  # copies: each its own path, so each its own record
        shutil.copyfile(original, library_root / "videos" / f"{index:05d}.mp4")
    async with open_engine(server.url, pool_size=4) as engine:
        client = await aiohttp_client(create_app(api_config, engine))
        body = {"directoryType": "videos", "async": True}
        started = await client.post(SCAN, json=body, headers=auth)
        assert started.status == 202, await started.text()
        job_id = uuid.UUID((await started.json())["jobId"])
        jobs = ScanJobRepository(engine)

        async def some_written() -> bool:
            job = await jobs.get(job_id)
            assert job is not None and job.status == "running", job
            async with engine.connect() as connection:
                count = await connection.scalar(select(func.count()).select_from(videos))
            return (count or 0) >= 50

        await eventually(some_written, 120, "the first rows")
        with structlog.testing.capture_logs() as logs:
            server.stop()

            async def scan_failed() -> bool:
                return any(entry["event"] == "scan_job_failed" for entry in logs)

            await eventually(scan_failed, 60, "the scan to fail")
        server.start()

        async def ended() -> dict[str, Any] | None:
            response = await client.get(f"/api/media/scans/{job_id}", headers=auth)
            if response.status != 200:
                return None
            found: dict[str, Any] = await response.json()
            return found if found["status"] != "running" else None

        job = await eventually(ended, 60, "the job's end")
        assert job is not None
        async with engine.connect() as connection:
            recorded = await connection.scalar(select(func.count()).select_from(videos)) or 0
    assert job["status"] == "failed", job
    assert job["error"].startswith("database unavailable"), job
    assert job["error"] != ORPHANED and "\n" not in job["error"]
    assert job["finishedAt"] is not None
    assert job["result"]["created"] <= recorded < FILES  # what was written stays
    assert recorded >= 50


async def test_sync_scan_statements_are_not_cut_by_the_request_call_bound(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
    auth: dict[str, str],
    library_root: Path,
) -> None:
    """A scan's write that legitimately takes longer than api.database_timeout_seconds
    (here: it waits for another session's table lock) finishes; no 503."""
    bound_s = 0.5
    client = await aiohttp_client(
        create_app(api_config.replace("api", database_timeout_seconds=bound_s), engine)
    )
    make_video(library_root / "videos" / "slow.mp4")
    async with engine.connect() as blocker:
        transaction = await blocker.begin()
        # Reads go on; the scan's writes wait until this transaction ends.
        await blocker.execute(text("LOCK TABLE videos IN EXCLUSIVE MODE"))
        request = asyncio.create_task(
            client.post(SCAN, json={"directoryType": "videos"}, headers=auth)
        )

        async def write_waited_past_the_bound() -> bool:
            if request.done():
                return True  # old behaviour: cut with 503 after `bound_s`
            async with engine.connect() as watcher:
                waiting = await watcher.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND query ILIKE '%videos%'"
                        " AND now() - query_start > make_interval(secs => :s)"
                    ),
                    {"s": 4 * bound_s},
                )
            return bool(waiting)

        await eventually(write_waited_past_the_bound, what="the scan's write to wait")
        await transaction.rollback()
    response = await request
    assert response.status == 200, await response.text()
    assert (await response.json())["created"] == 1
    async with engine.connect() as connection:
        paths = (await connection.scalars(select(videos.c.path))).all()
    assert paths == ["videos/slow.mp4"]
