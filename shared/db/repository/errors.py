"""Driver errors translated where the database code lives.

Callers see DatabaseUnavailableError, never asyncpg or SQLAlchemy types (procrastinate
`sync_psycopg_connector.py: wrap_exceptions`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from videolib.shared.errors import DatabaseUnavailableError

P = ParamSpec("P")
T = TypeVar("T")


def is_connection_problem(error: BaseException) -> bool:
    """Whether a driver error means "cannot reach the database" (not a bad statement)."""
    if isinstance(error, (OSError, ConnectionError, OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def translate_errors(
    method: Callable[P, Awaitable[T]],
) -> Callable[P, Awaitable[T]]:
    """Turn "cannot reach the database" driver errors into DatabaseUnavailableError."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except Exception as error:
            if is_connection_problem(error):
                raise DatabaseUnavailableError(f"database unavailable: {error}") from error
            raise

    return wrapper
