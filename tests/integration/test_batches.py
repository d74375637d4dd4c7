"""validate --all, bulk validate and thumbnails as batches of engine chunk jobs: real
PostgreSQL, real videos, real `videolib worker` and `videolib validate` processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_jobs import WorkerProcess
from tests.integration.test_thumbnails import add_video, row_of
from tests.media import make_text_file_named, make_video
from videolib.shared.config import Config
from videolib.shared.db.repository import BatchItem, BatchRepository, VideoRepository
from videolib.shared.db.schema import job_batch_items, job_batches, videos
from videolib.shared.ingest import scan
from videolib.shared.jobs.batch_jobs import chunk_payload
from videolib.shared.jobs.batches import (
    VALIDATE,
    Batch,
    chunk_key,
    start_batch,
    wait_for_batch,
)
from videolib.shared.jobs.defer import defer
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool

pytestmark = pytest.mark.timeout(240)

WAIT_S = 120.0


async def until(
    condition: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_S
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def record_videos(config: Config, engine: AsyncEngine, names: list[str]) -> list[uuid.UUID]:
    """Real videos under videos/, scanned in; their ids in the order of `names`."""
    for name in names:
        make_video(config.library_root / "videos" / name, width=64, height=48)
    async with examiner_pool(config) as pool:
        result = await scan(
            ["videos"],
            library=Library.from_config(config),
            repository=VideoRepository(engine),
            pool=pool,
        )
    assert result.created == len(names)
    async with engine.connect() as connection:
        rows = (await connection.execute(select(videos.c.path, videos.c.id))).all()
    by_path = dict(rows)
    return [by_path[f"videos/{name}"] for name in names]


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Path]:
    """While this file exists, ffprobe on a file named *stuck* blocks (a hung NAS read):
    the worker holding that chunk is mid-job for as long as the test wants."""
    gate = tmp_path / "gate"
    gate.touch()
    yield gate
    gate.unlink(missing_ok=True)  # lets an orphaned wrapper of a killed worker end


def gated_ffprobe(tmp_path: Path, gate: Path) -> Path:
    script = tmp_path / "ffprobe-gated"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *stuck*) while [ -e "{gate}" ]; do sleep 0.05; done;; esac\n'
        f'exec "{shutil.which("ffprobe")}" "$@"\n'
    )
    script.chmod(0o755)
    return script


def process_env(config: Config, tmp_path: Path, gate: Path) -> dict[str, str]:
    """Environment of a `videolib` process probing with the gated ffprobe."""
    settings = tmp_path / "batches.toml"
    settings.write_text(
        '[worker]\nqueues = "validate"\nmetrics_port = 0\nstalled_seconds = 2.0\n'
        f'[probe]\nbackend = "ffprobe"\nffprobe_path = "{gated_ffprobe(tmp_path, gate)}"\n'
        "timeout_ms = 120000\nworkers = 1\n"
    )
    return {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": config.database.url,
        "MEDIA_LIBRARY_PATH": str(config.library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
        "VIDEOLIB_LOG_LEVEL": "info",
    }


def events(worker: WorkerProcess, event: str) -> list[dict[str, object]]:
    """The worker's log lines of `event` about validate chunks."""
    found = []
    for line in worker.log.read_text().splitlines():
        if event in line and line.startswith("{"):
            found.append(json.loads(line))
    return [e for e in found if e.get("task", "validate_chunk") == "validate_chunk"]


async def test_a_chunk_of_a_killed_worker_is_finished_by_another_counting_each_video_once(
    config: Config,
    engine: AsyncEngine,
    tmp_path: Path,
    gate: Path,
    workers: list[WorkerProcess],
) -> None:
    names = [f"v{n}.mp4" for n in range(5)] + ["stuck.mp4"]
    ids = await record_videos(config, engine, names)
    env = process_env(config, tmp_path, gate)
    victim = WorkerProcess(env, tmp_path / "victim.log")
    workers.append(victim)
    batch = await start_batch(engine, VALIDATE, ids)  # one chunk, the stuck video last
    batches = BatchRepository(engine)

    async def all_but_the_stuck_one() -> bool:
        return (await batches.progress(batch.id)).done == len(ids) - 1

    await until(all_but_the_stuck_one, "the victim to validate all but the stuck video")
    assert len(events(victim, "job_started")) == 1  # mid-chunk, blocked on the stuck one
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    gate.unlink()
    survivor = WorkerProcess(env, tmp_path / "survivor.log")
    workers.append(survivor)

    async def finished() -> bool:
        return (await batches.progress(batch.id)).finished

    await until(finished, "the survivor to finish the batch")
    progress = await batches.progress(batch.id)
    assert (progress.total, progress.done, progress.failed) == (6, 6, 0)
    items = await batches.items(batch.id)
    assert sorted(i.item_id for i in items) == sorted(ids)  # each video once
    # The retry ran the chunk again but validated only what the victim had not recorded.
    [done] = events(survivor, "batch_chunk_done")
    assert (done["items"], done["run"]) == (6, 1)
    assert len(events(survivor, "job_started")) == 1
    assert await batches.pending_chunks(chunk_key(VALIDATE, batch.id)) == 0
    stuck = await row_of(engine, videos, ids[-1])
    assert (stuck.is_valid, stuck.width) == (True, 64)  # nothing lost on the way
    async with engine.connect() as connection:
        finished_at = await connection.scalar(
            select(job_batches.c.finished_at).where(job_batches.c.id == batch.id)
        )
    assert finished_at is not None


def videolib_command(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "videolib.shared.commands.cli", *args],
        env={**env, "VIDEOLIB_LOG_LEVEL": "warning"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_ctrl_c_of_validate_all_leaves_its_batch_to_the_workers(
    config: Config,
    engine: AsyncEngine,
    tmp_path: Path,
    gate: Path,
    workers: list[WorkerProcess],
) -> None:
    ids = await record_videos(config, engine, ["a.mp4", "b.mp4", "stuck.mp4"])
    env = process_env(config, tmp_path, gate)
    command = videolib_command("validate", "--all", env=env)
    batches = BatchRepository(engine)

    async def two_validated() -> bool:
        async with engine.connect() as connection:
            batch_id = await connection.scalar(select(job_batches.c.id))
        return batch_id is not None and (await batches.progress(batch_id)).done == 2

    try:
        await until(two_validated, "the command to validate all but the stuck video")
        command.send_signal(signal.SIGINT)
        _, stderr = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()
            command.communicate()
    assert command.returncode == 130
    assert "Traceback" not in stderr
    async with engine.connect() as connection:
        batch_id = (await connection.execute(select(job_batches.c.id))).scalar_one()
    assert f"interrupted; batch {batch_id} stays queued" in stderr
    assert "validate queue finishes it" in stderr
    # Handed back to the queue, not dropped: still pending, its two results kept.
    assert await batches.pending_chunks(chunk_key(VALIDATE, batch_id)) == 1
    assert (await batches.progress(batch_id)).done == 2
    gate.unlink()
    workers.append(WorkerProcess(env, tmp_path / "worker.log"))

    async def finished() -> bool:
        return (await batches.progress(batch_id)).finished

    await until(finished, "a worker to finish the batch")
    items = await batches.items(batch_id)
    assert sorted(i.item_id for i in items) == sorted(ids)
    assert all(i.ok for i in items)


async def test_a_chunk_that_fails_outright_does_not_keep_its_waiter_forever(
    config: Config, engine: AsyncEngine
) -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    batch_id = await BatchRepository(engine).create(VALIDATE.task, len(ids))
    broken = {**chunk_payload(batch_id, ids), "ids": ["not-a-uuid"]}  # the job raises
    await defer(engine, VALIDATE.task, [(broken, chunk_key(VALIDATE, batch_id, 0))])
    items = await asyncio.wait_for(
        wait_for_batch(config, engine, Batch(batch_id, VALIDATE, tuple(ids)), concurrency=1),
        timeout=WAIT_S,
    )
    assert sorted(i.item_id for i in items) == sorted(ids)
    assert all(i.error and "its chunk job failed" in i.error for i in items)


async def test_an_item_recorded_twice_counts_once_and_keeps_its_first_result(
    engine: AsyncEngine,
) -> None:
    batches = BatchRepository(engine)
    a, b = uuid.uuid4(), uuid.uuid4()
    batch_id = await batches.create(VALIDATE.task, 2)
    assert await batches.record(batch_id, [BatchItem(a, None)]) == 1
    assert await batches.record(batch_id, [BatchItem(a, "second answer"), BatchItem(b, "x")]) == 1
    progress = await batches.progress(batch_id)
    assert (progress.done, progress.failed, progress.finished) == (2, 1, True)
    assert {i.item_id: i.error for i in await batches.items(batch_id)} == {a: None, b: "x"}


async def test_two_chunks_recording_a_batchs_last_items_at_once_mark_it_finished(
    engine: AsyncEngine,
) -> None:
    """Without the batch row's lock each counted without the other's uncommitted items and
    neither marked the batch finished (it was kept 30 days, not 1)."""
    batches = BatchRepository(engine)
    for _ in range(20):
        batch_id = await batches.create(VALIDATE.task, 2)
        await asyncio.gather(
            batches.record(batch_id, [BatchItem(uuid.uuid4(), None)]),
            batches.record(batch_id, [BatchItem(uuid.uuid4(), None)]),
        )
        async with engine.connect() as connection:
            finished_at = await connection.scalar(
                select(job_batches.c.finished_at).where(job_batches.c.id == batch_id)
            )
        assert finished_at is not None


async def test_validate_ids_goes_through_the_engine_and_reports_unknown_ids(
    config: Config, engine: AsyncEngine
) -> None:
    [known] = await record_videos(config, engine, ["known.mp4"])
    unknown = uuid.uuid4()
    batch = await start_batch(engine, VALIDATE, [known, unknown, known])
    assert batch.ids == (known, unknown)  # each once
    items = await wait_for_batch(config, engine, batch, concurrency=1)
    errors = {i.item_id: i.error for i in items}
    assert errors == {known: None, unknown: f"{unknown}: no such video"}
    assert await BatchRepository(engine).pending_chunks(chunk_key(VALIDATE, batch.id)) == 0


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "videolib.shared.commands.cli", *args],
        env={**env, "VIDEOLIB_LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        timeout=180,
    )


async def test_thumbnails_command_prints_made_and_failed_through_the_engine(
    config: Config, engine: AsyncEngine, tmp_path: Path, gate: Path
) -> None:
    make_video(config.library_root / "videos" / "one.mp4")
    make_text_file_named(config.library_root / "videos" / "two.mp4")
    one = await add_video(engine, "videos/one.mp4")
    two = await add_video(engine, "videos/two.mp4")  # recorded valid, cannot be decoded
    result = await asyncio.to_thread(
        cli, "thumbnails", "--missing", env=process_env(config, tmp_path, gate)
    )
    assert result.returncode == 1, result.stderr
    assert "Thumbnails: 1 made, 1 failed" in result.stdout
    assert f"  {two}: " in result.stdout
    assert "thumbnails: 2/2" in result.stderr  # the progress line
    assert (await row_of(engine, videos, one)).thumbnail_path is not None
    async with engine.connect() as connection:
        [(kind, total, finished_at)] = (
            await connection.execute(
                select(job_batches.c.kind, job_batches.c.total, job_batches.c.finished_at)
            )
        ).all()
    assert (kind, total) == ("thumbnail_chunk", 2) and finished_at is not None


async def test_a_new_batch_drops_the_old_finished_ones_and_keeps_the_running(
    engine: AsyncEngine,
) -> None:
    batches = BatchRepository(engine)
    old, running = await batches.create(VALIDATE.task, 1), await batches.create(VALIDATE.task, 2)
    await batches.record(old, [BatchItem(uuid.uuid4(), None)])
    await batches.record(running, [BatchItem(uuid.uuid4(), None)])
    two_days_ago = func.now() - timedelta(days=2)
    async with engine.begin() as connection:
        for batch_id, values in ((old, {"finished_at": two_days_ago}), (running, {})):
            await connection.execute(
                job_batches.update()
                .where(job_batches.c.id == batch_id)
                .values(created_at=two_days_ago, **values)
            )
    new = await start_batch(engine, VALIDATE, [])
    async with engine.connect() as connection:
        kept = set((await connection.execute(select(job_batches.c.id))).scalars())
        items = await connection.scalar(select(func.count()).select_from(job_batch_items))
    assert kept == {running, new.id}
    assert items == 1  # the old batch's item went with it, the running one's stays
