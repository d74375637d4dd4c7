"""ExaminerPool: bounded concurrency in processes; a crash or hang costs one file only."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.media import make_text_file_named, make_video
from videolib.shared.config import Config
from videolib.shared.db.repository import VideoRepository
from videolib.shared.db.schema import examination_failures
from videolib.shared.db.schema import videos as schema_videos
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.library import Library
from videolib.shared.media import examine as examine_module
from videolib.shared.media.examine import Examination, ProbeSettings, examine
from videolib.shared.media.workers import ExaminerPool

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")

SETTINGS = ProbeSettings()


# Jobs run in the worker processes: top-level functions, so that they pickle by name.


def crash_on_marked(path: str, settings: ProbeSettings) -> Examination:
    """Die like a broken prober on files named *crash* (exit) or *segv* (signal)."""
    if "crash" in Path(path).name:
        os._exit(3)
    if "segv" in Path(path).name:
        os.kill(os.getpid(), signal.SIGSEGV)
    return examine(path, settings)


def hang_on_marked(path: str, settings: ProbeSettings) -> Examination:
    """Hang like a stuck prober on files named *hang*."""
    if "hang" in Path(path).name:
        time.sleep(600)
    return examine(path, settings)


def hang_after_saying(path: str, settings: ProbeSettings) -> Examination:
    """Create `<path>.started` (so a test knows the worker is busy), then hang."""
    Path(path).with_suffix(".started").touch()
    time.sleep(600)
    return examine(path, settings)


def slow_with_pid(path: str, settings: ProbeSettings) -> Examination:
    """Take 0.5 s and say which process did the work."""
    time.sleep(0.5)
    return dataclasses.replace(examine(path, settings), error=f"pid {os.getpid()}")


def timed_with_pid(path: str, settings: ProbeSettings) -> Examination:
    """Take 0.5 s and say which process did the work, and when (monotonic, system-wide)."""
    started = time.monotonic()
    time.sleep(0.5)
    span = f"{os.getpid()} {started} {time.monotonic()}"
    return dataclasses.replace(examine(path, settings), error=span)


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of (start, end) spans that overlap at one instant."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


def raise_on_marked(path: str, settings: ProbeSettings) -> Examination:
    """A bug in the job itself, on files named *bug*."""
    if "bug" in Path(path).name:
        raise LookupError(f"job bug on {path}")
    return examine(path, settings)


def append_while_reading(path: str, settings: ProbeSettings) -> Examination:
    """Append to the file between examine's two stats, like a copy still in progress."""
    original = examine_module.sha256_file

    def append_then_hash(path: str | os.PathLike[str]) -> str:
        with open(path, "ab") as file:
            file.write(b"\0" * 4096)
        return original(path)

    examine_module.sha256_file = append_then_hash
    try:
        return examine_module.examine(path, settings)
    finally:
        examine_module.sha256_file = original


class NeedsTwoArguments(Exception):
    """An exception that pickles but does not unpickle (its __init__ wants two arguments)."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")


def raise_unpicklable_on_marked(path: str, settings: ProbeSettings) -> Examination:
    if "bug" in Path(path).name:
        raise NeedsTwoArguments(path, "job bug")
    return examine(path, settings)


def _refuse_to_unpickle() -> ProbeSettings:
    raise ImportError("this setup cannot load in a worker")


class UnloadableSettings(ProbeSettings):
    """Settings that a worker cannot unpickle: every worker dies before it is ready."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_refuse_to_unpickle, ())


def _run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


async def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not in {seconds:g} s"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("videos")
    first = make_video(directory / "v0.mp4", width=64, height=48)
    copies = [first]
    for index in range(1, 8):
        copies.append(directory / f"v{index}.mp4")
        copies[-1].write_bytes(first.read_bytes())
    return copies


def _assert_valid(result: Examination, path: Path) -> None:
    assert result.path == str(path)
    assert result.error is None and result.invalid_reason is None
    assert result.metadata is not None and (result.metadata.width, result.metadata.height) == (
        64,
        48,
    )
    assert result.size == path.stat().st_size and result.sha256 is not None
    assert result.changed is False


def test_examines_many_files(videos: list[Path], tmp_path: Path) -> None:
    bad = make_text_file_named(tmp_path / "notes.mkv")

    async def scenario() -> list[Examination]:
        async with ExaminerPool(2, SETTINGS, 30.0) as pool:
            return await asyncio.gather(*(pool.examine(str(p)) for p in [*videos, bad]))

    results = _run(scenario)
    for result, path in zip(results[:-1], videos, strict=True):
        _assert_valid(result, path)
    assert (results[-1].invalid_reason, results[-1].metadata) == ("corrupt", None)


def test_at_most_workers_files_in_flight(videos: list[Path]) -> None:
    async def scenario() -> list[Examination]:
        async with ExaminerPool(2, SETTINGS, 30.0, job=timed_with_pid) as pool:
            return await asyncio.gather(*(pool.examine(str(p)) for p in videos[:6]))

    results = _run(scenario)
    # Six 0.5 s jobs on two workers: both used, never three at once. Checked on the jobs'
    # own clocks, not on the elapsed time, which a loaded machine stretches.
    spans = [(r.error or "").split() for r in results]
    assert len({pid for pid, _, _ in spans}) == 2
    assert most_at_once([(float(start), float(end)) for _, start, end in spans]) <= 2


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("crash.mp4", "prober crashed (exit code 3)"),
        ("segv.mp4", "prober crashed (signal SIGSEGV)"),
    ],
)
def test_crash_costs_one_file(videos: list[Path], tmp_path: Path, name: str, error: str) -> None:
    crash = tmp_path / name
    crash.write_bytes(videos[0].read_bytes())

    async def scenario() -> list[Examination]:
        async with ExaminerPool(2, SETTINGS, 30.0, job=crash_on_marked) as pool:
            paths = [videos[0], crash, *videos[1:6]]
            return await asyncio.gather(*(pool.examine(str(p)) for p in paths))

    results = _run(scenario)
    crashed = results[1]
    assert crashed.invalid_reason == "corrupt"
    assert crashed.error == error
    assert crashed.size == crash.stat().st_size  # fingerprinted: skipped until it changes
    for result, path in zip([results[0], *results[2:]], [videos[0], *videos[1:6]], strict=True):
        _assert_valid(result, path)


def test_hang_costs_one_file(videos: list[Path], tmp_path: Path) -> None:
    hang = tmp_path / "hang.mp4"
    hang.write_bytes(videos[0].read_bytes())

    async def scenario() -> list[Examination]:
        async with ExaminerPool(2, SETTINGS, 1.0, job=hang_on_marked) as pool:
            first = await asyncio.gather(*(pool.examine(str(p)) for p in [hang, videos[0]]))
            later = await asyncio.gather(*(pool.examine(str(p)) for p in videos[1:5]))
            return [*first, *later]

    results = _run(scenario)
    assert results[0].invalid_reason == "unreadable"
    assert results[0].error == "prober timed out after 1 s"
    for result, path in zip(results[1:], [videos[0], *videos[1:5]], strict=True):
        _assert_valid(result, path)


@pytest.mark.parametrize(
    ("job", "name", "error"),
    [
        (crash_on_marked, "crash.mp4", "prober crashed (exit code 3)"),
        (hang_on_marked, "hang.mp4", "prober timed out after 1 s"),
    ],
)
def test_files_queued_behind_a_bad_one_are_examined(
    videos: list[Path], tmp_path: Path, job: Any, name: str, error: str
) -> None:
    # One worker: the good files wait in its pipe behind the bad one (DEPTH), and must go
    # to the worker that replaces it, not share the bad file's fate.
    bad = tmp_path / name
    bad.write_bytes(videos[0].read_bytes())

    async def scenario() -> list[Examination]:
        async with ExaminerPool(1, SETTINGS, 1.0, job=job) as pool:
            paths = [bad, *videos[:3]]
            return await asyncio.gather(*(pool.examine(str(p)) for p in paths))

    results = _run(scenario)
    assert results[0].error == error
    for result, path in zip(results[1:], videos[:3], strict=True):
        _assert_valid(result, path)


#: Closing a pool whose workers are all busy: killed at once, not waited on one by one
#: (the old close joined each busy worker for 2 s in turn: 8 s for these four).
BUSY_CLOSE_S = 4.0


def test_close_kills_busy_workers_at_once_without_blocking_the_loop(tmp_path: Path) -> None:
    paths = [tmp_path / f"hang-{n}.mp4" for n in range(4)]

    async def scenario() -> tuple[float, int, list[int | None]]:
        pool = ExaminerPool(4, SETTINGS, 600.0, job=hang_after_saying)
        async with pool:
            calls = [asyncio.ensure_future(pool.examine(str(p))) for p in paths]
            await _until(lambda: all(p.with_suffix(".started").exists() for p in paths))
            workers = [w.process for w in pool._all]
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.ensure_future(tick())
            started = time.monotonic()
            await pool.close()
            seconds = time.monotonic() - started
            ticker.cancel()
            await asyncio.gather(*calls, ticker, return_exceptions=True)
        return seconds, ticks, [w.exitcode for w in workers]

    seconds, ticks, exit_codes = _run(scenario)
    assert seconds < BUSY_CLOSE_S
    assert ticks > 0  # the loop ran while the workers were stopped
    assert exit_codes == [-signal.SIGKILL] * 4  # every one killed and reaped


def test_job_exception_reaches_the_caller_and_the_pool_goes_on(
    videos: list[Path], tmp_path: Path
) -> None:
    bug = tmp_path / "bug.mp4"
    bug.write_bytes(b"")

    async def scenario() -> Examination:
        async with ExaminerPool(1, SETTINGS, 30.0, job=raise_on_marked) as pool:
            with pytest.raises(LookupError, match="job bug"):
                await pool.examine(str(bug))
            return await pool.examine(str(videos[0]))

    result = _run(scenario)
    _assert_valid(result, videos[0])


def test_an_exception_that_does_not_unpickle_still_reaches_its_caller(
    videos: list[Path], tmp_path: Path
) -> None:
    bug = tmp_path / "bug.mp4"
    bug.write_bytes(b"")

    async def scenario() -> list[Examination | BaseException]:
        async with ExaminerPool(1, SETTINGS, 30.0, job=raise_unpicklable_on_marked) as pool:
            paths = [bug, *videos[:2]]  # the good files wait behind the bad one
            return await asyncio.gather(
                *(pool.examine(str(p)) for p in paths), return_exceptions=True
            )

    failed, *results = _run(scenario)
    assert isinstance(failed, RuntimeError) and "NeedsTwoArguments" in str(failed)
    for result, path in zip(results, videos[:2], strict=True):
        assert isinstance(result, Examination)
        _assert_valid(result, path)


def test_workers_that_cannot_start_fail_calls_without_a_restart_loop(
    videos: list[Path],
) -> None:
    async def scenario() -> tuple[list[BaseException], int]:
        async with ExaminerPool(1, UnloadableSettings(), 30.0) as pool:
            errors: list[BaseException] = []
            for path in videos[:2]:
                with pytest.raises(RuntimeError, match="could not start") as raised:
                    await pool.examine(str(path))
                errors.append(raised.value)
            await asyncio.sleep(0.5)
            return errors, len(pool._all)

    errors, running = _run(scenario)
    assert len(errors) == 2
    assert running == 0  # none started again until someone asks


def test_cancelled_examination_does_not_mix_up_answers(videos: list[Path]) -> None:
    async def scenario() -> Examination:
        async with ExaminerPool(1, SETTINGS, 30.0, job=slow_with_pid) as pool:
            task = asyncio.create_task(pool.examine(str(videos[0])))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return await pool.examine(str(videos[1]))

    result = _run(scenario)
    assert result.path == str(videos[1])


def test_file_growing_during_examination_is_changed(tmp_path: Path) -> None:
    path = make_video(tmp_path / "growing.mp4", width=64, height=48)

    async def scenario() -> Examination:
        async with ExaminerPool(1, SETTINGS, 30.0, job=append_while_reading) as pool:
            return await pool.examine(str(path))

    result = _run(scenario)
    assert result.changed is True
    assert result.size == path.stat().st_size


def test_vanished_file(tmp_path: Path) -> None:
    async def scenario() -> Examination:
        async with ExaminerPool(1, SETTINGS, 30.0) as pool:
            return await pool.examine(str(tmp_path / "gone.mp4"))

    result = _run(scenario)
    assert (result.invalid_reason, result.error) == ("missing", "file vanished")


# -- remembered failures: a scan does not feed the same bad file to a worker every pass ----


def crash_or_hang_logged(path: str, settings: ProbeSettings) -> Examination:
    """Log each examination beside the file; die or hang while `<file>.crash`/`.hang` is
    there (a file the prober cannot survive, until it is fixed)."""
    with open(Path(path).parent / "examined.log", "a") as log:
        log.write(Path(path).name + "\n")
    if Path(f"{path}.crash").exists():
        os._exit(3)
    if Path(f"{path}.hang").exists():
        time.sleep(600)
    return examine(path, settings)


def examined(folder: Path, name: str) -> int:
    log = folder / "examined.log"
    return log.read_text().split().count(name) if log.exists() else 0


async def remembered(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(examination_failures))).all()
    return {row.path: row for row in rows}


async def validity(engine: AsyncEngine, path: str) -> tuple[bool, str | None]:
    async with engine.connect() as connection:
        query = select(schema_videos.c.is_valid, schema_videos.c.probe_error)
        row = (await connection.execute(query.where(schema_videos.c.path == path))).one()
    return row.is_valid, row.probe_error


@pytest.mark.parametrize(("marker", "failure"), [("crash", "crashed"), ("hang", "timed out")])
async def test_a_file_that_lost_a_worker_is_remembered_and_retried_with_backoff(
    config: Config,
    engine: AsyncEngine,
    repository: VideoRepository,
    library_root: Path,
    videos: list[Path],
    marker: str,
    failure: str,
) -> None:
    folder = library_root / "videos"
    bad = folder / "bad.mp4"
    shutil.copy(videos[0], bad)
    (folder / f"bad.mp4.{marker}").touch()
    shutil.copy(videos[1], folder / "good.mp4")
    library = Library.from_config(config)

    async def scan_once() -> ScanResult:
        async with ExaminerPool(2, SETTINGS, 2.0, job=crash_or_hang_logged) as pool:
            return await scan(["videos"], library=library, repository=repository, pool=pool)

    before = datetime.now(UTC)
    first = await scan_once()
    assert (first.created, first.failed, examined(folder, "bad.mp4")) == (1, 1, 1)
    [row] = (await remembered(engine)).values()
    assert (row.path, row.failure, row.attempts) == ("videos/bad.mp4", failure, 1)
    assert (row.file_size, row.file_mtime_ns) == (bad.stat().st_size, bad.stat().st_mtime_ns)
    assert before + timedelta(minutes=59) < row.retry_at < before + timedelta(minutes=61)
    is_valid, error = await validity(engine, "videos/bad.mp4")
    assert not is_valid and error is not None and "prober" in error  # the user sees why

    # The next pass leaves it alone: no worker is spent on it again.
    second = await scan_once()
    assert (second.skipped, examined(folder, "bad.mp4")) == (2, 1)

    # Once the retry is due it is read again, and a second failure waits a day.
    async with engine.begin() as connection:
        await connection.execute(update(examination_failures).values(retry_at=before))
    await scan_once()
    assert examined(folder, "bad.mp4") == 2
    row = (await remembered(engine))["videos/bad.mp4"]
    assert row.attempts == 2
    assert row.retry_at > datetime.now(UTC) + timedelta(hours=23)

    # A change (a copy that went on) is read at once, and counts from one again.
    os.utime(bad, ns=(bad.stat().st_atime_ns, bad.stat().st_mtime_ns + 10**9))
    await scan_once()
    assert examined(folder, "bad.mp4") == 3
    assert (await remembered(engine))["videos/bad.mp4"].attempts == 1

    # Fixed (the copy completed): read once more, recorded valid, forgotten.
    (folder / f"bad.mp4.{marker}").unlink()
    os.utime(bad, ns=(bad.stat().st_atime_ns, bad.stat().st_mtime_ns + 10**9))
    await scan_once()
    assert examined(folder, "bad.mp4") == 4
    assert await validity(engine, "videos/bad.mp4") == (True, None)
    assert await remembered(engine) == {}


def blas_threads(_item: object, _settings: object) -> int:
    """In a media process: how many threads numpy's BLAS runs with."""
    import numpy as np

    np.ones((64, 64)) @ np.ones((64, 64))  # the pHash's resize: starts BLAS's threads
    task = Path(f"/proc/{os.getpid()}/task")
    return len(list(task.iterdir()))


async def test_a_media_process_runs_numpy_on_one_thread() -> None:
    """OpenBLAS starts a spinning thread per core in each media process unless told not to:
    at nice 10 beside the daemon, a 4 s clip's pHash took minutes (the cluster test under
    the full suite). One thread each: the process has no other threads than its own."""
    from videolib.shared.media.workers import WorkerPool

    pool: WorkerPool[int] = WorkerPool(1, blas_threads, None, 60.0, name="blas-check")
    try:
        threads = await pool.run(0)  # None is the stop message
    finally:
        await pool.close(1.0)
    assert threads == 1, f"{threads} threads in the media process"


async def test_a_media_process_ends_an_item_its_stuck_owner_would_let_run_for_ever(
    tmp_path: Path,
) -> None:
    """The owner kills an item past its time limit from its event loop; with that loop
    blocked (a frozen or stuck owner), the media process's own alarm ends it instead, and
    the owner, looking again, reports a time-out on that item (not a crash of a bad file)."""
    from videolib.shared.media.workers import WorkerPool, WorkerTimedOut, self_limit

    limit_s = 2.0
    pool: WorkerPool[Examination] = WorkerPool(1, hang_after_saying, None, limit_s, name="stuck")
    item = tmp_path / "clip.mp4"
    running = asyncio.ensure_future(pool.run(str(item)))
    try:
        await _until(item.with_suffix(".started").exists)
        [worker] = pool._all
        began = time.monotonic()
        # The loop blocked from here: the owner's own deadline cannot fire.
        while worker.process.exitcode is None and time.monotonic() - began < 30:
            time.sleep(0.1)
        assert worker.process.exitcode == -signal.SIGALRM
        assert time.monotonic() - began >= self_limit(limit_s) - limit_s  # its own bound
        with pytest.raises(WorkerTimedOut):
            await running
    finally:
        running.cancel()
        await pool.close(1.0)


def unpicklable_result(_item: object, _settings: object) -> object:
    return lambda: None  # a result that does not pickle


async def test_a_result_that_does_not_pickle_reaches_its_caller_as_an_error() -> None:
    from videolib.shared.media.workers import WorkerPool

    pool: WorkerPool[object] = WorkerPool(1, unpicklable_result, None, 60.0, name="pickle")
    try:
        with pytest.raises(Exception, match=r"pickle|lambda"):
            await pool.run(0)
        [worker] = pool._all
        assert worker.process.exitcode is None  # the same process goes on
    finally:
        await pool.close(1.0)


def test_an_unbounded_time_limit_gives_a_bounded_alarm() -> None:
    from videolib.shared.media.workers import ALARM_CAP_S, self_limit

    assert self_limit(float("inf")) == ALARM_CAP_S
    assert self_limit(10.0) == 25.0
