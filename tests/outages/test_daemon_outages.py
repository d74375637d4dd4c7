"""The daemon through a real PostgreSQL restart: readiness follows, nothing dropped is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.engine import URL

from tests.daemon.harness import eventually, fast, rows, running_service
from tests.media import make_video
from tests.outages.conftest import OutageServer, dsn_of
from videolib.shared.config import Config, DatabaseConfig, LibraryConfig, ProbeConfig, StateConfig
from videolib.shared.db.engine import open_engine
from videolib.shared.library_marker import new_library_id, write_marker
from videolib.shared.media.names import DIRECTORY_TYPES


async def test_daemon_recovers_from_a_restart_and_ingests_what_was_dropped_meanwhile(
    outage_server: OutageServer, outage_url: URL, tmp_path: Path
) -> None:
    root = tmp_path / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True)
    write_marker(root, new_library_id())  # mounted: else the daemon is not ready (issue 11)
    config = Config(
        library=LibraryConfig(root=root),
        database=DatabaseConfig(url=dsn_of(outage_url), connect_timeout_seconds=2),
        state=StateConfig(dir=tmp_path / "state"),
        probe=ProbeConfig(workers=1, timeout_ms=20000),
    )
    source = tmp_path / "source"
    source.mkdir()
    clips = [make_video(source / f"{i}.mp4", seconds=0.5) for i in range(4)]
    async with running_service(fast(config), outage_url) as service:
        service.health.first_delay_s, service.health.max_delay_s = 0.1, 0.5
        shutil.copyfile(clips[0], root / "videos" / clips[0].name)
        async with open_engine(outage_url, pool_size=1) as engine:

            async def recorded(count: int) -> bool:
                try:
                    return len([v for v in await rows(engine) if v.file_hash]) >= count
                except Exception:
                    return False  # the server is away: not yet

            await eventually(lambda: recorded(1), 20, "the first file")
            outage_server.stop()
            try:
                for clip in clips[1:]:
                    shutil.copyfile(clip, root / "videos" / clip.name)

                async def not_ready() -> bool:
                    return not service.readiness()[0]

                await eventually(not_ready, 20, "the daemon to see the database away")
            finally:
                outage_server.start()

            async def ready() -> bool:
                return service.readiness()[0]

            await eventually(ready, 30, "readiness after the restart")
            await eventually(lambda: recorded(4), 60, "the files dropped during the outage")
            found = {v.filename for v in await rows(engine)}
    assert found == {clip.name for clip in clips}
