"""Scan locks: PostgreSQL advisory locks on directory types, held for a scan's duration.

Two scans (daemon reconcile, API scan, CLI scan) of one tree never run at once, in this
process or another: PostgreSQL frees a lock when its session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.engine import unpooled_engine
from videolib.shared.errors import VideolibError

from .errors import bounded_call, is_connection_problem, translated

#: A caller waiting for a taken lock tries again after this pause, doubling up to the max.
LOCK_RETRY_FIRST_S = 0.1
LOCK_RETRY_MAX_S = 1.0


class DirectoryLocks:
    """The advisory locks of directory types (and of other keys, such as an inbox file)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Each holder has a session of its own outside the pool: a scan or an inbox move
        # writes through the pool while it holds its lock, and a lock taken from the pool
        # would hold one pooled connection while waiting for another, the deadlock of a
        # burst of inbox files (issue 10 §2).
        self._sessions = unpooled_engine(engine)

    @contextlib.asynccontextmanager
    async def free_directory_locks(
        self, directory_types: Iterable[str]
    ) -> AsyncIterator[list[str]]:
        """Take, without waiting, the scan locks of those types nobody holds; yield them.

        The daemon reconciles the types it got and skips the others (an API scan or
        another daemon is on them). One connection holds them all.
        """
        connection = await self._lock_connection()
        taken: list[str] = []
        try:
            async with translated():
                for key in sorted(set(directory_types)):
                    if await _try_lock(connection, key):
                        taken.append(key)
            yield taken
        finally:
            await _release(connection, taken)

    @contextlib.asynccontextmanager
    async def directory_lock(
        self, directory_types: Iterable[str], *, wait: bool = True
    ) -> AsyncIterator[bool]:
        """Hold PostgreSQL advisory locks on directory types for the body's duration.

        Two scans (daemon reconcile, API scan, CLI scan) of one tree never run at once.
        Yields False, holding nothing, when ``wait`` is false and a lock is taken.
        Waiting is a try every so often, never a blocking pg_advisory_lock: a daemon
        reconcile can hold the lock for longer than the command timeout, which would cut
        such a statement and read as "database unavailable".
        Only the lock statements are translated: an error of the body passes unchanged.
        """
        keys = sorted(set(directory_types))
        connection = await self._lock_connection()
        taken: list[str] = []
        try:
            pause = LOCK_RETRY_FIRST_S
            while True:
                async with translated():
                    locked = await _try_all(connection, keys, taken)
                if locked or not wait:
                    break
                await asyncio.sleep(pause)
                pause = min(pause * 2, LOCK_RETRY_MAX_S)
            yield locked
        finally:
            await _release(connection, taken)

    async def _lock_connection(self) -> AsyncConnection:
        """A connection of its own to hold session locks on, outside any transaction.

        Session locks need no transaction; without one the connection is idle, not
        "idle in transaction" for the whole scan or inbox file, which servers with
        idle_in_transaction_session_timeout kill (and the lock with the session).
        """
        async with translated():
            connection = await self._sessions.connect().start()
            await connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection


async def _try_all(connection: AsyncConnection, keys: list[str], taken: list[str]) -> bool:
    """Take every key or none: a key held elsewhere gives back those taken (in `taken`)."""
    for key in keys:
        if not await _try_lock(connection, key):
            await _unlock(connection, taken)
            taken.clear()
            return False
        taken.append(key)
    return True


async def _unlock(connection: AsyncConnection, taken: list[str]) -> None:
    for key in taken:
        await connection.execute(
            text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": _lock(key)}
        )


async def _release(connection: AsyncConnection, taken: list[str]) -> None:
    """Unlock and give the connection back. A lost session has freed its locks already
    (PostgreSQL ends them with it), so a connection problem here is not an error."""
    try:
        async with bounded_call():
            await _unlock(connection, taken)
    except Exception as error:
        if not is_connection_problem(error) and not isinstance(error, VideolibError):
            raise
    finally:
        try:
            await connection.close()
        except Exception as error:
            if not is_connection_problem(error):
                raise


def _lock(directory_type: str) -> str:
    return f"videolib:scan:{directory_type}"


async def _try_lock(connection: AsyncConnection, key: str) -> bool:
    """Take one lock if free; never waits (a wait is the caller's loop of tries)."""
    result = await connection.execute(
        text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": _lock(key)}
    )
    return bool(result.scalar())
