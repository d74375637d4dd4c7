"""Driver errors classified by SQLSTATE and type: one table of real asyncpg/SQLAlchemy errors."""

from __future__ import annotations

import socket

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from videolib.shared.db.repository import Fault, classify, translate, translate_errors
from videolib.shared.errors import DatabaseBusyError, DatabaseUnavailableError, NotFoundError

_dbapi = AsyncAdapt_asyncpg_dbapi(asyncpg)  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy


def wrapped(error: Exception, kind: type[DBAPIError] = DBAPIError) -> DBAPIError:
    """The error as SQLAlchemy hands it to a caller: DBAPIError(orig=adapted(cause=asyncpg))."""
    adapted = _dbapi.Error(str(error), error)  # type: ignore[no-untyped-call]
    adapted.__cause__ = error
    return kind("SELECT 1", {}, adapted)


CASES: list[tuple[str, BaseException, Fault]] = [
    # The server will not serve now.
    ("starting up 57P03", asyncpg.CannotConnectNowError("starting up"), Fault.UNAVAILABLE),
    ("shutting down 57P01", asyncpg.AdminShutdownError("terminating"), Fault.UNAVAILABLE),
    ("crash shutdown 57P02", asyncpg.CrashShutdownError("crash"), Fault.UNAVAILABLE),
    ("no free slot 53300", asyncpg.TooManyConnectionsError("too many"), Fault.UNAVAILABLE),
    ("08006 connection failure", asyncpg.ConnectionFailureError("lost"), Fault.UNAVAILABLE),
    ("08003 no connection", asyncpg.ConnectionDoesNotExistError("gone"), Fault.UNAVAILABLE),
    (
        "57P03 wrapped by SQLAlchemy",
        wrapped(asyncpg.CannotConnectNowError("starting up")),
        Fault.UNAVAILABLE,
    ),
    (
        "53300 wrapped by SQLAlchemy",
        wrapped(asyncpg.TooManyConnectionsError("too many")),
        Fault.UNAVAILABLE,
    ),
    # No connection at all.
    ("refused TCP connect", ConnectionRefusedError(111, "Connection refused"), Fault.UNAVAILABLE),
    ("no socket file", FileNotFoundError(2, "No such file"), Fault.UNAVAILABLE),
    ("unknown host", socket.gaierror(-2, "Name or service not known"), Fault.UNAVAILABLE),
    ("connect or command timeout", TimeoutError(), Fault.UNAVAILABLE),
    ("pool checkout timeout", PoolTimeoutError("QueuePool limit"), Fault.BUSY),
    # Lost races: re-run.
    ("serialization 40001", asyncpg.SerializationError("could not"), Fault.CONFLICT),
    ("deadlock 40P01", asyncpg.DeadlockDetectedError("deadlock"), Fault.CONFLICT),
    ("deadlock wrapped", wrapped(asyncpg.DeadlockDetectedError("deadlock")), Fault.CONFLICT),
    # Real bugs: they propagate.
    (
        "unique violation",
        wrapped(asyncpg.UniqueViolationError("dup"), IntegrityError),
        Fault.BUG,
    ),
    (
        "syntax error",
        wrapped(asyncpg.PostgresSyntaxError("syntax"), ProgrammingError),
        Fault.BUG,
    ),
    ("undefined column", asyncpg.UndefinedColumnError("no column"), Fault.BUG),
    ("closed connection", asyncpg.InterfaceError("connection is closed"), Fault.UNAVAILABLE),
    (
        "connection still consuming a server's FATAL",
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        Fault.UNAVAILABLE,
    ),
    ("another internal client error", asyncpg.InternalClientError("bad state"), Fault.BUG),
    ("bad argument count", asyncpg.InterfaceError("expects 2 arguments"), Fault.BUG),
    ("plain bug", ValueError("bad value"), Fault.BUG),
]


@pytest.mark.parametrize(("error", "fault"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(error: BaseException, fault: Fault) -> None:
    assert classify(error) is fault


def test_a_disconnect_sqlalchemy_saw_is_unavailable() -> None:
    error = wrapped(asyncpg.InterfaceError("connection is closed"))
    error.connection_invalidated = True
    assert classify(error) is Fault.UNAVAILABLE


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (asyncpg.CannotConnectNowError("starting up"), DatabaseUnavailableError),
        (PoolTimeoutError("QueuePool limit"), DatabaseBusyError),
        (asyncpg.DeadlockDetectedError("deadlock"), DatabaseBusyError),
        (ValueError("bug"), type(None)),
    ],
)
def test_translate(error: BaseException, expected: type) -> None:
    assert type(translate(error)) is expected


def test_busy_is_unavailable_so_every_retry_path_keeps_the_batch() -> None:
    assert issubclass(DatabaseBusyError, DatabaseUnavailableError)


async def test_conflicts_are_re_run_a_bounded_number_of_times() -> None:
    calls = 0

    @translate_errors
    async def write(fail_times: int) -> str:
        nonlocal calls
        calls += 1
        if calls <= fail_times:
            raise wrapped(asyncpg.DeadlockDetectedError("deadlock detected"))
        return "written"

    assert await write(2) == "written"
    assert calls == 3
    calls = 0
    with pytest.raises(DatabaseBusyError, match="kept conflicting"):
        await write(10)
    assert calls == 3  # bounded


async def test_bugs_and_own_errors_pass_unchanged() -> None:
    @translate_errors
    async def broken() -> None:
        raise wrapped(asyncpg.UniqueViolationError("dup"), IntegrityError)

    @translate_errors
    async def missing() -> None:
        raise NotFoundError("x: no such record")

    with pytest.raises(IntegrityError):
        await broken()
    with pytest.raises(NotFoundError):
        await missing()
