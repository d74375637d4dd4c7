"""Scan locks: PostgreSQL advisory locks on directory types, held for a scan's duration.

Two scans (daemon reconcile, API scan, CLI scan) of one tree never run at once, in this
process or another: PostgreSQL frees a lock when its session ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.errors import DatabaseUnavailableError

from .errors import is_connection_problem


class DirectoryLocks:
    """The advisory locks of directory types (and of other keys, such as an inbox file)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @contextlib.asynccontextmanager
    async def free_directory_locks(
        self, directory_types: Iterable[str]
    ) -> AsyncIterator[list[str]]:
        """Take, without waiting, the scan locks of those types nobody holds; yield them.

        The daemon reconciles the types it got and skips the others (an API scan or
        another daemon is on them). One connection holds them all.
        """
        try:
            async with self.engine.connect() as connection:
                taken: list[str] = []
                try:
                    for key in sorted(set(directory_types)):
                        if await _advisory_lock(connection, key, wait=False):
                            taken.append(key)
                    yield taken
                finally:
                    for key in taken:
                        await connection.execute(
                            text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": _lock(key)}
                        )
                    await connection.commit()
        except Exception as error:
            if is_connection_problem(error):
                raise DatabaseUnavailableError(f"database unavailable: {error}") from error
            raise

    @contextlib.asynccontextmanager
    async def directory_lock(
        self, directory_types: Iterable[str], *, wait: bool = True
    ) -> AsyncIterator[bool]:
        """Hold PostgreSQL advisory locks on directory types for the body's duration.

        Two scans (daemon reconcile, API scan, CLI scan) of one tree never run at once.
        Yields False, holding nothing, when ``wait`` is false and a lock is taken.
        """
        keys = sorted(set(directory_types))
        async with self.engine.connect() as connection:
            # Session locks need no transaction; without one the connection is idle, not
            # "idle in transaction" for the whole scan, which servers time out and kill.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            taken: list[str] = []
            try:
                for key in keys:
                    if not await _advisory_lock(connection, key, wait):
                        yield False
                        return
                    taken.append(key)
                yield True
            finally:
                for key in taken:
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": _lock(key)}
                    )


def _lock(directory_type: str) -> str:
    return f"videolib:scan:{directory_type}"


async def _advisory_lock(connection: AsyncConnection, key: str, wait: bool) -> bool:
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    result = await connection.execute(
        text(f"SELECT {function}(hashtext(:key))"), {"key": _lock(key)}
    )
    return wait or bool(result.scalar())
