"""Leadership in one process: a daemon that lost its lock stands by, and leads again later."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually, fast, listed, running_service
from tests.media import make_video
from videolib.daemon.scheduler import Scheduler
from videolib.shared.config import Config


async def end_lock_session(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted"
            )
        )


async def test_a_leader_that_lost_its_lock_stands_by_then_leads_again(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    cfg = fast(config)
    originals = [make_video(tmp_path / f"{i}.mp4", seconds=0.3, noise=True) for i in range(3)]
    async with running_service(cfg, database_url) as first:
        assert first.leadership.leading
        async with running_service(cfg, database_url) as second:
            assert not second.leadership.leading
            await end_lock_session(engine)  # as if the first froze and was fenced off

            async def swapped() -> bool:
                return second.leadership.leading and not first.leadership.leading

            await eventually(swapped, 30, "the second to lead and the first to stand by")
            assert first.fence.epoch is None  # nothing of the first commits any more
            assert first.role()["role"] == "standby"
            shutil.copyfile(originals[0], library_root / "videos" / "0.mp4")
            await listed(engine, "videos/0.mp4")
        # The second stopped and let the lock go: the first leads again, with every loop.

        async def first_leads() -> bool:
            return first.leadership.leading

        await eventually(first_leads, 30, "the first to lead again")
        assert first.leadership.takeovers == 2
        for original in originals[1:]:
            shutil.copyfile(original, library_root / "videos" / original.name)
        for original in originals[1:]:
            await listed(engine, f"videos/{original.name}")
        # Every loop of its second term works: none crashed.
        crashes = first.metrics.registry.get_sample_value
        for loop in ("reconciler", "ingester-0", "actor"):
            assert crashes("videolib_daemon_loop_crashes_total", {"loop": loop}) == 0, loop
        assert first.failure is None
        ready, why = first.readiness()
        assert ready, why


async def test_a_standby_writes_nothing_and_drops_events(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    cfg = fast(config)
    async with (
        running_service(cfg, database_url) as leader,
        running_service(cfg, database_url) as standby,
    ):
        assert isinstance(standby, Scheduler) and not standby.leadership.leading
        shutil.copyfile(
            make_video(tmp_path / "a.mp4", seconds=0.3), library_root / "videos" / "a.mp4"
        )
        await listed(engine, "videos/a.mp4")
        assert standby.reconciled == 0 and standby.fence.checks == 0
        assert not (standby.ready or standby.actions or len(standby.debouncer))
        assert leader.fence.checks > 0  # the leader's writes went through the fence
