"""The integrity loop through a real PostgreSQL restart: it waits, resumes, still flags."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL

from tests.daemon.harness import eventually, fast, rows, running_service, sha256
from tests.daemon.test_integrity import NAMES, flip_byte_keeping_mtime, make_clips
from tests.outages.conftest import OutageServer, dsn_of
from videolib.shared.config import Config, DatabaseConfig, LibraryConfig, ProbeConfig, StateConfig
from videolib.shared.db.engine import open_engine
from videolib.shared.db.schema import integrity_findings
from videolib.shared.media.names import DIRECTORY_TYPES


async def test_integrity_waits_out_a_restart_and_flags_afterwards(
    outage_server: OutageServer, outage_url: URL, tmp_path: Path
) -> None:
    root = tmp_path / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True)
    make_clips(root)
    config = Config(
        library=LibraryConfig(root=root),
        database=DatabaseConfig(url=dsn_of(outage_url), connect_timeout_seconds=2),
        state=StateConfig(dir=tmp_path / "state"),
        probe=ProbeConfig(workers=1, timeout_ms=20000),
    )
    # Slow enough that the outage falls in the middle of a cycle.
    config = fast(config).replace("integrity", rate_mb_per_second=0.2, cycle_interval_hours=0.0)
    async with running_service(config, outage_url) as service:
        service.health.first_delay_s, service.health.max_delay_s = 0.1, 0.5
        registry = service.metrics.registry

        async def reading() -> bool:
            read = registry.get_sample_value("videolib_daemon_integrity_verified_bytes_total")
            return bool(read)

        await eventually(reading, 60, "verification to start")
        outage_server.stop()
        try:

            async def not_ready() -> bool:
                return not service.readiness()[0]

            await eventually(not_ready, 30, "the daemon to see the database away")
            target = root / "videos/c.mp4"
            flip_byte_keeping_mtime(target, target.stat().st_size // 2)  # rots meanwhile
        finally:
            outage_server.start()
        async with open_engine(outage_url, pool_size=1) as engine:

            async def flagged() -> list[object]:
                async with engine.connect() as connection:
                    return list(await connection.execute(select(integrity_findings)))

            [finding] = await eventually(flagged, 120, "the finding after the restart")
            assert finding._mapping["path"] == "videos/c.mp4"  # type: ignore[attr-defined]
            assert finding._mapping["observed_hash"] == sha256(target)  # type: ignore[attr-defined]
            recorded = {v.path: v for v in await rows(engine)}
        # The loop waited the outage out instead of crashing (a crash counts, 5 stop the
        # daemon), and no record was changed or lost.
        crashes = registry.get_sample_value(
            "videolib_daemon_loop_crashes_total", {"loop": "integrity"}
        )
        assert crashes == 0
        assert set(recorded) == set(NAMES)
        assert all(v.is_valid for v in recorded.values())
        assert recorded["videos/c.mp4"].file_hash != sha256(target)  # never overwritten
