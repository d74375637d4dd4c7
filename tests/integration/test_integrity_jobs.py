"""Integrity checks as jobs of the engine: real PostgreSQL, real files, real workers.

In-process JobWorkers run the engine's real loop; the sharing and the kill use real
`videolib worker` processes (tests/integration/test_jobs.py's WorkerProcess).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import row, sha256
from tests.integration.test_jobs import WorkerProcess, wait_for
from tests.integrity_helpers import (
    NAMES,
    findings,
    flip_byte_keeping_mtime,
    make_clips,
    record,
    verify_cycle,
)
from videolib.shared.commands.doctor import Status, check_job_queue
from videolib.shared.config import Config
from videolib.shared.db.records import ExaminedFile
from videolib.shared.db.repository import (
    IntegrityRepository,
    JobQueueRepository,
    VideoRepository,
)
from videolib.shared.db.schema import integrity_chunks
from videolib.shared.integrity.budget import MB, Window
from videolib.shared.integrity.check import check_file
from videolib.shared.integrity.pacing import Pacer
from videolib.shared.integrity.verdict import Intact, Recorded
from videolib.shared.jobs.integrity_jobs import (
    LONGEST_WAIT_S,
    ChunkVerifier,
    WindowClosed,
    chunk_job_key,
    defer_chunks,
    local_now,
    plan,
    plan_integrity,
)
from videolib.shared.jobs.kinds import JobCall
from videolib.shared.jobs.names import VERIFY_INTEGRITY_CHUNK
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.worker import JobWorker

WAIT_S = 120.0
VERDICTS = ("intact", "mismatch", "changed", "unread")


def closed_window(now: datetime) -> str:
    """A window that opens two hours from `now` (local time) and shuts an hour later."""
    opens, shuts = now + timedelta(hours=2), now + timedelta(hours=3)
    return f"{opens:%H:%M}-{shuts:%H:%M}"


async def chunk_rows(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as connection:
        query = select(integrity_chunks).order_by(integrity_chunks.c.number)
        return list(await connection.execute(query))


async def eventually_async(condition: object, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


# -- verdicts, in this process --------------------------------------------------------------


async def test_an_edit_a_missing_file_and_an_empty_folder_are_not_flagged(
    config: Config, library_root: Path, engine: AsyncEngine
) -> None:
    make_clips(library_root)
    await record(config, engine)
    edited = library_root / "videos/a.mp4"
    with open(edited, "ab") as file:
        file.write(b"appended")  # size and mtime change: an edit
    (library_root / "videos/c.mp4").unlink()  # missing: the reconciliation's business
    for item in (library_root / "studios").rglob("*.mp4"):  # a share gone empty
        item.unlink()
    end, verifier = await verify_cycle(config, engine, max_files=1)
    assert verifier.verified == len(NAMES)
    assert await findings(engine) == []
    registry = verifier.metrics.registry
    verdicts = {
        verdict: registry.get_sample_value(
            "videolib_worker_integrity_files_total", {"verdict": verdict}
        )
        for verdict in VERDICTS
    }
    assert verdicts == {"intact": 1, "changed": 1, "unread": 2, "mismatch": None}
    # Files it could not read: the cycle ended, but no full cycle is claimed.
    assert end is not None and (end.files, end.unread, end.full) == (len(NAMES), 2, False)
    state = await IntegrityRepository(engine).state()
    assert state.cursor is None and state.last_full_cycle_at is None
    # No record was touched by the check: the edit waits for the daemon's reconciliation.
    a = await row(engine, "videos/a.mp4")
    assert a is not None and a.is_valid and a.file_size == edited.stat().st_size - 8


async def test_a_cycle_is_not_started_twice_nor_before_it_is_due(
    config: Config, library_root: Path, engine: AsyncEngine
) -> None:
    make_clips(library_root)
    await record(config, engine)
    repository = IntegrityRepository(engine)
    now = local_now().astimezone(timezone(timedelta(hours=5, minutes=30)))  # not UTC
    keys = await plan(repository, config.integrity, now, max_files=1)
    assert [k.number for k in keys] == list(range(len(NAMES)))
    assert await plan(repository, config.integrity, now, max_files=1) == []  # under way
    # The planner's re-defer (keys read back from the database, in UTC) queues no second
    # job for a range whose first is pending.
    assert await defer_chunks(engine, keys) == len(NAMES)
    assert await defer_chunks(engine, await repository.unfinished_chunks()) == 0
    # Two planners at once (two workers' schedules): one cycle.
    due = config.integrity.__class__(cycle_interval_hours=0.0)
    both = await asyncio.gather(*(plan(repository, due, now) for _ in range(2)))
    assert [len(keys) for keys in both] == [0, 0]  # the first cycle is still under way
    rows = await chunk_rows(engine)
    assert len(rows) == len(NAMES)
    # Every path is in exactly one range.
    paths = sorted(NAMES)
    ranges = [(r.after_path, r.through_path) for r in rows]  # type: ignore[attr-defined]
    for path in paths:
        holding = [r for r in ranges if path > r[0] and (r[1] is None or path <= r[1])]
        assert len(holding) == 1, path


# -- the window -------------------------------------------------------------------------------


async def test_outside_the_window_nothing_is_read_and_the_job_waits_for_it(
    config: Config, library_root: Path, engine: AsyncEngine
) -> None:
    make_clips(library_root)
    await record(config, engine)
    now = local_now()
    shut = config.replace("integrity", window=closed_window(now), cycle_interval_hours=0.0)
    repository = IntegrityRepository(engine)
    # The planner starts no cycle while the window is shut.
    assert await plan(repository, shut.integrity, now) == []
    assert (await repository.state()).cursor is None
    # A range queued while it was open (or by a clock that moved) is not read either.
    keys = await plan(repository, config.integrity, now)
    assert await defer_chunks(engine, keys) == 1
    worker = JobWorker(shut.replace("worker", metrics_port=0), engine)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    registry = worker.metrics.registry
    try:

        async def retried() -> bool:
            value = registry.get_sample_value(
                "videolib_worker_jobs_total", {"task": VERIFY_INTEGRITY_CHUNK, "outcome": "retried"}
            )
            return bool(value)

        await eventually_async(retried, "the job to be put off")
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT_S)
    assert not registry.get_sample_value("videolib_worker_integrity_verified_bytes_total")
    assert not registry.get_sample_value(
        "videolib_worker_integrity_files_total", {"verdict": "intact"}
    )
    [chunk] = await chunk_rows(engine)
    assert chunk.done_through is None and chunk.files == 0  # type: ignore[attr-defined]
    assert chunk.finished_at is None  # type: ignore[attr-defined]
    # Queued again for when the window opens (capped at an hour, so a clock change is seen).
    async with engine.connect() as connection:
        status, after = (
            await connection.execute(
                text("SELECT status, execute_after FROM pgqueuer WHERE dedupe_key = :key"),
                {"key": chunk_job_key(keys[0])},
            )
        ).one()
    wait_s = (after - datetime.now(UTC)).total_seconds()
    assert status == "queued"
    assert LONGEST_WAIT_S - 120 < wait_s <= LONGEST_WAIT_S


# -- an engine job finds rot --------------------------------------------------------------------


async def test_the_engine_job_flags_a_changed_byte_and_leaves_the_file_alone(
    config: Config, library_root: Path, engine: AsyncEngine
) -> None:
    make_clips(library_root)
    await record(config, engine)
    target = library_root / "videos/b.mp4"
    recorded = await row(engine, "videos/b.mp4")
    assert recorded is not None and recorded.file_hash == sha256(target)
    flip_byte_keeping_mtime(target, offset=target.stat().st_size // 2)
    config = config.replace("worker", metrics_port=0).replace("integrity", rate_mb_per_second=50.0)
    worker = JobWorker(config, engine)  # in-process, the real engine loop
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    repository = IntegrityRepository(engine)
    try:
        # The schedule's run, now (the worker's own, every 5 minutes, would find it under
        # way or not due: one cycle either way).
        await plan_integrity(WorkerResources(config, engine), JobCall({}, 0))

        async def cycle_done() -> bool:
            return (await repository.state()).last_full_cycle_at is not None

        await eventually_async(cycle_done, "the cycle to finish")
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT_S)
    [found] = await findings(engine)
    finding = found._mapping  # type: ignore[attr-defined]
    assert finding["path"] == "videos/b.mp4" and finding["status"] == "open"
    assert finding["recorded_hash"] == recorded.file_hash
    assert finding["observed_hash"] == sha256(target)
    # Nothing acted on it: the file is there, the record's hash and validity unchanged.
    assert target.is_file()
    after = await row(engine, "videos/b.mp4")
    assert after is not None and after.file_hash == recorded.file_hash and after.is_valid
    registry = worker.metrics.registry
    total = sum((library_root / name).stat().st_size for name in NAMES)
    assert registry.get_sample_value("videolib_worker_integrity_verified_bytes_total") == total
    assert (
        registry.get_sample_value("videolib_worker_integrity_files_total", {"verdict": "mismatch"})
        == 1
    )
    assert await repository.gauges() == (1, (await repository.state()).last_full_cycle_at)


# -- the pacing ---------------------------------------------------------------------------------


async def test_paced_read_takes_the_budgets_time_on_its_own_clock(tmp_path: Path) -> None:
    """The rate without timing: a fake clock advanced only by the pacer's sleeps."""
    path = tmp_path / "big.bin"
    size = 24 * MB + 12_345
    path.write_bytes(os.urandom(size))
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds
        await asyncio.sleep(0)

    rate_mb = 8.0
    pacer = Pacer(rate_mb * MB, monotonic=lambda: clock[0], sleep=sleep)
    recorded = Recorded(size, os.stat(path).st_mtime_ns, sha256(path))
    verdict = await check_file(path, recorded, pacer.pace)
    assert verdict == Intact()
    assert size / clock[0] == pytest.approx(rate_mb * MB, rel=0.01)


async def test_two_jobs_of_one_process_share_its_rate(tmp_path: Path) -> None:
    """The rate is per process: two files read at once take as long as both in a row."""
    sizes = (6 * MB + 1, 10 * MB + 7)
    paths = []
    for number, size in enumerate(sizes):
        path = tmp_path / f"f{number}.bin"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        # Wake in the order of the deadlines on the fake clock.
        target = clock[0] + seconds
        while clock[0] < target:
            clock[0] = min(target, clock[0] + 0.01)
            await asyncio.sleep(0)

    pacer = Pacer(4 * MB, monotonic=lambda: clock[0], sleep=sleep)
    verdicts = await asyncio.gather(
        *(
            check_file(p, Recorded(p.stat().st_size, p.stat().st_mtime_ns, sha256(p)), pacer.pace)
            for p in paths
        )
    )
    assert verdicts == [Intact(), Intact()]
    assert sum(sizes) / clock[0] == pytest.approx(4 * MB, rel=0.05)


# -- real worker processes ---------------------------------------------------------------------


def worker_env(config: Config, tmp_path: Path, name: str, **integrity: float) -> dict[str, str]:
    """A `videolib worker` of the integrity queue with its own [integrity] settings."""
    settings = tmp_path / f"{name}.toml"
    lines = "".join(f"{key} = {value!r}\n" for key, value in integrity.items())
    settings.write_text(
        '[worker]\nmetrics_port = 0\nqueues = "integrity"\nstalled_seconds = 2.0\n'
        f"[integrity]\n{lines}"
    )
    return {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": config.database.url,
        "MEDIA_LIBRARY_PATH": str(config.library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
        "VIDEOLIB_LOG_LEVEL": "info",
        "VIDEOLIB_LOG_FORMAT": "json",
    }


def metrics_port(worker: WorkerProcess) -> int:
    [ready] = worker.lines("worker_ready")
    return int(json.loads(ready)["metrics_port"])


def verdict_counts(worker: WorkerProcess) -> dict[str, float]:
    """The worker's videolib_worker_integrity_files_total by verdict, from its /metrics."""
    url = f"http://127.0.0.1:{metrics_port(worker)}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read().decode()
    counts = dict.fromkeys(VERDICTS, 0.0)
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "videolib_worker_integrity_files_total":
                counts[sample.labels["verdict"]] = sample.value
    return counts


async def test_two_workers_share_a_cycle_and_no_file_is_verified_twice(
    config: Config,
    library_root: Path,
    engine: AsyncEngine,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    names = [f"videos/clip-{number:02d}.mp4" for number in range(10)]
    make_clips(library_root, names)
    await record(config, engine)
    # Planned first: the workers' own schedule (which runs at their start) finds the cycle
    # under way and only re-defers its ranges, deduplicated.
    repository = IntegrityRepository(engine)
    due = config.replace("integrity", cycle_interval_hours=0.0)
    keys = await plan(repository, due.integrity, local_now(), max_files=1)
    assert len(keys) == len(names)  # one file a range (the last one open-ended)
    assert await defer_chunks(engine, keys) == len(keys)
    for name in ("a", "b"):  # ~1.5 s a file: both start long before the ranges run out
        env = worker_env(config, tmp_path, name, rate_mb_per_second=0.5)
        workers.append(WorkerProcess(env, tmp_path / f"{name}.log"))

    async def cycle_done() -> bool:
        return (await repository.state()).last_full_cycle_at is not None

    await eventually_async(cycle_done, "the shared cycle to finish")
    counts = [verdict_counts(w) for w in workers]
    per_worker = [sum(c.values()) for c in counts]
    # Counted: every file once in all, and each worker took a share.
    assert sum(per_worker) == len(names), counts
    assert all(n > 0 for n in per_worker), counts
    assert all(c["intact"] == sum(c.values()) for c in counts)
    rows = await chunk_rows(engine)
    assert all(r.finished_at is not None for r in rows)  # type: ignore[attr-defined]
    assert sum(r.files for r in rows) == len(names)  # type: ignore[attr-defined]
    assert await findings(engine) == []


async def test_a_worker_killed_mid_range_the_range_resumes_elsewhere_with_one_finding(
    config: Config,
    library_root: Path,
    engine: AsyncEngine,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    names = [f"videos/clip-{number}.mp4" for number in range(5)]
    make_clips(library_root, names)
    await record(config, engine)
    rotten = library_root / names[0]  # the first of the range: found before the kill
    flip_byte_keeping_mtime(rotten, rotten.stat().st_size // 2)
    # Slow: several seconds a file, so the kill falls in the middle of the range.
    repository = IntegrityRepository(engine)
    due = config.replace("integrity", cycle_interval_hours=0.0)
    [key] = await plan(repository, due.integrity, local_now())  # one range of five files
    assert await defer_chunks(engine, [key]) == 1
    slow = WorkerProcess(
        worker_env(config, tmp_path, "slow", rate_mb_per_second=0.2), tmp_path / "slow.log"
    )
    workers.append(slow)
    wait_for(lambda: bool(slow.lines("integrity_chunk_started")), "the range to start")
    fast = WorkerProcess(
        worker_env(config, tmp_path, "fast", rate_mb_per_second=50.0), tmp_path / "fast.log"
    )
    workers.append(fast)
    wait_for(lambda: bool(fast.lines("worker_ready")), "the second worker")

    async def flagged() -> bool:
        return len(await findings(engine)) == 1

    await eventually_async(flagged, "the first file's finding")
    slow.process.kill()  # kill -9, mid-range
    slow.process.wait()
    [chunk] = await chunk_rows(engine)
    assert chunk.finished_at is None  # type: ignore[attr-defined]
    done_before = chunk.files  # type: ignore[attr-defined]
    assert 1 <= done_before < len(names)

    async def cycle_done() -> bool:
        return (await repository.state()).last_full_cycle_at is not None

    await eventually_async(cycle_done, "the range to be finished by the other worker")
    # Retried once, elsewhere, from where the killed worker left it.
    assert len(slow.lines("integrity_chunk_started")) == 1
    [resumed] = fast.lines("integrity_chunk_started")
    assert json.loads(resumed)["after"] == sorted(names)[done_before - 1]
    fast_counts = verdict_counts(fast)
    assert sum(fast_counts.values()) == len(names) - done_before
    assert fast_counts["mismatch"] == 0  # the rotten file was not read again
    [chunk] = await chunk_rows(engine)
    assert chunk.files == len(names) and chunk.flagged == 1  # type: ignore[attr-defined]
    [found] = await findings(engine)  # one finding, not two
    assert found._mapping["path"] == names[0]  # type: ignore[attr-defined]
    assert found._mapping["observed_hash"] == sha256(rotten)  # type: ignore[attr-defined]
    video = await row(engine, names[0])
    assert video is not None and video.is_valid and video.file_hash != sha256(rotten)


async def test_a_second_worker_behind_a_range_does_not_open_again_a_finding_closed_since(
    config: Config, library_root: Path, engine: AsyncEngine
) -> None:
    """A worker only thought dead reads a file its range's second worker has flagged and an
    admin has closed since: it records nothing (before, it opened the finding again)."""
    make_clips(library_root, ["videos/a.mp4"])
    await record(config, engine)
    repository = IntegrityRepository(engine)
    due = config.replace("integrity", cycle_interval_hours=0.0)
    [key] = await plan(repository, due.integrity, local_now())
    chunk = await repository.chunk(key)
    assert chunk is not None
    [file] = await repository.chunk_files(chunk, chunk.resume_after, 10)
    first = await repository.flag(file, "0" * 64, chunk=key)
    assert first is not None
    assert await repository.resolve(first.id, "superseded", "admin") is not None
    assert await repository.flag(file, "1" * 64, chunk=key) is None  # the range is past it
    assert await repository.open_count() == 0
    [closed] = await findings(engine)
    assert closed._mapping["status"] == "superseded"  # type: ignore[attr-defined]
    [after] = await chunk_rows(engine)
    assert after.flagged == 1 and after.files == 1  # type: ignore[attr-defined]


async def test_doctor_takes_a_cycle_being_worked_off_for_no_missing_worker(
    config: Config, library_root: Path, engine: AsyncEngine
) -> None:
    """Hours of queued ranges are normal while one runs; a kind with none running is not."""
    make_clips(library_root)
    await record(config, engine)
    keys = await plan(IntegrityRepository(engine), config.integrity, local_now(), max_files=1)
    assert await defer_chunks(engine, keys) == len(NAMES)
    async with engine.begin() as connection:  # queued an hour ago, one of them running
        # (The scan's thumbnail and fingerprint jobs are not this test's.)
        kind = {"kind": VERIFY_INTEGRITY_CHUNK}
        await connection.execute(text("DELETE FROM pgqueuer WHERE entrypoint <> :kind"), kind)
        await connection.execute(
            text("UPDATE pgqueuer SET execute_after = now() - interval '1 hour'")
        )
        await connection.execute(
            text(
                "UPDATE pgqueuer SET status = 'picked'"
                " WHERE id = (SELECT min(id) FROM pgqueuer WHERE entrypoint = :kind)"
            ),
            kind,
        )
    working = await JobQueueRepository(engine).state()
    assert working.picked == 1 and working.oldest_due_seconds is None
    assert check_job_queue(working).status is Status.OK
    async with engine.begin() as connection:  # the worker is gone: nothing runs
        await connection.execute(text("UPDATE pgqueuer SET status = 'queued'"))
    stuck = await JobQueueRepository(engine).state()
    assert stuck.oldest_due_seconds is not None and stuck.oldest_due_seconds > 3500
    result = check_job_queue(stuck)
    assert result.status is Status.WARN and "no worker takes it" in result.detail


async def test_a_file_paced_for_many_heartbeats_is_not_taken_for_stalled(
    config: Config,
    library_root: Path,
    engine: AsyncEngine,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    """A 6 MB file at 0.5 MB/s reads for 12 s, six times worker.stalled_seconds: the engine
    beats the job's heartbeat, so the idle second worker never takes it, and nothing cuts
    it off."""
    big = library_root / "videos" / "big.mp4"
    data = os.urandom(6 * MB)
    big.write_bytes(data)
    stat = big.stat()
    examined = ExaminedFile(
        "videos/big.mp4",
        "big.mp4",
        "videos",
        stat.st_size,
        stat.st_mtime_ns,
        hashlib.sha256(data).hexdigest(),
        None,
    )
    await VideoRepository(engine).write_examined([examined])
    repository = IntegrityRepository(engine)
    due = config.replace("integrity", cycle_interval_hours=0.0)
    [key] = await plan(repository, due.integrity, local_now())
    assert await defer_chunks(engine, [key]) == 1
    slow = WorkerProcess(
        worker_env(config, tmp_path, "slow", rate_mb_per_second=0.5), tmp_path / "slow.log"
    )
    workers.append(slow)
    wait_for(lambda: bool(slow.lines("integrity_chunk_started")), "the range to start")
    idle = WorkerProcess(
        worker_env(config, tmp_path, "idle", rate_mb_per_second=50.0), tmp_path / "idle.log"
    )
    workers.append(idle)
    wait_for(lambda: bool(idle.lines("worker_ready")), "the second worker")

    async def cycle_done() -> bool:
        return (await repository.state()).last_full_cycle_at is not None

    await eventually_async(cycle_done, "the long file's range to finish")
    assert len(slow.lines("integrity_chunk_started")) == 1
    assert idle.lines("integrity_chunk_started") == []
    assert verdict_counts(slow)["intact"] == 1 and sum(verdict_counts(idle).values()) == 0
    [chunk] = await chunk_rows(engine)
    assert chunk.files == 1 and chunk.finished_at is not None  # type: ignore[attr-defined]


async def test_a_window_that_shuts_mid_file_leaves_that_file_for_the_next_opening(
    config: Config, library_root: Path, engine: AsyncEngine
) -> None:
    """The first file is verified; the window shuts while the second is read: the job
    stops there (its slot is not held for the hours until the window opens), that file
    is not recorded, and the range goes on with it next time."""
    make_clips(library_root)
    await record(config, engine)
    repository = IntegrityRepository(engine)
    [key] = await plan(repository, config.integrity, local_now())
    window = Window.parse("01:00-06:00")
    inside = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    clock = [inside]
    resources = WorkerResources(config, engine)
    verifier = ChunkVerifier(resources, window, wall=lambda: clock[0])
    first = sorted(NAMES)[0]
    original_pace = verifier._pace

    async def pace_then_shut(read_bytes: int) -> None:
        if verifier.verified == 1:  # reading the second file
            clock[0] = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)  # shut
        await original_pace(read_bytes)

    verifier._pace = pace_then_shut  # type: ignore[method-assign]
    with pytest.raises(WindowClosed) as closed:
        await verifier.run(key)
    assert closed.value.wait_s == LONGEST_WAIT_S  # 18.5 h away: looked at again in an hour
    chunk = await repository.chunk(key)
    assert chunk is not None and chunk.done_through == first and chunk.files == 1
    # Next opening: the rest, from the second file on.
    clock[0] = inside
    resumed = ChunkVerifier(resources, window, wall=lambda: clock[0])
    end = await resumed.run(key)
    assert resumed.verified == len(NAMES) - 1
    assert end is not None and end.files == len(NAMES) and end.full
