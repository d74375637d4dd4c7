"""The leader lock and the write fence, on the real server: who leads, and who may commit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository.leader import (
    Fence,
    LeaderLock,
    current_leader,
    daemon_session_name,
    leader_session,
)
from videolib.shared.db.schema import settings
from videolib.shared.errors import NotLeaderError


@contextlib.asynccontextmanager
async def daemon_engine(url: URL) -> AsyncIterator[tuple[AsyncEngine, LeaderLock, Fence]]:
    """An engine named like a daemon's, its leader lock and its write fence."""
    name = daemon_session_name()
    async with open_engine(url, pool_size=2, application_name=name) as engine:
        fence = Fence()
        fence.install(engine)
        lock = LeaderLock(engine, name, lease_s=5.0)
        try:
            yield engine, lock, fence
        finally:
            await lock.release()


async def write_setting(engine: AsyncEngine, key: str, value: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(settings.insert().values(key=key, value=value))


async def setting(engine: AsyncEngine, key: str) -> str | None:
    async with engine.connect() as connection:
        return (
            await connection.execute(select(settings.c.value).where(settings.c.key == key))
        ).scalar()


async def end_lock_session(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        ended = (
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted"
                )
            )
        ).scalar()
    assert ended is True


async def test_one_leader_and_the_next_takes_over_with_a_new_epoch(database_url: URL) -> None:
    async with (
        daemon_engine(database_url) as (engine, one, _),
        daemon_engine(database_url) as (
            _,
            two,
            _,
        ),
    ):
        first = await one.try_take()
        assert first is not None
        assert await two.try_take() is None  # held: the second stands by
        assert await one.check(timeout_s=5) is True
        assert (await current_leader(engine)).holder == one.name
        assert await leader_session(engine) == one.name  # as doctor reads it, from pg_locks
        await one.release()
        assert await leader_session(engine) is None
        second = await two.try_take()
        assert second == first + 1
        leader = await current_leader(engine)
        assert (leader.epoch, leader.holder) == (second, two.name)


async def test_a_write_of_a_deposed_leader_is_rolled_back(database_url: URL) -> None:
    async with (
        daemon_engine(database_url) as (old, old_lock, old_fence),
        daemon_engine(database_url) as (new, new_lock, new_fence),
    ):
        old_fence.epoch = await old_lock.try_take()
        await write_setting(old, "by-old-while-leading", "1")  # commits: it leads
        assert old_fence.checks == 1
        # The old leader's lock session is ended from outside (a frozen leader's, killed).
        await end_lock_session(new)
        new_fence.epoch = await eventually(new_lock.try_take, 10, "the lock to come free")
        # The old one has not noticed yet (its fence still holds its epoch) and writes.
        assert old_fence.epoch is not None
        with pytest.raises(NotLeaderError, match="another daemon took over"):
            await write_setting(old, "by-old-after-takeover", "1")
        assert old_fence.epoch is None  # it knows now, and writes nothing more
        with pytest.raises(NotLeaderError, match="not the library's active watcher"):
            await write_setting(old, "by-old-standing-by", "1")
        await write_setting(new, "by-new", "1")
        assert await setting(new, "by-old-while-leading") == "1"
        assert await setting(new, "by-old-after-takeover") is None  # nothing of it landed
        assert await setting(new, "by-old-standing-by") is None
        assert await setting(new, "by-new") == "1"
        assert await old_lock.check(timeout_s=5) is False  # its session is gone


async def test_reads_commit_without_a_check_and_without_leading(database_url: URL) -> None:
    async with daemon_engine(database_url) as (engine, _, fence):
        async with engine.begin() as connection:  # a read in a transaction, not leading
            await connection.execute(select(settings.c.key))
        assert fence.checks == 0


async def test_takeover_ends_a_frozen_leaders_open_transaction(database_url: URL) -> None:
    async with (
        daemon_engine(database_url) as (old, old_lock, old_fence),
        daemon_engine(database_url) as (new, new_lock, new_fence),
    ):
        old_fence.epoch = await old_lock.try_take()
        await write_setting(old, "row", "before")
        frozen = await old.connect().start()
        try:
            # A write left open, its row locked, as by a leader frozen mid-transaction.
            await frozen.execute(update(settings).where(settings.c.key == "row").values(value="x"))
            await old_lock.release()  # its lock session died meanwhile
            new_fence.epoch = await new_lock.try_take()
            assert new_fence.epoch is not None
            async with asyncio.timeout(10):  # would wait forever on the frozen row lock
                async with new.begin() as connection:
                    await connection.execute(
                        update(settings).where(settings.c.key == "row").values(value="new")
                    )
            with pytest.raises(Exception, match="closed"):  # its session was ended
                await frozen.commit()
        finally:
            with contextlib.suppress(Exception):
                await frozen.close()
        assert await setting(new, "row") == "new"


async def test_an_idle_lock_session_is_ended_by_the_server_after_the_lease(
    database_url: URL,
) -> None:
    """A frozen leader never checks its lock: the server frees it after the lease."""
    async with (
        daemon_engine(database_url) as (_, one, _),
        daemon_engine(database_url) as (
            _,
            two,
            _,
        ),
    ):
        one.lease_s = 1.0
        assert await one.try_take() is not None
        assert await two.try_take() is None
        epoch = await eventually(two.try_take, 15, "the idle session to be ended")
        assert epoch is not None
        assert await one.check(timeout_s=5) is False
