"""Scan locks on a real PostgreSQL: held by an idle session, never one left in a transaction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually
from videolib.shared.db.repository import DirectoryLocks

LockHolder = Callable[[DirectoryLocks], contextlib.AbstractAsyncContextManager[object]]


def _free_locks(locks: DirectoryLocks) -> contextlib.AbstractAsyncContextManager[object]:
    return locks.free_directory_locks(["videos", "inbox-file:a/b.mp4"])


def _directory_lock(locks: DirectoryLocks) -> contextlib.AbstractAsyncContextManager[object]:
    return locks.directory_lock(["videos"], wait=False)


async def _states_of_advisory_lock_holders(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT DISTINCT a.state FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted"
            )
        )
        return sorted(result.scalars())


@pytest.mark.parametrize("hold", [_free_locks, _directory_lock], ids=["free", "directory"])
async def test_a_held_lock_sits_on_an_idle_session_not_idle_in_transaction(
    engine: AsyncEngine, hold: LockHolder
) -> None:
    # A server's idle_in_transaction_session_timeout kills "idle in transaction" sessions
    # (and their locks with them); a lock held for a whole pass must not be on one.
    async with hold(DirectoryLocks(engine)) as taken:
        assert taken  # something was locked: the check below is about a real holder
        assert await _states_of_advisory_lock_holders(engine) == ["idle"]
    assert await _states_of_advisory_lock_holders(engine) == []


async def test_a_waiting_lock_holds_nothing_meanwhile_and_is_taken_once_free(
    engine: AsyncEngine,
) -> None:
    locks = DirectoryLocks(engine)
    async with locks.directory_lock(["gifs"], wait=False) as held:
        assert held
        got = asyncio.Event()

        async def waiter() -> None:
            async with locks.directory_lock(["gifs", "videos"]) as locked:
                assert locked
                got.set()

        task = asyncio.create_task(waiter())

        async def blocked_in_a_try_loop() -> bool:
            # Its session's last statement was a try, as the holder's was (2 sessions).
            async with engine.connect() as connection:
                waiting = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE query LIKE '%pg_try_advisory_lock%' AND pid <> pg_backend_pid()"
                    )
                )
            return bool(waiting == 2)

        await eventually(blocked_in_a_try_loop, what="the waiter's first try")
        # It holds nothing meanwhile: `videos` stays free for others.
        async with locks.directory_lock(["videos"], wait=False) as videos_free:
            assert videos_free
        assert not got.is_set()
        async with engine.connect() as connection:
            blocking = await connection.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
        assert blocking == 0  # no statement sits waiting on the server
    await asyncio.wait_for(got.wait(), 30)
    await task
