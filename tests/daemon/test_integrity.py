"""Integrity checks against real files, PostgreSQL and the running daemon (issue 11 §5)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually, fast, row, running_service, sha256
from tests.media import make_video
from videolib.daemon.health import DatabaseHealth
from videolib.daemon.integrity import Budget, IntegrityChecker, local_now
from videolib.daemon.metrics import DaemonMetrics
from videolib.shared.config import Config
from videolib.shared.db.repository import IntegrityRepository, VideoRepository, ping
from videolib.shared.db.schema import integrity_findings
from videolib.shared.ingest import scan
from videolib.shared.integrity.budget import MB, Window
from videolib.shared.integrity.check import check_file
from videolib.shared.integrity.verdict import Intact, Recorded
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool

NAMES = ["videos/a.mp4", "videos/b.mp4", "videos/c.mp4", "studios/s/d.mp4"]


def make_clips(root: Path) -> None:
    for number, stored in enumerate(NAMES):
        path = root / stored
        path.parent.mkdir(parents=True, exist_ok=True)
        make_video(path, seconds=1 + number % 2, noise=True)


async def record(config: Config, engine: AsyncEngine) -> None:
    async with examiner_pool(config) as pool:
        await scan(
            ["videos", "studios"],
            library=Library.from_config(config),
            repository=VideoRepository(engine),
            pool=pool,
        )


def flip_byte_keeping_mtime(path: Path, offset: int) -> None:
    """Bit rot: one byte changes, size and mtime (to the nanosecond) stay."""
    before = os.stat(path)
    with open(path, "r+b") as file:
        file.seek(offset)
        value = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([value ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


async def findings(engine: AsyncEngine) -> list[object]:
    async with engine.connect() as connection:
        return list(await connection.execute(select(integrity_findings)))


def checker(config: Config, engine: AsyncEngine, **options: object) -> IntegrityChecker:
    metrics = DaemonMetrics()
    health = DatabaseHealth(lambda: ping(engine), metrics)
    return IntegrityChecker(
        config.integrity,
        Library.from_config(config),
        IntegrityRepository(engine),
        metrics,
        health,
        **options,  # type: ignore[arg-type]
    )


async def test_daemon_flags_a_changed_byte_within_one_cycle(
    config: Config, library_root: Path, database_url: URL, engine: AsyncEngine
) -> None:
    make_clips(library_root)
    config = fast(config).replace("integrity", rate_mb_per_second=50.0, cycle_interval_hours=0.0)
    async with running_service(config, database_url) as service:
        registry = service.metrics.registry

        async def all_verified() -> bool:
            # Not "one cycle": the first may have run while the first pass was recording.
            intact = registry.get_sample_value(
                "videolib_daemon_integrity_files_total", {"verdict": "intact"}
            )
            return (intact or 0) >= len(NAMES)

        await eventually(all_verified, 60, "every file verified once")
        assert await findings(engine) == []  # every file intact: no false mismatch
        target = library_root / "videos/b.mp4"
        recorded = await row(engine, "videos/b.mp4")
        assert recorded is not None and recorded.file_hash == sha256(target)
        flip_byte_keeping_mtime(target, offset=target.stat().st_size // 2)
        cycles_before = service.integrity.cycles
        # Within one cycle: the cycle under way when the byte changed may have passed the
        # file already; the next one reads it. A finding is written before its cycle
        # counts as finished, so once two more have finished it must be there.
        await eventually(
            lambda: _at_least(service.integrity.cycles, cycles_before + 2), 60, "two cycles"
        )
        found = await findings(engine)
        assert len(found) == 1
        finding = found[0]._mapping  # type: ignore[attr-defined]
        assert finding["path"] == "videos/b.mp4"
        assert finding["recorded_hash"] == recorded.file_hash
        assert finding["observed_hash"] == sha256(target)
        assert finding["status"] == "open"
        # Nothing acted on it: the file is there, the record's hash and validity unchanged.
        assert target.is_file()
        after = await row(engine, "videos/b.mp4")
        assert after is not None and after.file_hash == recorded.file_hash and after.is_valid
        assert registry.get_sample_value("videolib_daemon_integrity_flagged_files") == 1
        total = sum((library_root / name).stat().st_size for name in NAMES)
        read = registry.get_sample_value("videolib_daemon_integrity_verified_bytes_total")
        assert read is not None and read >= total
        last_cycle = registry.get_sample_value(
            "videolib_daemon_integrity_last_full_cycle_timestamp_seconds"
        )
        assert last_cycle is not None and last_cycle > 0


async def _at_least(value: int, wanted: int) -> bool:
    return value >= wanted


async def test_a_restart_resumes_after_the_last_file_verified(
    config: Config, library_root: Path, engine: AsyncEngine
) -> None:
    make_clips(library_root)
    await record(config, engine)
    repository = IntegrityRepository(engine)
    ordered = await repository.next_files("", 100)
    assert [f.path for f in ordered] == sorted(NAMES)  # code point order
    # A first run verified two files, then the daemon stopped.
    first = checker(config, engine)
    await repository.start_cycle(local_now())
    for file in ordered[:2]:
        await first.verify(file)
    assert (await repository.state()).cursor == ordered[1].path
    # The next daemon goes on from there and finishes the cycle.
    second = checker(config, engine)
    await second.run_cycle()
    assert second.verified == len(NAMES) - 2
    state = await repository.state()
    assert state.cursor is None and state.last_full_cycle_at is not None
    assert (
        second.metrics.registry.get_sample_value(
            "videolib_daemon_integrity_files_total", {"verdict": "intact"}
        )
        == len(NAMES) - 2
    )


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
    changed: list[str] = []
    service = checker(config, engine, on_changed=changed.append)
    await service.run_cycle()
    assert service.verified == len(NAMES)
    assert await findings(engine) == []
    assert changed == ["videos/a.mp4"]  # handed to the re-probe path
    verdicts = {
        verdict: service.metrics.registry.get_sample_value(
            "videolib_daemon_integrity_files_total", {"verdict": verdict}
        )
        for verdict in ("intact", "changed", "unread", "mismatch")
    }
    assert verdicts == {"intact": 1, "changed": 1, "unread": 2, "mismatch": None}
    # Files it could not read: no full cycle is claimed.
    assert (await IntegrityRepository(engine).state()).last_full_cycle_at is None
    last_full = "videolib_daemon_integrity_last_full_cycle_timestamp_seconds"
    assert not service.metrics.registry.get_sample_value(last_full)
    # No record was touched by the check.
    b = await row(engine, "videos/b.mp4")
    assert b is not None and b.is_valid


async def test_paced_read_takes_the_budgets_time_on_its_own_clock(tmp_path: Path) -> None:
    """The rate without timing: a fake clock advanced only by the budget's sleeps."""
    path = tmp_path / "big.bin"
    size = 24 * MB + 12_345
    path.write_bytes(os.urandom(size))
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds
        await asyncio.sleep(0)

    rate_mb = 8.0
    budget = Budget(rate_mb * MB, Window.always(), monotonic=lambda: clock[0], sleep=sleep)
    recorded = Recorded(size, os.stat(path).st_mtime_ns, sha256(path))
    verdict = await check_file(path, recorded, budget.pace)
    assert verdict == Intact()
    assert size / clock[0] == pytest.approx(rate_mb * MB, rel=0.01)


async def test_budget_holds_reads_outside_the_window() -> None:
    """Closed at 00:59 for a 01:00-06:00 window: the read waits a minute of wall time."""
    wall = [datetime(2026, 12, 1, 0, 59, tzinfo=UTC)]
    mono = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall[0] += timedelta(seconds=seconds)
        mono[0] += seconds

    budget = Budget(
        10 * MB,
        Window.parse("01:00-06:00"),
        wall=lambda: wall[0],
        monotonic=lambda: mono[0],
        sleep=sleep,
    )
    await budget.open_window()
    assert slept == [60.0] and wall[0].hour == 1
    wall[0] = datetime(2026, 12, 1, 5, 59, 59, 500000, tzinfo=UTC)
    await budget.pace(10 * MB)  # one second of budget, which runs past 06:00
    assert slept[1] == 1.0
    assert sum(slept[2:]) == pytest.approx(19 * 3600 - 0.5)  # held until 01:00 next day
    assert all(s <= 60.0 for s in slept[2:])  # re-checked every minute at most
