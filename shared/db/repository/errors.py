"""Driver errors classified and translated in one place, where the database code lives.

Callers see DatabaseUnavailableError (or its DatabaseBusyError), never asyncpg or SQLAlchemy
types (procrastinate `sync_psycopg_connector.py: wrap_exceptions`). The classification is
a pure function of the error: its SQLSTATE where the server sent one, else its type.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import functools
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from videolib.shared.errors import (
    DatabaseBusyError,
    DatabaseUnavailableError,
    VideolibError,
)

P = ParamSpec("P")
T = TypeVar("T")

#: Attempts of a transaction that lost a serialization or deadlock race (40001, 40P01).
CONFLICT_ATTEMPTS = 3
#: First pause before re-running it; doubled per attempt, with jitter.
CONFLICT_PAUSE_S = 0.05


class Fault(enum.Enum):
    """What a driver error means for the caller."""

    UNAVAILABLE = "unavailable"  # the server cannot be reached or will not serve now
    BUSY = "busy"  # no pooled connection free in time: back-pressure, try again
    CONFLICT = "conflict"  # the transaction lost a race: re-run it
    BUG = "bug"  # a bad statement or a broken invariant: let it propagate


# SQLSTATE classes and codes (PostgreSQL, Appendix A "Error Codes").
_UNAVAILABLE_CLASSES = ("08",)  # connection exception
_UNAVAILABLE_CODES = {
    "57P01",  # admin_shutdown: the server is shutting down
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: the server is starting up
    "53300",  # too_many_connections: no free connection slot
}
_CONFLICT_CODES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps: SQLAlchemy's `.orig`, then each `__cause__`."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = getattr(current, "orig", None)
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE the server sent, found anywhere in the wrapping chain."""
    for link in _chain(error):
        code = getattr(link, "sqlstate", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def classify(error: BaseException) -> Fault:
    """What a driver error means: by SQLSTATE where there is one, else by exception type."""
    if isinstance(error, PoolTimeoutError):
        return Fault.BUSY
    code = sqlstate_of(error)
    if code is not None:
        if code in _CONFLICT_CODES:
            return Fault.CONFLICT
        if code in _UNAVAILABLE_CODES or code.startswith(_UNAVAILABLE_CLASSES):
            return Fault.UNAVAILABLE
        return Fault.BUG
    for link in _chain(error):
        # Refused or reset TCP/unix connects, unknown hosts, connect and command timeouts
        # (TimeoutError is an OSError), a connection asyncpg lost mid-statement.
        if isinstance(link, OSError | asyncpg.PostgresConnectionError):
            return Fault.UNAVAILABLE
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return Fault.UNAVAILABLE  # SQLAlchemy saw a disconnect
        if isinstance(link, asyncpg.InterfaceError) and "connection is closed" in str(link):
            return Fault.UNAVAILABLE  # the test SQLAlchemy's asyncpg dialect uses too
        if isinstance(link, asyncpg.InternalClientError) and "in progress" in str(link):
            # The connection is still consuming a message the server sent unasked, such
            # as the FATAL of a backend it terminated while the connection sat in the pool:
            # that connection is gone, like a closed one.
            return Fault.UNAVAILABLE
    return Fault.BUG


def translate(error: BaseException) -> VideolibError | None:
    """The videolib error a driver error stands for, or None if it is a bug (re-raise it)."""
    if isinstance(error, VideolibError):
        return error
    fault = classify(error)
    if fault is Fault.BUSY:
        return DatabaseBusyError(f"database busy: no free connection in time ({error})")
    if fault is Fault.CONFLICT:
        return DatabaseBusyError(f"database busy: a transaction kept conflicting ({error})")
    if fault is Fault.UNAVAILABLE:
        # The driver's own words: SQLAlchemy's text goes on with the statement and its
        # parameters (30,000 characters for a batch write, file paths among them).
        reason = str(getattr(error, "orig", None) or error).strip() or type(error).__name__
        return DatabaseUnavailableError(f"database unavailable: {reason}")
    return None


# -- the bound of one database call --------------------------------------------------------

_call_bound_s: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "database_call_bound_s", default=None
)


@contextlib.contextmanager
def database_call_bound(seconds: float | None) -> Iterator[None]:
    """Within this block (and tasks started from it) each repository call gives up after
    `seconds` with DatabaseUnavailableError: the API's answer to a server that accepts
    connections but does not answer. The daemon and the CLI leave it unset: their long
    statements are bounded by the connection's command timeout only."""
    token = _call_bound_s.set(seconds)
    try:
        yield
    finally:
        _call_bound_s.reset(token)


@contextlib.asynccontextmanager
async def bounded_call() -> AsyncIterator[None]:
    """Apply the current call bound to the body; its expiry is "unavailable"."""
    bound = _call_bound_s.get()
    try:
        async with asyncio.timeout(bound):
            yield
    except TimeoutError as error:
        if bound is None:
            raise
        raise DatabaseUnavailableError(
            f"database unavailable: no answer within {bound:g} s"
        ) from error


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """The body's driver errors as videolib errors, within the call bound (no re-run:
    for statements that are not a whole unit, such as taking a lock)."""
    try:
        async with bounded_call():
            yield
    except VideolibError:
        raise
    except Exception as error:
        videolib_error = translate(error)
        if videolib_error is None:
            raise
        raise videolib_error from error


def translate_errors(
    method: Callable[P, Awaitable[T]],
) -> Callable[P, Coroutine[Any, Any, T]]:  # a coroutine, so asyncio.create_task takes it
    """Run a repository call within the call bound, re-run it when its transaction lost a
    race (40001, 40P01: each repository call is one idempotent unit), and turn driver
    errors that mean "unavailable" or "busy" into DatabaseUnavailableError."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        pause = CONFLICT_PAUSE_S
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                async with bounded_call():
                    return await method(*args, **kwargs)
            except VideolibError:
                raise
            except Exception as error:
                if classify(error) is Fault.CONFLICT and attempt < CONFLICT_ATTEMPTS:
                    await asyncio.sleep(pause * (1 + random.random()))
                    pause *= 2
                    continue
                translated = translate(error)
                if translated is None:
                    raise
                raise translated from error
        raise AssertionError("unreachable")  # the last attempt returns or raises

    return wrapper


def is_connection_problem(error: BaseException) -> bool:
    """Whether a driver error means "cannot reach the database" (not a bad statement)."""
    return classify(error) in (Fault.UNAVAILABLE, Fault.BUSY)
