"""Running the real daemon pipeline in-process for tests, and looking at what it recorded."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.daemon.scheduler import Scheduler
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.db.records import Video
from videolib.shared.db.schema import videos
from videolib.shared.runtime import examiner_pool

T = TypeVar("T")

#: Short timings so that tests take seconds (the defaults are 2 s, 0.3 s and 10 s).
FAST = {
    "settle_seconds": 0.3,
    "quiet_seconds": 0.05,
    "metrics_port": 0,
    "poll_interval_seconds": 0.2,
}


def fast(config: Config, **changes: object) -> Config:
    return config.replace("daemon", **{**FAST, **changes})


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 10.0, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last {value!r}")
        await asyncio.sleep(0.05)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def rows(engine: AsyncEngine) -> list[Video]:
    async with engine.connect() as connection:
        result = await connection.execute(select(videos).order_by(videos.c.path))
    return [Video.from_row(row) for row in result]


async def row(engine: AsyncEngine, path: str) -> Video | None:
    return next((v for v in await rows(engine) if v.path == path), None)


@contextlib.asynccontextmanager
async def running_service(
    config: Config, database_url: URL, **options: Any
) -> AsyncIterator[Scheduler]:
    """A Scheduler with its own engine and pool, started and, on exit, stopped cleanly.

    `options` go to the Scheduler (notifier, restarts).
    """
    async with open_engine(database_url, pool_size=8) as engine, examiner_pool(config) as pool:
        service = Scheduler(config, engine, pool, **options)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))

        async def reconciled_once() -> bool:
            if task.done():
                task.result()
            return service.reconciled >= 1

        try:
            await eventually(reconciled_once, 30, "the first reconciliation")
            yield service
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def listed(engine: AsyncEngine, path: str, timeout: float = 5.0) -> Video:
    """The record of a path, once there is one."""
    found = await eventually(lambda: row(engine, path), timeout, f"a record of {path}")
    assert found is not None
    return found
