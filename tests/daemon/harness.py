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

from videolib.daemon.events import FsEvent, Kind
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
    check: Callable[[], Awaitable[T | None]], timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll `check` until it returns something truthy, within `timeout` seconds; that.

    Bounds are generous: they only cost time when a test fails, and a loaded 2-core
    machine can take seconds for what takes milliseconds alone.
    """
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


class ObservedScheduler(Scheduler):
    """The real Scheduler, keeping every event it received so that tests can wait on them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[FsEvent] = []

    def on_event(self, event: FsEvent) -> None:
        self.received.append(event)
        super().on_event(event)

    def has_received(self, kind: Kind, path: str) -> bool:
        """An event of `kind` about `path` (as its source or, for a move, its target) came."""
        return any(e.kind is kind and path in (e.path, e.dest) for e in self.received)

    def is_idle(self) -> bool:
        """Nothing received is still pending: settling, ready, being ingested, or an action."""
        in_flight = self.metrics.registry.get_sample_value("videolib_daemon_in_flight")
        return not (len(self.debouncer) or self.ready or self.actions or in_flight)


async def arrived(
    service: ObservedScheduler, *expected: tuple[Kind, str], timeout: float = 30.0
) -> None:
    """Wait until every expected event has come to the service (handled or not)."""

    async def came() -> bool:
        return all(service.has_received(*e) for e in expected)

    await eventually(came, timeout, f"the events {expected}")


async def settled(
    service: ObservedScheduler, *expected: tuple[Kind, str], timeout: float = 30.0
) -> None:
    """Wait until every expected event has come and everything it caused has been done.

    What a test checks afterwards is then the daemon's answer to those events, not a
    snapshot taken before it got to them (a sleep on a loaded machine).
    """

    async def done() -> bool:
        return all(service.has_received(*e) for e in expected) and service.is_idle()

    await eventually(done, timeout, f"the events {expected} to be handled")


@contextlib.asynccontextmanager
async def running_service(
    config: Config,
    database_url: URL,
    *,
    on_watching: Callable[[], None] | None = None,
    **options: Any,
) -> AsyncIterator[ObservedScheduler]:
    """A Scheduler with its own engine and pool, started and, on exit, stopped cleanly;
    yielded once it finished a first pass as leader, or stands by.

    `on_watching` is called as soon as its watches are in place (before the first pass
    ends); `options` go to the Scheduler (notifier, restarts).
    """
    async with open_engine(database_url, pool_size=8) as engine, examiner_pool(config) as pool:
        service = ObservedScheduler(config, engine, pool, **options)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))

        async def reconciled_once() -> bool:
            if task.done():
                task.result()
            # A standby never reconciles: another daemon of the test leads (issue 13 §4).
            return service.reconciled >= 1 or (service.serving and not service.leadership.leading)

        async def watching() -> bool:
            if task.done():
                task.result()
            return service.watching

        try:
            if on_watching is not None:
                await eventually(watching, 30, "the watches")
                on_watching()
            await eventually(reconciled_once, 30, "the first reconciliation")
            yield service
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def listed(engine: AsyncEngine, path: str, timeout: float = 30.0) -> Video:
    """The record of a path, once there is one."""
    return await eventually(lambda: row(engine, path), timeout, f"a record of {path}")
