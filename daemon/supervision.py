"""Supervised background loops: a crash is logged, counted and restarted with backoff.

The daemon's long-lived loops (tick, ingesters, actor, reconciler, watch checker,
thumbnails, systemd watchdog) must never die silently while /readyz still says ready
(issue 10 §4). Each runs under one `Supervisor`:

- an exception is logged with its traceback (`loop_crashed`) and counted in
  `videolib_daemon_loop_crashes_total{loop=...}`; so is a loop that returns while it
  was not registered as allowed to end (`may_end`): a loop that is gone does no work
  either, whether it raised or returned;
- the loop is started again after a delay that doubles per recent crash;
- a loop that crashed `max_crashes` times within `window_s` is given up: the supervisor
  calls `on_give_up`, and the daemon stops answering ready, stops the systemd watchdog
  ping and exits non-zero, so that systemd (`Restart=on-failure`) starts a fresh process.

The restart decision is pure (`decide`, tested with an injected clock); the supervisor
carries it out.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from videolib.shared.logging import get_logger

log = get_logger(__name__)

LoopFactory = Callable[[], Coroutine[Any, Any, None]]

#: How long `stop` waits for the loops to end after cancelling them.
STOP_TIMEOUT_S = 5.0


def cancelling() -> bool:
    """Whether the current task is being cancelled.

    A loop's catch-all must re-raise then: a cancellation that hits a database call can
    surface as another error (SQLAlchemy's "rollback() fully" after an interrupted
    transaction), and swallowing it would leave the loop running after a stop.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How a crashed loop is restarted, and when it counts as failing for good."""

    first_delay_s: float = 1.0
    max_delay_s: float = 60.0
    #: This many crashes of one loop within `window_s` seconds: give up (exit, restart).
    max_crashes: int = 5
    window_s: float = 600.0


@dataclass(frozen=True, slots=True)
class Restart:
    delay_s: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    crashes: int  # within the window


def decide(crashes: Sequence[float], now: float, policy: RestartPolicy) -> Restart | GiveUp:
    """What to do after a crash, given the times of this loop's crashes (this one included).

    Only crashes within the window count, so a loop that fails once a day is always
    restarted after the first delay, and one that fails in a burst is given up.
    """
    recent = sum(1 for at in crashes if now - at < policy.window_s)
    if recent >= policy.max_crashes:
        return GiveUp(recent)
    delay = policy.first_delay_s * 2 ** max(recent - 1, 0)
    return Restart(min(delay, policy.max_delay_s))


class LoopEndedError(Exception):
    """A loop returned although nothing allowed it to end: a crash without an exception."""

    def __init__(self, loop: str) -> None:
        super().__init__(f"loop {loop} returned without being stopped")


class LoopFailedError(Exception):
    """A background loop kept crashing; the daemon stops so that it is restarted."""

    def __init__(self, loop: str, crashes: int, error: BaseException) -> None:
        super().__init__(f"loop {loop} crashed {crashes} times, last: {error!r}")
        self.loop, self.crashes, self.error = loop, crashes, error


class Supervisor:
    """Runs named loops, restarts them after a crash, and gives up on one that keeps failing."""

    def __init__(
        self,
        crashes: Counter,
        *,
        policy: RestartPolicy | None = None,
        on_give_up: Callable[[LoopFailedError], None] = lambda _failure: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._crashes, self._on_give_up, self._clock = crashes, on_give_up, clock
        self.policy = policy or RestartPolicy()
        self._tasks: set[asyncio.Task[None]] = set()
        self._history: dict[str, deque[float]] = {}
        #: Set once a loop was given up; the daemon is then not ready.
        self.failure: LoopFailedError | None = None

    def start(
        self, name: str, factory: LoopFactory, *, may_end: Callable[[], bool] = lambda: False
    ) -> None:
        """Run `factory()` as loop `name`, again after each crash, until cancelled.

        A return counts as a crash unless `may_end()` says the loop is allowed to end
        then (the systemd watchdog off systemd; an ingester once the daemon stops).
        """
        self._crashes.labels(name)  # the series exists at 0 before any crash
        task = asyncio.create_task(self._supervise(name, factory, may_end), name=f"loop:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(
        self, name: str, factory: LoopFactory, may_end: Callable[[], bool]
    ) -> None:
        history = self._history.setdefault(name, deque(maxlen=max(self.policy.max_crashes, 1)))
        while True:
            try:
                await factory()
                if not may_end():
                    raise LoopEndedError(name)
                log.debug("loop_finished", loop=name)
                return
            except Exception as error:  # CancelledError is a BaseException: it propagates
                if cancelling():
                    raise asyncio.CancelledError from error
                now = self._clock()
                history.append(now)
                self._crashes.labels(name).inc()
                decision = decide(history, now, self.policy)
                log.exception(
                    "loop_crashed",
                    loop=name,
                    crashes=len(history),
                    restart_in_s=getattr(decision, "delay_s", None),
                )
                if isinstance(decision, GiveUp):
                    self._give_up(LoopFailedError(name, decision.crashes, error))
                    return
            await asyncio.sleep(decision.delay_s)

    def _give_up(self, failure: LoopFailedError) -> None:
        log.error(
            "loop_failed_repeatedly",
            loop=failure.loop,
            crashes=failure.crashes,
            error=repr(failure.error),
            then="exit",
        )
        if self.failure is None:
            self.failure = failure
            self._on_give_up(failure)

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Cancel every loop and wait for them to end, at most `timeout_s`."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:  # it swallowed the cancellation: say so, do not hang the exit
            log.error("loop_ignored_stop", loop=task.get_name(), waited_s=timeout_s)
