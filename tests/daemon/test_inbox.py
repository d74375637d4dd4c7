"""The inbox under stress and crashes: real daemon, real PostgreSQL, real files, real kills.

- A burst of hundreds of drops is moved and recorded, with no pool deadlock (issue 10 §2).
- A process killed (SIGKILL) after any step of a move, on one file system or across two,
  leaves the file exactly once once the daemon has started again: one record with
  originalFilename and standardizedAt, no hidden temporary left (issue 10 §8).
- A move that failed on a full disk is retried with backoff, before the periodic pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from structlog.testing import capture_logs

from tests.daemon.harness import eventually, fast, rows, running_service, sha256
from tests.daemon.proxy import CuttableProxy
from tests.media import make_video
from tests.mounts import tmpfs
from videolib.daemon.inbox import Inbox
from videolib.daemon.journal import LEGACY_DIR, MoveJournal
from videolib.daemon.metrics import DaemonMetrics
from videolib.daemon.moving import INCOMING_PREFIX
from videolib.daemon.scheduler import Scheduler
from videolib.shared.config import Config
from videolib.shared.db.records import Video
from videolib.shared.db.repository import DirectoryLocks, InboxMoveRepository, VideoRepository
from videolib.shared.library import Library
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.runtime import examiner_pool

REPO = Path(__file__).resolve().parents[2]


def on_disk(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- a burst: no deadlock of the pool -------------------------------------------------------


async def test_a_burst_of_hundreds_of_drops_is_moved_and_recorded(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    """Each file used to hold a pooled connection for its lock and wait for a second one
    to record its move: a burst used up the pool, the batch failed on the pool timeout
    and was dropped, the files stayed in the inbox until the periodic pass."""
    count = 300
    original = make_video(tmp_path / "drop.mp4", seconds=0.5)
    inbox = library_root / "inbox"
    staging = tmp_path / "staging"
    staging.mkdir()
    for index in range(count):
        shutil.copyfile(original, staging / f"drop-{index:03}.mp4")
    with capture_logs() as logs:
        async with running_service(fast(config), database_url):
            for name in sorted(os.listdir(staging)):
                os.rename(staging / name, inbox / name)  # same file system: all at once

            async def all_moved() -> list[Video]:
                found = [v for v in await rows(engine) if v.standardized_at is not None]
                return found if len(found) == count else []

            moved = await eventually(all_moved, 90, f"{count} drops moved and recorded")
    assert on_disk(inbox) == []
    assert on_disk(library_root / "videos") == sorted(f"drop-{i:03}.mp4" for i in range(count))
    assert {(v.path, v.original_filename) for v in moved} == {
        (f"videos/drop-{i:03}.mp4", f"drop-{i:03}.mp4") for i in range(count)
    }
    assert all(v.is_valid and v.file_hash == sha256(original) for v in moved)
    failures = [e for e in logs if e["event"] in {"ingest_failed", "inbox_move_failed"}]
    assert failures == []


async def test_a_full_pool_defers_the_batch_and_loses_nothing(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    """No pooled connection comes free in time: back-pressure, the batch waits and is
    ingested once one does; it used to fail on the timeout and be dropped."""
    originals = [make_video(tmp_path / f"{i}.mp4", seconds=0.5) for i in range(3)]
    small = create_async_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    try:
        async with examiner_pool(config) as pool:
            service = Scheduler(fast(config), small, pool)
            stop = asyncio.Event()
            task = asyncio.create_task(service.run(stop))

            async def reconciled() -> bool:
                return service.reconciled >= 1

            await eventually(reconciled, 30, "the first reconciliation")
            with capture_logs() as logs:
                async with small.connect() as held:  # the pool's only connection
                    await held.execute(text("SELECT 1"))
                    for original in originals:
                        shutil.copyfile(original, library_root / "videos" / original.name)

                    async def deferred() -> bool:
                        return any(e["event"] == "ingest_deferred" for e in logs)

                    await eventually(deferred, 30, "the batch to be deferred")

                async def all_recorded() -> list[Video]:
                    found = await rows(engine)
                    return found if len(found) == len(originals) else []

                found = await eventually(all_recorded, 30, "the deferred batch recorded")
            stop.set()
            await asyncio.wait_for(task, 10)
    finally:
        await small.dispose()
    assert sorted(v.path for v in found) == sorted(f"videos/{o.name}" for o in originals)
    assert [e for e in logs if e["event"] == "ingest_failed"] == []


# -- a kill after each step, then a restart ----------------------------------------------

SAME_FS_STEPS = ["journaled", "linked", "source_removed", "recorded"]
ACROSS_STEPS = ["journaled", "copied", "linked", "temp_removed", "source_removed", "recorded"]


def kill_after(step: str, config: Config, stored_path: str) -> subprocess.CompletedProcess[str]:
    """Run a real move in another process that SIGKILLs itself right after `step`."""
    settings = {
        "root": os.fspath(config.library_root),
        "inbox": os.fspath(config.inbox_path),
        "state": os.fspath(config.state.dir),
        "database_url": config.sqlalchemy_url().render_as_string(hide_password=False),
        "stored_path": stored_path,
        "die_after": step,
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.daemon.inbox_mover", json.dumps(settings)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def hidden_temporaries(config: Config) -> list[str]:
    folders = [config.library_root / t for t in DIRECTORY_TYPES] + [config.inbox_path]
    return [n for folder in folders for n in on_disk(folder) if n.startswith(INCOMING_PREFIX)]


async def assert_exactly_once(
    config: Config, engine: AsyncEngine, database_url: URL, original: Path, name: str
) -> None:
    """Start the daemon again and wait until the drop is in videos/ once, recorded once."""
    videos, digest = config.library_root / "videos", sha256(original)

    async def settled() -> list[Video]:
        found = await rows(engine)
        copies = [n for n in on_disk(videos) if sha256(videos / n) == digest]
        done = (
            copies == [name]
            and on_disk(config.inbox_path) == []
            and len(found) == 1
            and found[0].standardized_at is not None
        )
        return found if done else []

    async with running_service(fast(config), database_url):
        (record,) = await eventually(settled, 60, "the drop exactly once, recorded")
    assert record.path == f"videos/{name}" and record.is_valid
    assert record.original_filename == "clip.mp4" and record.file_hash == digest
    assert hidden_temporaries(config) == []
    assert await journaled(engine) == []
    assert len(await rows(engine)) == 1


async def journaled(engine: AsyncEngine) -> list[str]:
    """The inbox paths of the moves in the journal (every daemon's)."""
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT inbox_path FROM inbox_moves"))
    return sorted(result.scalars())


def socket_of(url: URL) -> str:
    host = url.query["host"]
    assert isinstance(host, str)
    return f"{host}/.s.PGSQL.{url.port or 5432}"


async def test_a_move_left_unrecorded_by_an_outage_is_recorded_after_a_restart(
    config: Config, database_url: URL, engine: AsyncEngine, clip: Path
) -> None:
    """The database goes away between the move and its record, and the daemon is stopped
    before it comes back: the move is in the journal, not in memory, so the next daemon
    records it with its originalFilename."""
    proxy = CuttableProxy(socket_of(database_url))
    await proxy.start()
    via_proxy = database_url.set(host="127.0.0.1", port=proxy.port, query={})
    loop = asyncio.get_running_loop()

    def cut_after_the_move(step: str) -> None:  # in the mover's thread
        if step == "source_removed":
            asyncio.run_coroutine_threadsafe(proxy.cut(), loop).result(10)

    try:
        async with running_service(fast(config), via_proxy) as service:
            service.inbox.step = cut_after_the_move
            shutil.copyfile(clip, config.inbox_path / "clip.mp4")

            async def database_down() -> bool:
                return not service.health.up

            await eventually(database_down, 30, "the daemon to see the database gone")
            assert on_disk(config.library_root / "videos") == ["clip.mp4"]
            assert await journaled(engine) == ["inbox/clip.mp4"]  # in the database itself
        assert [v.standardized_at for v in await rows(engine)] == []  # not recorded yet
        await assert_exactly_once(config, engine, database_url, clip, "clip.mp4")
    finally:
        await proxy.cut()


async def test_a_move_an_earlier_version_journaled_in_its_state_dir_is_finished(
    config: Config, database_url: URL, engine: AsyncEngine, clip: Path
) -> None:
    """Upgraded after a kill between move and record: the entry is a file in the state dir
    (as earlier versions wrote it), not a row. The first recovery adopts it and records
    the move with its originalFilename; the file goes."""
    shutil.copyfile(clip, config.inbox_path / "clip.mp4")
    killed = kill_after("source_removed", config, "inbox/clip.mp4")
    assert killed.returncode == -9, killed.stderr
    async with engine.begin() as connection:  # the row, back into an earlier version's file
        (row,) = await connection.execute(
            text(
                "DELETE FROM inbox_moves RETURNING id, inbox_path, directory_type, filename,"
                " size, sha256"
            )
        )
    legacy = config.state.dir / LEGACY_DIR
    legacy.mkdir(parents=True)
    (legacy / f"{row.id}.json").write_text(json.dumps(dict(row._mapping)))
    (legacy / f".{row.id[::-1]}.partial").write_text("{")  # a write a kill cut short
    await assert_exactly_once(config, engine, database_url, clip, "clip.mp4")
    assert on_disk(legacy) == []


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    (tmp_path / "source").mkdir()
    return make_video(tmp_path / "source" / "clip.mp4", seconds=1)


@pytest.mark.parametrize("step", SAME_FS_STEPS)
async def test_a_kill_after_any_step_on_one_file_system_leaves_the_file_once(
    step: str, config: Config, database_url: URL, engine: AsyncEngine, clip: Path
) -> None:
    shutil.copyfile(clip, config.inbox_path / "clip.mp4")
    killed = kill_after(step, config, "inbox/clip.mp4")
    assert killed.returncode == -9, killed.stderr
    await assert_exactly_once(config, engine, database_url, clip, "clip.mp4")


@pytest.mark.parametrize("step", [*ACROSS_STEPS, "copied-partially"])
async def test_a_kill_after_any_step_across_file_systems_leaves_the_file_once(
    step: str, config: Config, database_url: URL, engine: AsyncEngine, clip: Path, tmp_path: Path
) -> None:
    """The inbox on a tmpfs, the library on the test's disk: copy, link, unlink."""
    with tmpfs(tmp_path / "inbox-fs", "64m") as inbox:
        config = config.replace("library", inbox=inbox)
        shutil.copyfile(clip, inbox / "clip.mp4")
        killed = kill_after(step.removesuffix("-partially"), config, "inbox/clip.mp4")
        assert killed.returncode == -9, killed.stderr
        if step == "copied-partially":  # as if killed in the middle of the copy
            (temporary,) = hidden_temporaries(config)
            os.truncate(config.library_root / "videos" / temporary, clip.stat().st_size // 2)
        await assert_exactly_once(config, engine, database_url, clip, "clip.mp4")


async def test_recovery_keeps_off_a_move_whose_file_lock_a_live_mover_holds(
    config: Config, engine: AsyncEngine, clip: Path
) -> None:
    """Every daemon reads every entry, a live mover's in another daemon too: the file's
    lock that mover holds keeps this recovery off it. Once the lock is free (the mover
    died), the move it left half done is finished here."""
    shutil.copyfile(clip, config.inbox_path / "clip.mp4")
    killed = kill_after("linked", config, "inbox/clip.mp4")  # linked; the source still there
    assert killed.returncode == -9, killed.stderr
    videos = config.library_root / "videos"
    locks = DirectoryLocks(engine)
    async with examiner_pool(config) as pool:
        inbox = Inbox(
            Library.from_config(config),
            VideoRepository(engine),
            pool,
            config.daemon,
            DaemonMetrics(),
            locks,
            MoveJournal(InboxMoveRepository(engine)),
        )
        async with locks.free_directory_locks(["inbox-file:inbox/clip.mp4"]) as held:
            assert held  # as the other daemon's mover, still at work, would
            assert await inbox.recover() == 0
            assert await journaled(engine) == ["inbox/clip.mp4"]
            assert on_disk(config.inbox_path) == ["clip.mp4"] and on_disk(videos) == ["clip.mp4"]
            assert await rows(engine) == []
        assert await inbox.recover() == 1
    assert await journaled(engine) == []
    assert on_disk(config.inbox_path) == [] and on_disk(videos) == ["clip.mp4"]
    (record,) = await rows(engine)
    assert record.original_filename == "clip.mp4" and record.standardized_at is not None
    assert record.file_hash == sha256(clip)


async def test_a_kill_after_linking_beside_a_collision_makes_no_second_copy(
    config: Config, database_url: URL, engine: AsyncEngine, clip: Path, tmp_path: Path
) -> None:
    """Killed once `clip (1).mp4` is linked: the restart finds it by content and does not
    place the inbox original again as `clip (2).mp4`."""
    other = make_video(tmp_path / "source" / "other.mp4", seconds=2)
    shutil.copyfile(other, config.library_root / "videos" / "clip.mp4")
    shutil.copyfile(clip, config.inbox_path / "clip.mp4")
    killed = kill_after("linked", config, "inbox/clip.mp4")
    assert killed.returncode == -9, killed.stderr
    videos = config.library_root / "videos"
    assert on_disk(videos) == ["clip (1).mp4", "clip.mp4"]
    async with running_service(fast(config), database_url):

        async def settled() -> dict[str, Any]:
            found = {v.path: v for v in await rows(engine)}
            done = len(found) == 2 and found.get("videos/clip (1).mp4")
            return found if done and found["videos/clip (1).mp4"].standardized_at else {}

        found = await eventually(settled, 60, "both files recorded")
    assert on_disk(videos) == ["clip (1).mp4", "clip.mp4"] and on_disk(config.inbox_path) == []
    assert found["videos/clip (1).mp4"].original_filename == "clip.mp4"
    assert found["videos/clip (1).mp4"].file_hash == sha256(clip)
    assert found["videos/clip.mp4"].file_hash == sha256(other)


async def test_a_stray_temporary_nobody_journaled_is_removed_at_start(
    config: Config, database_url: URL, library_root: Path
) -> None:
    stale = library_root / "videos" / f"{INCOMING_PREFIX}0badc0de-old.mp4"
    fresh = library_root / "videos" / f"{INCOMING_PREFIX}feedface"
    stale.write_bytes(b"half a copy")
    fresh.write_bytes(b"another host's copy in progress")
    os.utime(stale, (0, 0))
    async with running_service(fast(config), database_url):
        assert not stale.exists()
        assert fresh.exists()  # too recent to be known left over


# -- a failed move is retried ------------------------------------------------------------


async def test_a_move_that_failed_on_a_full_disk_is_retried_with_backoff(
    config: Config, database_url: URL, engine: AsyncEngine, clip: Path, tmp_path: Path
) -> None:
    """The library on a full tmpfs: the copy fails with ENOSPC, the file stays in the
    inbox; once there is room it is moved by a retry, long before the periodic pass."""
    with tmpfs(tmp_path / "library-fs", "4m") as root:
        for directory_type in DIRECTORY_TYPES:
            (root / directory_type).mkdir()
        filler = root / "private" / "filler.bin"
        with contextlib.suppress(OSError), filler.open("wb") as out:
            while True:
                out.write(b"\0" * 65536)
        cfg = fast(config.replace("library", root=root, inbox=tmp_path / "inbox-disk"))
        cfg.inbox_path.mkdir()
        async with running_service(cfg, database_url) as service:
            shutil.copyfile(clip, cfg.inbox_path / "clip.mp4")

            async def failed() -> float:
                sample = service.metrics.registry.get_sample_value(
                    "videolib_daemon_inbox_moves_total", {"result": "failed"}
                )
                return sample or 0.0

            await eventually(failed, 30, "the move to fail on the full disk")
            assert on_disk(cfg.inbox_path) == ["clip.mp4"]
            assert on_disk(root / "videos") == []  # no temporary left behind
            filler.unlink()

            async def moved() -> list[Video]:
                found = [v for v in await rows(engine) if v.path == "videos/clip.mp4"]
                return found if found and found[0].standardized_at else []

            (record,) = await eventually(moved, 60, "the retried move")
            assert service.reconciled == 1  # the retry did it, not a second pass
        assert record.original_filename == "clip.mp4" and record.file_hash == sha256(clip)
        assert on_disk(cfg.inbox_path) == [] and on_disk(root / "videos") == ["clip.mp4"]
