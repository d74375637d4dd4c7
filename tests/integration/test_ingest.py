"""The ingest core against the real database and real generated videos."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from subprocess import PIPE
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL

from tests.media import make_text_file_named, make_truncated_mp4, make_video
from tests.stoppable_postgres import StoppablePostgres, stoppable_postgres
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.db.records import ExaminedFile
from videolib.shared.db.repository import WRITE_BATCH, VideoRepository
from videolib.shared.db.schema import videos
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.ingest import FoundFile, ScanResult, examine_and_record, scan
from videolib.shared.library import Library
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.runtime import examiner_pool


@pytest.fixture
def server() -> Iterator[StoppablePostgres]:
    """A PostgreSQL of this test's own, to stop and freeze."""
    with stoppable_postgres() as running:
        yield running


async def run_scan(
    config: Config, repository: VideoRepository, *types: str, skip_existing: bool = True
) -> ScanResult:
    async with examiner_pool(config) as pool:
        return await scan(
            list(types or DIRECTORY_TYPES),
            library=Library.from_config(config),
            repository=repository,
            pool=pool,
            skip_existing=skip_existing,
        )


async def rows(repository: VideoRepository) -> dict[str, dict[str, object]]:
    async with repository.engine.connect() as connection:
        result = await connection.execute(select(videos))
    return {row.path: dict(row._mapping) for row in result}


def video(path: Path, **options: object) -> Path:
    """A generated video at ``path``, folders created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_video(path, **options)  # type: ignore[arg-type]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_scan_records_every_file_with_derived_fields(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    phone = video(
        library_root / "videos" / "phone clip é.mp4", width=320, height=180, rotation=90, audio=True
    )
    square = video(
        library_root / "videos" / "sub" / "square.MKV",
        width=240,
        height=240,
        audio=False,
        seconds=2.6,
    )
    video(library_root / "studios" / "a" / "x.webm", width=320, height=240, codec="vp9")

    result = await run_scan(config, repository, "videos")

    assert (result.scanned, result.created, result.failed) == (2, 2, 0), result.errors
    recorded = await rows(repository)
    assert set(recorded) == {"videos/phone clip é.mp4", "videos/sub/square.MKV"}
    phone_row = recorded["videos/phone clip é.mp4"]
    assert (phone_row["width"], phone_row["height"]) == (180, 320)
    assert phone_row["orientation"] == "portrait"
    assert phone_row["has_audio"] is True
    assert phone_row["file_hash"] == sha256(phone)
    assert phone_row["file_size"] == phone.stat().st_size
    assert phone_row["filename"] == "phone clip é.mp4"
    assert phone_row["directory_type"] == "videos"
    assert phone_row["is_valid"] is True and phone_row["last_validated"] is not None
    square_row = recorded["videos/sub/square.MKV"]
    assert (square_row["orientation"], square_row["has_audio"]) == ("square", False)
    assert square_row["duration_seconds"] == 3
    assert square_row["file_hash"] == sha256(square)


async def test_rescan_is_idempotent_and_skips_unchanged_files(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    for n in range(3):
        video(library_root / "gifs" / f"loop-{n}.mp4", seconds=0.5)
    first = await run_scan(config, repository, "gifs")
    second = await run_scan(config, repository, "gifs")
    assert (first.created, first.skipped) == (3, 0)
    assert (second.scanned, second.created, second.updated, second.skipped) == (3, 0, 0, 3)
    forced = await run_scan(config, repository, "gifs", skip_existing=False)
    assert (forced.created, forced.updated, forced.skipped) == (0, 3, 0)
    assert len(await rows(repository)) == 3


async def test_changed_file_is_read_again_and_keeps_its_id(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    path = video(library_root / "videos" / "a.mp4", width=320, height=240)
    await run_scan(config, repository, "videos")
    before = (await rows(repository))["videos/a.mp4"]
    video(path, width=1280, height=720)
    result = await run_scan(config, repository, "videos")
    after = (await rows(repository))["videos/a.mp4"]
    assert (result.updated, result.skipped) == (1, 0)
    assert after["id"] == before["id"]
    assert (after["width"], after["quality"]) == (1280, "HD")
    assert after["file_hash"] == sha256(path) != before["file_hash"]


async def test_broken_files_are_recorded_invalid_and_counted_failed(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    folder = library_root / "videos"
    (folder / "empty.mp4").write_bytes(b"")
    make_text_file_named(folder / "notes.mkv")
    make_truncated_mp4(folder / "cut.mp4")
    video(folder / "good.mp4")

    result = await run_scan(config, repository, "videos")

    assert (result.scanned, result.created, result.failed) == (4, 1, 3)
    assert len(result.errors) == 3 and all(": " in e for e in result.errors)
    recorded = await rows(repository)
    for name in ("empty.mp4", "notes.mkv", "cut.mp4"):
        row = recorded[f"videos/{name}"]
        assert (row["is_valid"], row["invalid_reason"]) == (False, "corrupt"), name
        assert row["probe_error"]
    assert recorded["videos/good.mp4"]["is_valid"] is True
    # A corrupt record is read again at the next pass (it may have been caught mid-copy).
    again = await run_scan(config, repository, "videos")
    assert (again.skipped, again.failed) == (1, 3)


async def test_ignored_names_and_symlink_out_of_root(
    config: Config, repository: VideoRepository, library_root: Path, tmp_path: Path
) -> None:
    folder = library_root / "videos"
    video(folder / "real.mp4")
    for name in (
        ".hidden.mp4",
        "._real.mp4",
        "x.mp4.part",
        "y.mp4.crdownload",
        "z.mp4~",
        "readme.txt",
    ):
        (folder / name).write_bytes(b"x")
    outside = video(tmp_path / "outside.mp4")
    (folder / "escape.mp4").symlink_to(outside)

    result = await run_scan(config, repository, "videos")

    assert set(await rows(repository)) == {"videos/real.mp4"}
    assert result.failed == 1
    assert "outside the library root" in result.errors[0]


async def test_non_utf8_name_is_reported_not_fatal(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    folder = library_root / "videos"
    video(folder / "fine.mp4")
    bad = os.path.join(os.fsencode(folder), b"caf\xe9.mp4")
    with open(bad, "wb") as file:
        file.write((folder / "fine.mp4").read_bytes())

    result = await run_scan(config, repository, "videos")

    assert (result.created, result.failed) == (1, 1)
    assert "not valid UTF-8" in result.errors[0]


async def test_vanished_files_are_marked_missing_and_moves_reattach(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    original = video(library_root / "videos" / "keep.mp4")
    gone = video(library_root / "videos" / "gone.mp4", width=160, height=120)
    # Something stays: a folder emptied while it holds records counts as an empty mount
    # point, and nothing is marked missing in it (issue 11 §1; tests/daemon/test_mounts.py).
    (library_root / "videos" / "notes.txt").write_text("stays")
    await run_scan(config, repository)
    before = await rows(repository)
    gone.unlink()
    original.rename(library_root / "curated" / "kept.mp4")  # moved while nobody watched

    result = await run_scan(config, repository)

    after = await rows(repository)
    assert (result.missing, result.moved, result.created) == (2, 1, 0)
    assert after["curated/kept.mp4"]["id"] == before["videos/keep.mp4"]["id"]
    assert after["curated/kept.mp4"]["is_valid"] is True
    assert (after["videos/gone.mp4"]["is_valid"], after["videos/gone.mp4"]["invalid_reason"]) == (
        False,
        "missing",
    )
    assert "videos/keep.mp4" not in after


async def record_found(
    config: Config, repository: VideoRepository, path: Path, *, follow_moves: bool
) -> ScanResult:
    """One file through the daemon's write path (examine_and_record), as a watcher hands it."""
    library = Library.from_config(config)
    stat = path.stat()
    stored = path.relative_to(config.library.root).as_posix()
    found = FoundFile(stored, path, stat.st_size, stat.st_mtime_ns)
    result = ScanResult(scanned=1)
    async with examiner_pool(config) as pool:
        await examine_and_record(
            [found],
            repository=repository,
            pool=pool,
            result=result,
            library=library if follow_moves else None,
        )
    return result


@pytest.mark.parametrize("follow_moves", [True, False])
async def test_a_new_path_takes_the_record_of_its_vanished_content_only_when_asked(
    config: Config, repository: VideoRepository, library_root: Path, follow_moves: bool
) -> None:
    # The daemon sees a rename as a create before the delete: the old record is still
    # valid, not missing, and only a look at the disk says its file is gone.
    original = video(library_root / "videos" / "a.mp4")
    await run_scan(config, repository)
    before = (await rows(repository))["videos/a.mp4"]
    moved = original.rename(library_root / "studios" / "b.mp4")

    result = await record_found(config, repository, moved, follow_moves=follow_moves)

    after = await rows(repository)
    if follow_moves:
        assert (result.moved, result.created) == (1, 0)
        assert list(after) == ["studios/b.mp4"]
        assert after["studios/b.mp4"]["id"] == before["id"]
        assert after["studios/b.mp4"]["directory_type"] == "studios"
    else:  # a scan: the old record waits for the pass that marks it missing
        assert (result.moved, result.created) == (0, 1)
        assert sorted(after) == ["studios/b.mp4", "videos/a.mp4"]
        assert after["studios/b.mp4"]["id"] != before["id"]
    assert after["studios/b.mp4"]["is_valid"] is True


async def test_a_twin_still_on_disk_keeps_its_record(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    original = video(library_root / "videos" / "a.mp4")
    await run_scan(config, repository)
    copy = library_root / "studios" / "copy.mp4"
    copy.write_bytes(original.read_bytes())

    result = await record_found(config, repository, copy, follow_moves=True)

    after = await rows(repository)
    assert (result.moved, result.created) == (0, 1)
    assert sorted(after) == ["studios/copy.mp4", "videos/a.mp4"]
    assert after["videos/a.mp4"]["is_valid"] is True


async def test_missing_type_folder_is_not_a_mass_deletion(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    video(library_root / "private" / "p.mp4")
    await run_scan(config, repository, "private")
    (library_root / "private" / "p.mp4").rename(library_root / "p.mp4")
    (library_root / "private").rmdir()

    result = await run_scan(config, repository, "private")

    assert result.missing == 0
    assert "directory not found" in result.errors[0]
    assert (await rows(repository))["private/p.mp4"]["is_valid"] is True


async def test_soft_deleted_record_stays_deleted_on_rescan(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    video(library_root / "videos" / "d.mp4")
    await run_scan(config, repository, "videos")
    async with repository.engine.begin() as connection:
        await connection.execute(videos.update().values(is_valid=False, invalid_reason="deleted"))
    await run_scan(config, repository, "videos", skip_existing=False)
    row = (await rows(repository))["videos/d.mp4"]
    assert (row["is_valid"], row["invalid_reason"]) == (False, "deleted")


async def test_duplicates_get_the_same_hash(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    first = video(library_root / "videos" / "one.mp4")
    (library_root / "highlights" / "two.mp4").write_bytes(first.read_bytes())
    await run_scan(config, repository)
    recorded = await rows(repository)
    # Equal to the content's hash, so that two missing hashes (None == None) do not pass.
    assert recorded["videos/one.mp4"]["file_hash"] == sha256(first)
    assert recorded["highlights/two.mp4"]["file_hash"] == sha256(first)


@pytest.mark.parametrize("backend", ["pyav", "ffprobe"])
async def test_both_backends_record_the_same(
    config: Config, repository: VideoRepository, library_root: Path, backend: str
) -> None:
    if (
        backend == "ffprobe"
        and not os.environ.get("CI")
        and not __import__("shutil").which("ffprobe")
    ):
        pytest.skip("no ffprobe on this machine (CI installs it)")
    video(library_root / "videos" / "uhd.mp4", width=3840, height=2160, seconds=0.2)
    video(library_root / "videos" / "sd.mov", width=640, height=480, seconds=2.4)
    config = config.replace("probe", backend=backend)
    await run_scan(config, repository, "videos")
    recorded = await rows(repository)
    assert recorded["videos/uhd.mp4"]["quality"] == "UHD"
    assert (
        recorded["videos/sd.mov"]["quality"],
        recorded["videos/sd.mov"]["duration_seconds"],
    ) == ("SD", 2)


async def test_corrupt_record_whose_file_vanished_becomes_missing(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    broken = make_text_file_named(library_root / "videos" / "broken.mkv")
    (library_root / "videos" / "notes.txt").write_text("stays")  # not an empty mount point
    await run_scan(config, repository, "videos")
    broken.unlink()
    result = await run_scan(config, repository, "videos")
    row = (await rows(repository))["videos/broken.mkv"]
    assert (result.missing, row["invalid_reason"]) == (1, "missing")


# -- a database cut in the middle of a scan (issue 10 item 3) ----------------------------


def copies(original: Path, folder: Path, count: int) -> list[Path]:
    """`count` copies of one video: each its own path, so each its own record."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        made.append(folder / f"{index:05d}.mp4")
        shutil.copyfile(original, made[-1])
    return made


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def ended(task: asyncio.Task[Any], timeout_s: float = 60) -> asyncio.Task[Any]:
    """The task once it ended by itself: a stall fails the test (never cancelled to end)."""
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()
        raise AssertionError(f"stalled: still running after {timeout_s} s")
    return task


async def count_rows(url: URL) -> int:
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    try:
        return int(await connection.fetchval("SELECT count(*) FROM videos"))
    finally:
        await connection.close()


async def test_writer_failing_behind_a_full_queue_ends_the_scan(
    server: StoppablePostgres, config: Config, library_root: Path, tmp_path: Path
) -> None:
    # The database freezes before the first write, so the writer waits while the readers
    # fill its queue (WRITE_BATCH * 2) and then wait on it holding every permit; then the
    # server dies under the writer. The old code stalled here for ever.
    files = copies(video(tmp_path / "one.mp4", seconds=0.2), library_root / "videos", 1700)
    found = [
        FoundFile(f"videos/{path.name}", str(path), path.stat().st_size, path.stat().st_mtime_ns)
        for path in files
    ]
    examined = 0

    def counted(file: FoundFile, done: ExaminedFile | None, seconds: float) -> None:
        nonlocal examined
        examined += 1

    server.freeze()
    async with open_engine(server.url, pool_size=2) as engine, examiner_pool(config) as pool:
        result = ScanResult(scanned=len(found))
        scanning = asyncio.create_task(
            examine_and_record(
                found, repository=VideoRepository(engine), pool=pool, result=result, observe=counted
            )
        )
        queue_full = WRITE_BATCH * 2 + pool.workers * 4
        seen = -1
        while examined != seen or examined < queue_full:  # until the readers are stuck
            seen = examined
            assert not scanning.done()
            await asyncio.sleep(1.0)
        server.stop()
        with pytest.raises(DatabaseUnavailableError):
            (await ended(scanning)).result()
    assert examined < len(found), "the readers went on after the writer failed"


async def test_database_stopped_mid_scan_ends_it_and_a_rescan_completes(
    server: StoppablePostgres, config: Config, library_root: Path, tmp_path: Path
) -> None:
    copies(video(tmp_path / "one.mp4", seconds=0.2), library_root / "videos", 600)
    async with open_engine(server.url, pool_size=2) as engine:
        repository = VideoRepository(engine)
        scanning = asyncio.create_task(run_scan(config, repository, "videos"))

        async def some_written() -> bool:
            assert not scanning.done(), scanning
            return await count_rows(server.url) >= 50

        await wait_for(some_written, 120, "the first rows")
        server.stop()
        with pytest.raises(DatabaseUnavailableError):
            (await ended(scanning)).result()
        server.start()
        written = await count_rows(server.url)
        assert 50 <= written < 600
        again = await run_scan(config, repository, "videos")
    assert (again.created, again.skipped, again.failed) == (600 - written, written, 0)
    assert await count_rows(server.url) == 600


async def test_cli_scan_cut_off_from_the_database_exits_3_with_one_line(
    server: StoppablePostgres, library_root: Path, tmp_path: Path
) -> None:
    copies(video(tmp_path / "one.mp4", seconds=0.2), library_root / "videos", 600)
    env = {
        **os.environ,
        "DATABASE_URL": server.dsn,
        "MEDIA_LIBRARY_PATH": str(library_root),
        "VIDEOLIB_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "scan", "videos"]
    with subprocess.Popen(command, env=env, stdout=PIPE, stderr=PIPE, text=True) as scanning:

        async def some_written() -> bool:
            assert scanning.poll() is None, scanning.communicate()
            return await count_rows(server.url) >= 50

        await wait_for(some_written, 120, "the first rows")
        server.stop()
        try:
            out, err = await asyncio.to_thread(scanning.communicate, timeout=60)
        except subprocess.TimeoutExpired:
            scanning.kill()
            raise AssertionError("the scan stalled once the database was gone") from None
    assert scanning.returncode == 3, (out, err)
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("videolib scan: database unavailable"), err
    assert not [line for line in err.splitlines() if not line.startswith(("scan videos:", last))]
    server.start()
    assert 50 <= await count_rows(server.url) < 600  # what was written stays
