"""Is the database there? One state, one log line per change, exponential backoff.

While it is away, work waits on `available` (paths stay pending, coalesced); the probe
retries with capped exponential backoff and, when the database answers again, the
service catches up (issue 4 §8).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.logging import get_logger

from .metrics import DaemonMetrics

log = get_logger(__name__)


def backoff_delays(first_s: float, cap_s: float, factor: float = 2.0) -> Iterator[float]:
    """first, first*2, first*4, ... capped at `cap_s` (pure; tested)."""
    delay = first_s
    while True:
        yield min(delay, cap_s)
        delay = min(delay * factor, cap_s)


class DatabaseHealth:
    """Tracks database availability and probes it back with backoff when it is lost."""

    def __init__(
        self,
        ping: Callable[[], Awaitable[None]],
        metrics: DaemonMetrics,
        *,
        on_recovered: Callable[[], None] = lambda: None,
        first_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        probe_timeout_s: float = 5.0,
    ) -> None:
        self._ping, self._metrics, self._on_recovered = ping, metrics, on_recovered
        self.first_delay_s, self.max_delay_s = first_delay_s, max_delay_s
        self.probe_timeout_s = probe_timeout_s
        self.available = asyncio.Event()
        self.available.set()
        self.reason = ""
        self._probe: asyncio.Task[None] | None = None
        metrics.db_up.set(1)

    @property
    def up(self) -> bool:
        return self.available.is_set()

    async def wait(self) -> None:
        await self.available.wait()

    def failed(self, error: BaseException) -> None:
        """Called by whoever met DatabaseUnavailableError; logs only on the change."""
        self._metrics.db_errors.inc()
        if not self.up:
            return
        self.available.clear()
        self.reason = str(error)
        self._metrics.db_up.set(0)
        log.warning("database_unavailable", error=self.reason)
        self._probe = asyncio.create_task(self._probe_until_back())

    async def _probe_until_back(self) -> None:
        """Ping with backoff until the database answers. Never dies of an error: one it does
        not expect (a driver error the repository did not translate, a bug) is logged and
        the probe goes on, since nothing else would ever set `available` again."""
        for delay in backoff_delays(self.first_delay_s, self.max_delay_s):
            await asyncio.sleep(delay)
            try:
                # A frozen server must not hold the probe for the command timeout.
                async with asyncio.timeout(self.probe_timeout_s):
                    await self._ping()
            except DatabaseUnavailableError as error:
                self._metrics.db_errors.inc()
                self.reason = str(error)
                continue
            except TimeoutError:
                self._metrics.db_errors.inc()
                self.reason = f"no answer within {self.probe_timeout_s:g} s"
                continue
            except Exception as error:
                self._metrics.db_errors.inc()
                self.reason = f"{type(error).__name__}: {error}"
                log.exception("database_probe_failed", error=self.reason)
                continue
            break
        self.reason = ""
        self._metrics.db_up.set(1)
        log.info("database_available")
        self.available.set()
        try:
            self._on_recovered()
        except Exception:
            log.exception("database_recovery_hook_failed")

    async def close(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
