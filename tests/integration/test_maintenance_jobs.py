"""The trash purge and the periodic reconciliation as engine jobs (issue 13 §2): run by a
real in-process JobWorker (the engine's own loop) on real PostgreSQL and real files,
with no daemon running."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually, listed, row, rows
from tests.media import make_video
from tests.mounts import mount_bind, share_at, unmount_lazily
from tests.trash_helpers import trashed_file
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import DirectoryLocks, MountRepository, VideoRepository
from videolib.shared.db.schema import library_folders
from videolib.shared.ingest import scan
from videolib.shared.jobs.kinds import JobCall, JobFunction, RetryLater
from videolib.shared.jobs.maintenance_jobs import purge_trash, reconcile_library
from videolib.shared.jobs.names import MAINTENANCE_QUEUE, PURGE_TRASH, RECONCILE_LIBRARY
from videolib.shared.jobs.periodic import queue_next, seed
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.worker import JobWorker
from videolib.shared.library import Library
from videolib.shared.mount_safety import MARKER_NAME
from videolib.shared.runtime import examiner_pool
from videolib.shared.thumbnails import thumbnail_name

WAIT_S = 60.0


async def jobs_of(engine: AsyncEngine, kind: str) -> list[tuple[str, float]]:
    """(status, seconds until due) of each queued or running job of one kind."""
    async with engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT status::text, extract(epoch FROM execute_after - now())"
                " FROM pgqueuer WHERE entrypoint = :kind AND status IN ('queued', 'picked')"
            ),
            {"kind": kind},
        )
    return [(status, float(due)) for status, due in result]


@pytest.fixture
def worker_config(config: Config) -> Config:
    return config.replace("worker", metrics_port=0)


def sample(worker: JobWorker, name: str) -> float:
    return worker.metrics.registry.get_sample_value(name) or 0.0


async def recorded(config: Config, engine: AsyncEngine, types: list[str]) -> None:
    """Record what is on disk now, as a daemon's pass would have."""
    async with examiner_pool(config) as pool:
        await scan(
            types,
            library=Library.from_config(config),
            repository=VideoRepository(engine),
            pool=pool,
        )


# -- the trash purge -------------------------------------------------------------------


async def test_the_engine_job_purges_a_trash_day_older_than_retention(
    worker_config: Config, engine: AsyncEngine, library_root: Path
) -> None:
    old = await trashed_file(engine, library_root, "2020-01-01", "videos/old.mp4")
    today = datetime.now(UTC).date().isoformat()
    kept = await trashed_file(engine, library_root, today, "videos/new.mp4")
    jpeg = worker_config.thumbnail_dir / thumbnail_name(old)
    jpeg.parent.mkdir(parents=True)
    jpeg.write_bytes(b"\xff\xd8")
    job_worker = JobWorker(worker_config, engine, queues=(MAINTENANCE_QUEUE,))
    stop = asyncio.Event()
    running = asyncio.create_task(job_worker.run(stop))
    try:

        async def purged() -> bool:
            return sample(job_worker, "videolib_worker_trash_purges_total") >= 1

        await eventually(purged, WAIT_S, "the seeded purge job")
        assert sample(job_worker, "videolib_worker_trash_purged_files_total") == 1.0
        assert sample(job_worker, "videolib_worker_trash_purged_records_total") == 1.0
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT_S)
    assert not (library_root / ".trash" / "2020-01-01").exists()
    assert (library_root / ".trash" / today / "videos" / "new.mp4").is_file()
    assert [v.id for v in await rows(engine)] == [kept]
    assert not jpeg.exists()
    # The next look is queued, one interval (trash.purge_interval_seconds) from now.
    [(status, due)] = await jobs_of(engine, PURGE_TRASH)
    assert status == "queued"
    assert 3500 < due <= worker_config.trash.purge_interval_seconds


# -- the periodic reconciliation -------------------------------------------------------


async def test_the_periodic_reconcile_finds_files_added_while_no_daemon_runs(
    worker_config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    config = worker_config.replace("daemon", reconcile_interval=0.5)
    first = library_root / "videos" / "first.mp4"
    shutil.copyfile(make_video(tmp_path / "a.mp4", seconds=0.3), first)
    job_worker = JobWorker(config, engine, queues=(MAINTENANCE_QUEUE,))
    stop = asyncio.Event()
    running = asyncio.create_task(job_worker.run(stop))
    try:
        await listed(engine, "videos/first.mp4", WAIT_S)  # the pass seeded at its start

        def created() -> float:
            value = job_worker.metrics.registry.get_sample_value(
                "videolib_worker_reconcile_files_total", {"outcome": "created"}
            )
            return value or 0.0

        async def first_pass_done() -> bool:
            return created() == 1.0

        await eventually(first_pass_done, WAIT_S, "the first pass to finish")
        passes = sample(job_worker, "videolib_worker_reconcile_passes_total")
        # Added after that pass: found by a later one of the chain, not by a restart.
        b = make_video(tmp_path / "b.mp4", seconds=0.4)
        shutil.copyfile(b, library_root / "studios" / "b.mp4")
        assert (await listed(engine, "studios/b.mp4", WAIT_S)).is_valid

        async def second_pass_done() -> bool:
            return created() == 2.0

        await eventually(second_pass_done, WAIT_S, "the pass that found it to finish")
        assert sample(job_worker, "videolib_worker_reconcile_passes_total") > passes
        assert sample(job_worker, "videolib_worker_reconcile_last_success_timestamp_seconds") > 0
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT_S)
    # One chain: never more than one run queued or running.
    assert len(await jobs_of(engine, RECONCILE_LIBRARY)) == 1


async def test_the_job_skips_a_type_another_pass_holds_the_lock_of(
    worker_config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "a.mp4", seconds=0.3)
    shutil.copyfile(clip, library_root / "videos" / "locked.mp4")
    shutil.copyfile(clip, library_root / "studios" / "free.mp4")
    resources = WorkerResources(worker_config, engine)
    # The daemon's pass (or an API scan) of videos holds its scan lock meanwhile.
    async with DirectoryLocks(engine).directory_lock(["videos"]):
        await reconcile_library(resources, JobCall({}, 0))
    assert [v.path for v in await rows(engine)] == ["studios/free.mp4"]
    await reconcile_library(resources, JobCall({}, 0))  # its next pass, the lock free
    assert [v.path for v in await rows(engine)] == ["studios/free.mp4", "videos/locked.mp4"]


# -- mount safety: what a job's pass must never mark missing ---------------------------


def _empty(library_root: Path) -> None:
    for file in (library_root / "videos").iterdir():
        file.unlink()  # a bare mount point: the share's files are not there


def _unmarked(library_root: Path) -> None:
    (library_root / MARKER_NAME).unlink()  # another share, or none, at the root
    (library_root / "videos" / "a.mp4").unlink()  # and one file of ours not there


@pytest.mark.parametrize(
    ("unmount", "vanished"), [(_empty, 3), (_unmarked, 1)], ids=["emptied", "no-marker"]
)
async def test_a_held_folder_is_not_marked_missing_by_the_job(
    worker_config: Config,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    unmount: Callable[[Path], None],
    vanished: int,
) -> None:
    clip = make_video(tmp_path / "a.mp4", seconds=0.3)
    for name in ("a", "b", "c"):
        shutil.copyfile(clip, library_root / "videos" / f"{name}.mp4")
    await recorded(worker_config, engine, ["videos"])
    before = {v.path: v.id for v in await rows(engine)}
    assert len(before) == 3
    unmount(library_root)
    resources = WorkerResources(worker_config, engine)
    await reconcile_library(resources, JobCall({}, 0))
    after = await rows(engine)
    assert {v.path: v.id for v in after} == before  # same records, same ids
    assert all(v.is_valid for v in after)
    [held] = await MountRepository(engine).held()
    assert (held.directory_type, held.kind, held.missing) == ("videos", "unmounted", vanished)


async def test_a_folder_on_another_device_than_recorded_is_left_to_the_watcher(
    worker_config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    """This host sees videos on another device than the last applied pass recorded
    (its share unmounted here, or mounted by this host with devices of its own): the job
    neither marks its records missing nor holds them, and still reconciles the rest."""
    clip = make_video(tmp_path / "a.mp4", seconds=0.3)
    for name in ("a", "b"):
        shutil.copyfile(clip, library_root / "videos" / f"{name}.mp4")
    await recorded(worker_config, engine, ["videos"])
    assert (await MountRepository(engine).devices())["videos"] == os.stat(
        library_root / "videos"
    ).st_dev
    async with engine.begin() as connection:  # as another mount of videos recorded it
        await connection.execute(
            update(library_folders).where(library_folders.c.folder == "videos").values(device=1)
        )
    (library_root / "videos" / "a.mp4").unlink()
    shutil.copyfile(clip, library_root / "videos" / "new.mp4")
    shutil.copyfile(clip, library_root / "studios" / "s.mp4")
    resources = WorkerResources(worker_config, engine)
    await reconcile_library(resources, JobCall({}, 0))
    gone = await row(engine, "videos/a.mp4")
    assert gone is not None and gone.is_valid  # not marked missing
    assert await row(engine, "videos/new.mp4") is None  # the folder was not walked
    assert await row(engine, "studios/s.mp4") is not None  # the rest was
    assert await MountRepository(engine).held() == []  # no false alarm either
    skipped = resources.metrics.registry.get_sample_value(
        "videolib_worker_reconcile_skipped_types_total",
        {"directory_type": "videos", "reason": "device"},
    )
    assert skipped == 1.0
    assert (await MountRepository(engine).devices())["videos"] == 1  # the record stays


# -- the chain: one run queued or running per kind -------------------------------------


async def test_a_chain_has_one_run_queued_however_often_seeded(engine: AsyncEngine) -> None:
    assert await seed(engine, [PURGE_TRASH, RECONCILE_LIBRARY, "make_thumbnail"]) == [
        PURGE_TRASH,
        RECONCILE_LIBRARY,
    ]
    assert await seed(engine, [PURGE_TRASH, RECONCILE_LIBRARY]) == []  # a second worker
    starts = [queue_next(engine, PURGE_TRASH, timedelta(0)) for _ in range(8)]
    assert not any(await asyncio.gather(*starts))  # eight at once: still none more
    assert len(await jobs_of(engine, PURGE_TRASH)) == 1
    assert len(await jobs_of(engine, "make_thumbnail")) == 0


async def test_a_run_queues_its_successor_beside_itself(engine: AsyncEngine) -> None:
    await seed(engine, [PURGE_TRASH])
    async with engine.begin() as connection:  # a worker took it: it is running now
        running = await connection.scalar(
            text("UPDATE pgqueuer SET status = 'picked' WHERE entrypoint = :kind RETURNING id"),
            {"kind": PURGE_TRASH},
        )
    assert await seed(engine, [PURGE_TRASH]) == []  # a worker starting: the chain is there
    assert await queue_next(engine, PURGE_TRASH, timedelta(hours=1), running_job=int(running))
    assert sorted(s for s, _ in await jobs_of(engine, PURGE_TRASH)) == ["picked", "queued"]
    assert not await queue_next(engine, PURGE_TRASH, timedelta(hours=1), running_job=int(running))


async def test_an_unmounted_share_is_not_marked_missing_by_the_job_and_back_is_valid(
    worker_config: Config, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    """A real share (a tmpfs bind-mounted at videos) goes away with `umount -l` while no
    daemon runs: the worker's pass leaves the folder, marks nothing and holds nothing;
    mounted again, the next pass finds every record as it was."""
    clip = make_video(tmp_path / "a.mp4", seconds=0.3)
    videos = library_root / "videos"
    with share_at(tmp_path / "store", videos):
        for name in ("a", "b", "c"):
            shutil.copyfile(clip, videos / f"{name}.mp4")
        await recorded(worker_config, engine, ["videos"])
        before = {v.path: v.id for v in await rows(engine)}
        resources = WorkerResources(worker_config, engine)
        unmount_lazily(videos)
        assert not any(videos.iterdir())  # the bare mount point
        await reconcile_library(resources, JobCall({}, 0))
        after = await rows(engine)
        assert {v.path: v.id for v in after} == before and all(v.is_valid for v in after)
        assert await MountRepository(engine).held() == []
        mount_bind(tmp_path / "store", videos)
        await reconcile_library(resources, JobCall({}, 0))
        again = await rows(engine)
        assert {v.path: v.id for v in again} == before and all(v.is_valid for v in again)
    left = resources.metrics.registry.get_sample_value(
        "videolib_worker_reconcile_skipped_types_total",
        {"directory_type": "videos", "reason": "device"},
    )
    assert left == 1.0  # the unmounted pass only


@pytest.mark.parametrize("job", [purge_trash, reconcile_library], ids=["purge", "reconcile"])
async def test_a_run_without_the_database_is_retried_and_keeps_the_chain(
    worker_config: Config,
    database_url: URL,
    engine: AsyncEngine,
    library_root: Path,
    job: JobFunction,
) -> None:
    """The database gone during a run: the engine retries that same job later (one chain
    goes on), never a crash that ends the chain; nothing of the library is touched."""
    old = await trashed_file(engine, library_root, "2020-01-01", "videos/old.mp4")
    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        nowhere = database_url.set(host="127.0.0.1", port=probe.getsockname()[1])
    async with open_engine(nowhere, pool_size=1) as gone:
        with pytest.raises(RetryLater) as retry:
            await job(WorkerResources(worker_config, gone), JobCall({}, 0, job_id=7))
    assert retry.value.delay.total_seconds() == 30.0
    assert "database" in retry.value.reason.lower()
    assert (library_root / ".trash" / "2020-01-01" / "videos" / "old.mp4").is_file()
    assert [v.id for v in await rows(engine)] == [old]
