"""The leading daemon's held-passes gauge follows the database, whoever held or applied a
pass: its own periodic passes are gone (a worker's job now, shared/jobs/), so the gauge
that VideolibMissingHeld reads cannot wait for its next pass."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually, fast, running_service
from videolib.daemon.scheduler import WATCH_CHECK_S
from videolib.shared.config import Config
from videolib.shared.db.repository import MountRepository

SEEN_S = WATCH_CHECK_S * 6  # a generous few watch checks


async def test_a_pass_held_and_applied_elsewhere_shows_in_the_gauge(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path
) -> None:
    folders = MountRepository(engine)
    async with running_service(fast(config), database_url) as service:
        gauge = service.metrics.registry.get_sample_value
        assert gauge("videolib_daemon_held_passes") == 0.0
        # A worker's periodic pass (or an API scan) holds videos.
        await folders.hold("videos", "unmounted", "the folder is empty", 3, 3)

        async def held() -> bool:
            return gauge("videolib_daemon_held_passes") == 1.0

        await eventually(held, SEEN_S, "the held pass in the gauge")
        # An admin applies it (`videolib reconcile --apply-missing videos`).
        await folders.applied({"videos": (library_root / "videos").stat().st_dev})

        async def cleared() -> bool:
            return gauge("videolib_daemon_held_passes") == 0.0

        await eventually(cleared, SEEN_S, "the applied pass gone from the gauge")
