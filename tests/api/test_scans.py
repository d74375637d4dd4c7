"""Scans: synchronous, as jobs, locked per directory type, and racing a create."""

from __future__ import annotations

import asyncio
import json
import os
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
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import DirectoryLocks, ScanJob, ScanJobRepository
from videolib.shared.db.schema import scan_jobs, videos
from videolib.shared.jobs.kinds import JobCall, RetryLater
from videolib.shared.jobs.names import RUN_SCAN
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.scan_jobs import run_scan

SCAN = "/api/media/videos/scan"
FILES = 2000  # enough that a cut or a stop lands in the middle of the scan


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


def _api(config: Config, engine: AsyncEngine, *, run_scans: bool = True) -> web.Application:
    # A short stall: a job whose worker died is taken again a second after its last beat.
    config = config.replace("api", run_scans=run_scans).replace("worker", stalled_seconds=1.0)
    return create_app(config, engine)


async def engine_jobs(engine: AsyncEngine) -> list[tuple[str, str, dict[str, Any]]]:
    """(status, dedupe key, payload) of every run_scan job still queued or running."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT status::text, dedupe_key, convert_from(payload, 'utf8') FROM pgqueuer"
                " WHERE entrypoint = :kind AND status IN ('queued', 'picked') ORDER BY id"
            ),
            {"kind": RUN_SCAN},
        )
        return [(status, key, json.loads(payload)) for status, key, payload in rows]


async def test_a_queued_scan_is_a_row_and_an_engine_job_and_a_second_one_gets_409(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
    auth: dict[str, str],
) -> None:
    # No process serves the scans queue: the jobs stay queued.
    client = await aiohttp_client(_api(api_config, engine, run_scans=False))
    body = {"directoryType": "studios", "async": True}
    first = await client.post(SCAN, json=body, headers=auth)
    assert first.status == 202, await first.text()
    job_id = (await first.json())["jobId"]
    again = await client.post(SCAN, json=body, headers=auth)
    assert again.status == 409
    assert (await again.json())["message"] == (
        "studios: a scan of this directory type is already running"
    )
    other = await client.post(SCAN, json={"directoryType": "videos", "async": True}, headers=auth)
    assert other.status == 202
    other_id = (await other.json())["jobId"]
    # One row per accepted scan, each with its one job; the refused one left neither.
    async with engine.connect() as connection:
        rows = (await connection.execute(select(scan_jobs.c.id, scan_jobs.c.status))).all()
    assert sorted((str(i), status) for i, status in rows) == sorted(
        [(job_id, "running"), (other_id, "running")]
    )
    assert await engine_jobs(engine) == [
        ("queued", "run_scan:studios", {"scan_job_id": job_id}),
        ("queued", "run_scan:videos", {"scan_job_id": other_id}),
    ]
    shown = await (await client.get(f"/api/media/scans/{job_id}", headers=auth)).json()
    assert shown["status"] == "running" and shown["result"] == {}


async def test_a_job_whose_worker_died_is_scanned_again_each_file_recorded_once(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
    auth: dict[str, str],
    library_root: Path,
) -> None:
    for index in range(2):
        make_video(library_root / "studios" / f"old{index}.mp4")
    queuing = await aiohttp_client(_api(api_config, engine, run_scans=False))
    assert (await queuing.post(SCAN, json={"directoryType": "studios"}, headers=auth)).status == 200
    for index in range(3):
        make_video(library_root / "studios" / f"new{index}.mp4")
    started = await queuing.post(
        SCAN, json={"directoryType": "studios", "async": True}, headers=auth
    )
    job_id = uuid.UUID((await started.json())["jobId"])
    # What a worker killed mid-scan leaves: its job picked with a stale heartbeat, and the
    # counts it had written.
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE pgqueuer SET status = 'picked', heartbeat = now() - interval '1 hour'"
                " WHERE entrypoint = :kind"
            ),
            {"kind": RUN_SCAN},
        )
    await ScanJobRepository(engine).progress(job_id, {"scanned": 4, "created": 2, "total": 5})
    client = await aiohttp_client(_api(api_config, engine))  # its worker takes the job

    async def finished() -> dict[str, Any] | None:
        job = await (await client.get(f"/api/media/scans/{job_id}", headers=auth)).json()
        return job if job["status"] != "running" else None

    job = await eventually(finished, 90, "the job to be run again")
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert (result["scanned"], result["created"], result["skipped"]) == (5, 3, 2)
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(videos))
        paths = await connection.scalar(select(func.count(videos.c.path.distinct())))
    assert count == paths == 5

    async def engine_job_done() -> bool:  # the engine logs a job's end just after it
        return await engine_jobs(engine) == []

    await eventually(engine_job_done, 30, "the engine's job done, not queued again")


async def test_scans_waiting_for_their_types_locks_do_not_hold_back_another_type(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
    auth: dict[str, str],
    library_root: Path,
) -> None:
    make_video(library_root / "videos" / "a.mp4")
    queuing = await aiohttp_client(_api(api_config, engine, run_scans=False))
    waiting, free = ("gifs", "curated"), "videos"
    ids: dict[str, uuid.UUID] = {}
    for directory_type in (*waiting, free):  # the first jobs the worker takes wait
        body = {"directoryType": directory_type, "async": True}
        answer = await (await queuing.post(SCAN, json=body, headers=auth)).json()
        ids[directory_type] = uuid.UUID(answer["jobId"])
    jobs = ScanJobRepository(engine)

    def ended(directory_type: str) -> Callable[[], Awaitable[ScanJob | None]]:
        async def check() -> ScanJob | None:
            job = await jobs.get(ids[directory_type])
            return job if job is not None and job.status != "running" else None

        return check

    # Someone else (the daemon) takes two types between the requests and the jobs' start.
    async with DirectoryLocks(engine).directory_lock(waiting) as held:
        assert held
        await aiohttp_client(_api(api_config, engine))
        done = await eventually(ended(free), 90, "the free type's scan")
        assert done.status == "succeeded" and done.result["created"] == 1
        for directory_type in waiting:
            job = await jobs.get(ids[directory_type])
            assert job is not None and job.status == "running"  # waits for its lock
    for directory_type in waiting:
        job = await eventually(ended(directory_type), 90, f"the {directory_type} scan, once free")
        assert job.status == "succeeded"


#: Sparse files of this size take a worker seconds to hash (zeros, no disk).
SLOW_FILES, SLOW_FILE_BYTES = 4, 2 << 30


async def test_a_scan_of_a_stopped_api_is_handed_back_and_finished_by_the_next(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
    auth: dict[str, str],
    library_root: Path,
    tmp_path: Path,
) -> None:
    """A replica's clean stop (a rolling restart) must not end its scan: the row stays
    running, the job goes back to the queue, and the next process serving it scans on to
    the end, every file recorded once."""
    original = make_video(tmp_path / "one.mp4", seconds=0.2)
    for index in range(FILES):
        shutil.copyfile(original, library_root / "videos" / f"{index:05d}.mp4")
    # Sparse files that take seconds each to hash: the scan is surely running at the stop,
    # past the worker's grace (a scan of the copies alone can end within it).
    for index in range(SLOW_FILES):
        slow = library_root / "videos" / f"slow-{index}.mp4"
        slow.write_bytes(original.read_bytes())
        os.truncate(slow, SLOW_FILE_BYTES)
    client = await aiohttp_client(_api(api_config, engine))
    started = await client.post(SCAN, json={"directoryType": "videos", "async": True}, headers=auth)
    assert started.status == 202, await started.text()
    job_id = uuid.UUID((await started.json())["jobId"])

    async def some_written() -> bool:
        async with engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(videos))
        return (count or 0) >= 20

    await eventually(some_written, 120, "the first rows")
    await client.close()  # the API stops (its cleanup), the scan in the middle
    job = await ScanJobRepository(engine).get(job_id)
    assert job is not None
    assert (job.status, job.error, job.finished_at) == ("running", None, None)
    # Queued again, not dropped: at once, or (the hand-back's write cut short by the
    # stop, under load) still picked, for the engine's stalled-job recovery.
    [(status, _key, payload)] = await engine_jobs(engine)
    assert status in ("queued", "picked"), status
    assert payload == {"scan_job_id": str(job_id)}

    successor = await aiohttp_client(_api(api_config, engine))

    async def finished() -> bool:
        answer = await successor.get(f"/api/media/scans/{job_id}", headers=auth)
        return bool((await answer.json())["status"] != "running")

    await eventually(finished, 120, "the scan finished by the next API")
    body = await (await successor.get(f"/api/media/scans/{job_id}", headers=auth)).json()
    assert body["status"] == "succeeded", body
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(videos)) or 0
        paths = await connection.scalar(select(func.count(videos.c.path.distinct()))) or 0
    assert count == paths == FILES + SLOW_FILES  # every file, once each
    await eventually(_no_engine_job(engine), 30, "the engine's job done")


def _no_engine_job(engine: AsyncEngine) -> Callable[[], Awaitable[bool]]:
    async def none_left() -> bool:
        return await engine_jobs(engine) == []

    return none_left


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
        # The API's worker lost its connection with the server; it is back for new scans.
        make_video(library_root / "studios" / "after.mp4")
        body = {"directoryType": "studios", "async": True}
        after = await (await client.post(SCAN, json=body, headers=auth)).json()

        async def after_ended() -> dict[str, Any] | None:
            found = await jobs.get(uuid.UUID(after["jobId"]))
            return None if found is None or found.status == "running" else found.result

        assert (await eventually(after_ended, 90, "a scan after the outage"))["created"] == 1
    assert job["status"] == "failed", job
    assert job["error"].startswith("database unavailable"), job
    assert "\n" not in job["error"]
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


async def test_a_job_that_cannot_read_its_row_is_tried_again_later(
    api_config: Config, library_root: Path, server: StoppablePostgres
) -> None:
    make_video(library_root / "studios" / "a.mp4")
    async with open_engine(server.url, pool_size=2) as engine:
        jobs = ScanJobRepository(engine)
        job = await jobs.create(["studios"], True)
        resources = WorkerResources(api_config, engine)
        call = JobCall({"scan_job_id": str(job.id)}, 0)
        server.stop()
        with pytest.raises(RetryLater) as retry:  # the engine's retry, not a lost job
            await run_scan(resources, call)
        assert retry.value.reason.startswith("database unavailable")
        server.start()
        try:
            await run_scan(resources, JobCall(call.payload, 1))
        finally:
            await resources.close(grace_s=1.0)
        ended = await jobs.get(job.id)
    assert ended is not None and ended.status == "succeeded" and ended.result["created"] == 1
