"""The read budget of one process: `integrity.rate_mb_per_second` over all its reads.

Every verification job of a worker process paces through the one Pacer of that process
(shared/jobs/resources.py), so `rate_mb_per_second` is per worker process, whatever its
concurrency: N worker processes read at most N times the rate in all. That is the point of
sharing the work (N hosts, N sets of disks, N times faster); a NAS that several workers
read gets their sum, and the rate is set for that (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from .budget import next_read_at

Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Waits after each read until the next is within the rate (budget.next_read_at)."""

    def __init__(
        self,
        rate_bytes_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate_bytes_s = rate_bytes_s
        self._monotonic, self._sleep = monotonic, sleep
        self._scheduled: float | None = None

    async def pace(self, read_bytes: int) -> None:
        """After a read of `read_bytes`: wait until the next read is within budget.

        Concurrent callers share one schedule: each read moves it by its own cost, so two
        jobs of one process read at half the rate each, the rate in all."""
        now = self._monotonic()
        previous = now if self._scheduled is None else self._scheduled
        self._scheduled = next_read_at(previous, now, read_bytes, self.rate_bytes_s)
        if self._scheduled > now:
            await self._sleep(self._scheduled - now)
