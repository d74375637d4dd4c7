"""A media job in a worker pool whose lost worker becomes the item's result, not an error.

What the thumbnail maker (shared/thumbnails.py) and the fingerprinter
(shared/fingerprints.py) share: they own a WorkerPool (shared/media/workers.py), turn a
worker that overran its time limit or died into a failure result for that one video (the
reason in words, kept with the video), and stop the pool when closed or left.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

from videolib.shared.media.workers import CLOSE_GRACE_S, WorkerCrashed, WorkerPool, WorkerTimedOut

R = TypeVar("R")


class PooledJobs(Generic[R]):
    """Runs items in `pool`; `timed_out(limit_s)` and `crashed(status)` make the result of
    an item whose worker was lost."""

    def __init__(
        self,
        pool: WorkerPool[R],
        *,
        timed_out: Callable[[float], R],
        crashed: Callable[[str], R],
    ) -> None:
        self._pool, self._timed_out, self._crashed = pool, timed_out, crashed

    async def run_item(self, item: object) -> R:
        """The job's result for `item`; a lost worker's result when it is lost on it."""
        try:
            return await self._pool.run(item)
        except WorkerTimedOut as timeout:
            return self._timed_out(timeout.time_limit_s)
        except WorkerCrashed as crash:
            return self._crashed(crash.status)

    async def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """Stop the workers: an item in progress is killed, idle workers get `grace_s`."""
        await self._pool.close(grace_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
