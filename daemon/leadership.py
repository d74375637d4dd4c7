"""Leader or hot standby: take the leader lock when it is free, keep checking it, let it go.

A standby has its watches set up and answers /readyz, but writes nothing; when the lock
comes free it takes it, and the scheduler then reconciles first (catching up what changed
while it stood by) and runs as leader. A leader that cannot confirm its lock within the
check's time limit, or whose write was fenced off, stops writing at once and stands by
(the process stays: no restart is needed to stand by, and systemd has nothing to do).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Awaitable, Callable

from videolib.shared.config import LeaderConfig
from videolib.shared.db.repository.leader import Fence, LeaderLock, current_leader
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.logging import get_logger

from .metrics import DaemonMetrics

log = get_logger(__name__)


class Role(enum.Enum):
    STANDBY = "standby"
    LEADER = "leader"


def check_timeout_s(settings: LeaderConfig) -> float:
    """How long a leader waits for its lock check to answer before it stands by: within
    one check interval, so it gives up writing well before the lease lets another lead."""
    return max(0.5, min(settings.check_seconds, settings.lease_seconds / 3))


class Leadership:
    """The daemon's role, and the loop that changes it (`run`, a supervised loop)."""

    def __init__(
        self,
        lock: LeaderLock,
        fence: Fence,
        settings: LeaderConfig,
        metrics: DaemonMetrics,
        *,
        on_lead: Callable[[], Awaitable[None]],
        on_stand_by: Callable[[], Awaitable[None]],
        on_unavailable: Callable[[DatabaseUnavailableError], None] = lambda _error: None,
    ) -> None:
        self.lock, self.fence, self.settings, self.metrics = lock, fence, settings, metrics
        self._on_lead, self._on_stand_by = on_lead, on_stand_by
        self._on_unavailable = on_unavailable
        self.role = Role.STANDBY
        self.since = time.monotonic()
        self.takeovers = 0
        #: Who leads, as the last takeover recorded it (a standby's /readyz says so).
        self.leader_name: str | None = None
        self._look_now = asyncio.Event()
        fence.on_fenced = self._look_now.set  # a fenced write: look at once, not next check
        metrics.leader.set(0)

    @property
    def leading(self) -> bool:
        return self.role is Role.LEADER

    async def run(self, first_look: asyncio.Event | None = None) -> None:
        """Check or try the lock every leader.check_seconds; `first_look` is set once the
        role is known (the daemon is ready then)."""
        while True:
            if self.leading:
                if self.fence.epoch is None:
                    await self._stand_by("a write was fenced off: another daemon leads")
                elif not await self.lock.check(check_timeout_s(self.settings)):
                    await self._stand_by("the leader lock's session was lost")
            else:
                await self._try_to_lead()
            if first_look is not None:
                first_look.set()
            self._look_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._look_now.wait(), self.settings.check_seconds)

    async def _try_to_lead(self) -> None:
        try:
            epoch = await self.lock.try_take()
        except DatabaseUnavailableError as error:
            self._on_unavailable(error)  # /readyz says so, as for a leader's failed write
            return  # tried again next check
        if epoch is None:
            await self._note_leader()
            return
        self.fence.epoch = epoch
        self.leader_name = self.lock.name
        self.role, self.since = Role.LEADER, time.monotonic()
        self.takeovers += 1
        self.metrics.leader.set(1)
        self.metrics.takeovers.inc()
        log.info("leader_elected", epoch=epoch, name=self.lock.name)
        await self._on_lead()

    async def _note_leader(self) -> None:
        # On an outage the name is kept as it was; the health probe reports the outage.
        with contextlib.suppress(DatabaseUnavailableError):
            self.leader_name = (await current_leader(self.lock.engine)).holder

    async def _stand_by(self, reason: str) -> None:
        self.fence.epoch = None  # first: no write commits from here on
        self.role, self.since = Role.STANDBY, time.monotonic()
        self.metrics.leader.set(0)
        log.warning("leader_lost", reason=reason, then="stand by")
        await self.lock.release()
        await self._on_stand_by()

    async def close(self) -> None:
        """At a stop: let the lock go so that a standby takes over at once."""
        self.fence.epoch = None
        self.metrics.leader.set(0)
        await self.lock.release()
