"""The restart policy of the daemon's background loops: pure, with the clock injected."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter
from structlog.testing import capture_logs

from videolib.daemon.supervision import (
    GiveUp,
    LoopEndedError,
    LoopFailedError,
    Restart,
    RestartPolicy,
    Supervisor,
    decide,
)

POLICY = RestartPolicy(first_delay_s=1.0, max_delay_s=8.0, max_crashes=5, window_s=100.0)


@pytest.mark.parametrize(
    ("crashes", "now", "expected"),
    [
        ([10.0], 10.0, Restart(1.0)),  # first crash: the first delay
        ([10.0, 11.0], 11.0, Restart(2.0)),  # doubles per recent crash
        ([10.0, 11.0, 13.0], 13.0, Restart(4.0)),
        ([10.0, 11.0, 13.0, 17.0], 17.0, Restart(8.0)),
        ([0.0, 1.0, 2.0, 3.0], 300.0, Restart(1.0)),  # old crashes are forgotten
        ([10.0, 11.0, 13.0, 17.0, 25.0], 25.0, GiveUp(5)),  # 5 within the window
        ([0.0, 11.0, 13.0, 17.0, 105.0], 105.0, Restart(8.0)),  # 0.0 fell out: 4 recent
        ([0.0, 40.0, 80.0, 99.0, 99.5], 99.5, GiveUp(5)),  # just within 100 s
    ],
)
def test_decide(crashes: list[float], now: float, expected: Restart | GiveUp) -> None:
    assert decide(crashes, now, POLICY) == expected


def test_delay_is_capped() -> None:
    policy = RestartPolicy(first_delay_s=1.0, max_delay_s=3.0, max_crashes=100, window_s=1e9)
    assert decide([float(i) for i in range(20)], 20.0, policy) == Restart(3.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0  # each crash a second after the last
        return self.now


async def test_a_crashing_loop_is_restarted_then_given_up() -> None:
    crashes = Counter("crashes", "test", ["loop"], registry=CollectorRegistry())
    failures: list[LoopFailedError] = []
    gave_up = asyncio.Event()

    def on_give_up(failure: LoopFailedError) -> None:
        failures.append(failure)
        gave_up.set()

    supervisor = Supervisor(
        crashes,
        policy=RestartPolicy(first_delay_s=0.001, max_delay_s=0.01, max_crashes=3, window_s=60),
        on_give_up=on_give_up,
        clock=FakeClock(),
    )
    runs = 0

    async def broken() -> None:
        nonlocal runs
        runs += 1
        raise ValueError(f"run {runs}")

    with capture_logs() as logs:
        supervisor.start("broken", broken)
        await asyncio.wait_for(gave_up.wait(), 10)
    await supervisor.stop()
    assert runs == 3
    assert crashes.labels("broken")._value.get() == 3
    assert [f.loop for f in failures] == ["broken"]
    assert supervisor.failure is failures[0]
    assert "run 3" in str(supervisor.failure)
    crashed = [e for e in logs if e["event"] == "loop_crashed"]
    assert [e["loop"] for e in crashed] == ["broken"] * 3
    assert all(e["exc_info"] is True and e["log_level"] == "error" for e in crashed)
    assert any(e["event"] == "loop_failed_repeatedly" for e in logs)


async def test_cancellation_is_not_a_crash() -> None:
    crashes = Counter("crashes", "test", ["loop"], registry=CollectorRegistry())
    supervisor = Supervisor(crashes)
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    supervisor.start("forever", forever)
    await asyncio.wait_for(started.wait(), 10)
    await supervisor.stop()
    assert crashes.labels("forever")._value.get() == 0
    assert supervisor.failure is None


async def test_an_error_raised_by_a_cancellation_stops_the_loop_not_restarts_it() -> None:
    # SQLAlchemy can turn a cancellation inside a transaction into another error.
    crashes = Counter("crashes", "test", ["loop"], registry=CollectorRegistry())
    supervisor = Supervisor(crashes, policy=RestartPolicy(first_delay_s=0.001))
    started = asyncio.Event()
    runs = 0

    async def converts_cancellation() -> None:
        nonlocal runs
        runs += 1
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("Please rollback() fully") from None

    supervisor.start("db", converts_cancellation)
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.wait_for(supervisor.stop(), 10)
    assert runs == 1
    assert crashes.labels("db")._value.get() == 0


async def test_stop_is_bounded_when_a_loop_swallows_its_cancellation() -> None:
    crashes = Counter("crashes", "test", ["loop"], registry=CollectorRegistry())
    supervisor = Supervisor(crashes)
    started, release = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallowed: what a careless catch-all does

    supervisor.start("stubborn", stubborn)
    await asyncio.wait_for(started.wait(), 10)
    with capture_logs() as logs:
        await asyncio.wait_for(supervisor.stop(timeout_s=0.1), 10)
    assert [e["event"] for e in logs] == ["loop_ignored_stop"]
    release.set()


async def test_a_loop_that_returns_unexpectedly_is_a_crash_restarted_then_given_up() -> None:
    crashes = Counter("crashes", "test", ["loop"], registry=CollectorRegistry())
    gave_up = asyncio.Event()
    supervisor = Supervisor(
        crashes,
        policy=RestartPolicy(first_delay_s=0.001, max_delay_s=0.01, max_crashes=3, window_s=60),
        on_give_up=lambda _failure: gave_up.set(),
        clock=FakeClock(),
    )
    runs = 0

    async def returns() -> None:
        nonlocal runs
        runs += 1

    with capture_logs() as logs:
        supervisor.start("quits", returns)
        await asyncio.wait_for(gave_up.wait(), 10)
    await supervisor.stop()
    assert runs == 3
    assert crashes.labels("quits")._value.get() == 3
    assert supervisor.failure is not None and supervisor.failure.loop == "quits"
    assert isinstance(supervisor.failure.error, LoopEndedError)
    assert "returned without being stopped" in str(supervisor.failure)
    crashed = [e for e in logs if e["event"] == "loop_crashed"]
    assert [e["loop"] for e in crashed] == ["quits"] * 3


@pytest.mark.parametrize("allowed", [True, False])
async def test_a_loop_allowed_to_end_ends_without_a_crash(allowed: bool) -> None:
    crashes = Counter("crashes", "test", ["loop"], registry=CollectorRegistry())
    supervisor = Supervisor(crashes, policy=RestartPolicy(first_delay_s=60.0))
    ended = asyncio.Event()

    async def returns() -> None:
        ended.set()

    supervisor.start("ends", returns, may_end=lambda: allowed)
    await asyncio.wait_for(ended.wait(), 10)
    for _ in range(100):  # let the supervisor see the return (no timing: a bounded spin)
        if crashes.labels("ends")._value.get() or not supervisor._tasks:
            break
        await asyncio.sleep(0.01)
    assert crashes.labels("ends")._value.get() == (0 if allowed else 1)
    assert (not supervisor._tasks) is allowed  # ended for good, or waiting to restart
    await supervisor.stop()
