"""The reconciler cut off from the database in the middle of a pass (issue 10 item 3).

A writer that failed while the readers waited on its full queue left the pass stalled
for ever, so the daemon never reconciled again. Now the pass ends with the error, the
health probe waits for the database, and the next pass records the rest.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from tests.daemon.harness import eventually, fast
from tests.media import make_video
from tests.stoppable_postgres import StoppablePostgres, stoppable_postgres
from videolib.daemon.scheduler import Scheduler
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.runtime import examiner_pool

FILES = 2000  # more than the writer's queue (1,000) and a batch (500) past the cut


@pytest.fixture
def server() -> Iterator[StoppablePostgres]:
    with stoppable_postgres() as running:
        yield running


async def count_rows(server: StoppablePostgres) -> int:
    """Rows now, through a connection of its own (a pooled one would not outlive a stop)."""
    connection = await asyncpg.connect(server.dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM videos"))
    finally:
        await connection.close()


def workers_cpu_s() -> float:
    """CPU time of this process's children (the examiner workers): grows while they read."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def test_reconciler_cut_off_mid_pass_recovers_and_reconciles_again(
    server: StoppablePostgres, config: Config, library_root: Path, tmp_path: Path
) -> None:
    original = make_video(tmp_path / "one.mp4", seconds=0.2)
    for index in range(FILES):
        shutil.copyfile(original, library_root / "videos" / f"{index:05d}.mp4")
    async with open_engine(server.url, pool_size=8) as engine, examiner_pool(config) as pool:
        service = Scheduler(fast(config), engine, pool)
        service.health.first_delay_s, service.health.max_delay_s = 0.1, 0.5
        stop = asyncio.Event()
        running = asyncio.create_task(service.run(stop))
        try:

            async def some_written() -> bool:
                assert not running.done() and service.reconciled == 0
                return await count_rows(server) >= 50

            await eventually(some_written, 120, "the first pass's first rows")
            # Freeze, so the writer waits while the readers fill its queue and stop on
            # it; once the workers are idle, stop the server under the waiting writer.
            server.freeze()
            seen = -1.0
            while workers_cpu_s() != seen:
                seen = workers_cpu_s()
                await asyncio.sleep(1.0)
            server.stop()

            async def not_up() -> bool:
                return not service.health.up

            await eventually(not_up, 60, "the daemon to see the database gone")
            assert service.reconciled == 0
            server.start()

            async def all_recorded() -> bool:
                assert not running.done()
                return service.reconciled >= 1 and await count_rows(server) == FILES

            await eventually(all_recorded, 180, "a pass after the database came back")
            ready, why = service.readiness()
            assert ready, why
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
