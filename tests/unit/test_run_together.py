"""`run_together`, the scan's task group: a failure ends it as itself, and leaves no
cancellation behind on the caller's task (issue 10 items 3 and 4).

On Python 3.11 a TaskGroup whose child fails while the parent waits in `__aexit__`
leaves the parent's `cancelling()` at 1 (CPython gh-116720). The daemon's loops read
that as a stop: the reconciler ended silently after a database outage mid-pass.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest
from prometheus_client import CollectorRegistry, Counter

from videolib.daemon.supervision import RestartPolicy, Supervisor, cancelling
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.ingest import run_together


async def fail_now() -> None:
    raise DatabaseUnavailableError("database unavailable: cut")


async def wait_for_ever(started: asyncio.Event) -> None:
    started.set()
    await asyncio.Event().wait()


async def test_a_failure_is_raised_as_itself_and_leaves_the_caller_uncancelled() -> None:
    started = asyncio.Event()
    with pytest.raises(DatabaseUnavailableError, match="cut"):
        await run_together(wait_for_ever(started), fail_now())
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    assert not cancelling()


async def test_a_supervised_loop_whose_scan_failed_is_restarted_not_ended() -> None:
    """The reconciler's shape: catch the database error unless being stopped."""
    crashes = Counter("crashes", "test", ["loop"], registry=CollectorRegistry())
    supervisor = Supervisor(crashes, policy=RestartPolicy(first_delay_s=0.0, max_crashes=99))
    passes: list[bool] = []  # cancelling() seen after each failed pass
    third = asyncio.Event()

    async def reconciler() -> None:
        try:
            await run_together(wait_for_ever(asyncio.Event()), fail_now())
        except DatabaseUnavailableError:
            passes.append(cancelling())
            if cancelling():
                raise
            if len(passes) >= 3:
                third.set()
            raise  # a crash each pass: the supervisor restarts the loop

    supervisor.start("reconciler", reconciler)
    try:
        await asyncio.wait_for(third.wait(), 30)
    finally:
        await supervisor.stop()
    assert passes[:3] == [False, False, False]
    assert crashes.labels("reconciler")._value.get() >= 3


async def test_cancelling_the_caller_cancels_the_jobs_and_waits_for_them() -> None:
    started = asyncio.Event()
    ended: list[str] = []

    async def job(name: str) -> None:
        try:
            await wait_for_ever(started)
        finally:
            ended.append(name)

    running = asyncio.create_task(run_together(job("a"), job("b")))
    await asyncio.wait_for(started.wait(), 30)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert sorted(ended) == ["a", "b"]


async def test_a_group_cancelled_before_it_started_leaves_no_unawaited_job() -> None:
    started = asyncio.Event()
    jobs = (wait_for_ever(started), wait_for_ever(started))
    running = asyncio.create_task(run_together(*jobs))
    await asyncio.sleep(0)  # run_together's first step: the group's task is made, not run
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not started.is_set()
    assert all(inspect.getcoroutinestate(job) == inspect.CORO_CLOSED for job in jobs)
