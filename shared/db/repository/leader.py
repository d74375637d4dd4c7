"""The library's active watcher: a session-level advisory lock, an epoch that fences writes.

One daemon per library writes (issue 13 §4); the others stand by. The lock is
`pg_try_advisory_lock` on a session of its own, so PostgreSQL frees it the moment that
session ends: a killed process (its socket closes), a cut network (the connection drops),
or a frozen process, whose session the server ends itself after `lease_s` idle
(`idle_session_timeout`, PostgreSQL 14+): a living leader checks its lock more often.

A lock alone does not stop a leader that froze mid-transaction from committing after it
wakes up, when another daemon already leads. So every write transaction of a daemon reads
the epoch row `FOR SHARE` at commit (`Fence`) and commits only if it is still the epoch it
took over with; a takeover increments it with an UPDATE, which waits for such commits in
flight and makes every later one of the old leader fail (a fencing token). Transactions of
other daemons left open (a frozen leader's) are ended at takeover, as they hold row locks
the new leader's writes would wait on forever.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.engine import unpooled_engine
from videolib.shared.db.schema import daemon_leader
from videolib.shared.errors import NotLeaderError

from .errors import is_connection_problem, translated

#: The key of the lock: advisory locks are per database, and a database is one library.
LEADER_KEY = "videolib:leader"
#: What the daemon's sessions are named (pg_stat_activity.application_name), so a new
#: leader can find the open transactions of the others.
DAEMON_SESSION_PREFIX = "videolib daemon "
#: PostgreSQL truncates application_name to 63 bytes.
_NAME_LIMIT = 63
#: Leading keywords of statements that change something (text() statements have no
#: compiled isinsert/isupdate/isdelete).
_WRITE_KEYWORDS = ("INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "COPY", "TRUNCATE")
_WRITES = "videolib_writes"  # connection.info key: this transaction wrote


def daemon_session_name() -> str:
    """A name unique to one daemon instance: process, host and a token (two daemons of
    one test process differ too)."""
    name = f"{DAEMON_SESSION_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    return name[:_NAME_LIMIT]


@dataclass(frozen=True, slots=True)
class Leader:
    """Who leads (as the last takeover recorded it) and since when."""

    epoch: int
    holder: str | None
    since: datetime | None


class Fence:
    """Lets a daemon's write transactions commit only while it leads with its epoch."""

    def __init__(self, on_fenced: Callable[[], None] = lambda: None) -> None:
        #: The epoch this daemon took over with; None while it does not lead.
        self.epoch: int | None = None
        self.on_fenced = on_fenced
        self.checks = 0  # commits checked against the epoch row (for tests and the bench)

    def install(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        event.listen(sync, "begin", self._begun)
        event.listen(sync, "before_cursor_execute", self._executing)
        event.listen(sync, "commit", self._committing)

    def _begun(self, connection: Any) -> None:
        connection.info.pop(_WRITES, None)

    def _executing(
        self,
        connection: Any,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        if is_write(statement, context):
            connection.info[_WRITES] = True

    def _committing(self, connection: Any) -> None:
        """Before the COMMIT goes out: a transaction that wrote must still lead (why: the
        module docstring). Reads commit without a round trip."""
        if not connection.info.pop(_WRITES, False):
            return
        epoch = self.epoch
        if epoch is None:
            raise NotLeaderError("not the library's active watcher: the write was rolled back")
        self.checks += 1
        current = connection.exec_driver_sql(
            "SELECT epoch FROM daemon_leader WHERE id = 1 FOR SHARE"
        ).scalar()
        if current != epoch:
            self.epoch = None
            self.on_fenced()
            raise NotLeaderError(
                f"another daemon took over (epoch {current}, ours {epoch}):"
                " the write was rolled back"
            )


def is_write(statement: str, context: Any) -> bool:
    """Whether a statement may change rows: a compiled INSERT/UPDATE/DELETE, or SQL text
    that starts like one (a CTE counts: it may write)."""
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        return True
    return statement.lstrip()[:8].upper().startswith(_WRITE_KEYWORDS)


class LeaderLock:
    """The leader lock's own session: try to take it, check it is still held, let it go."""

    def __init__(self, engine: AsyncEngine, name: str, *, lease_s: float) -> None:
        self.engine = engine
        self.name = name
        self.lease_s = lease_s
        self._sessions = unpooled_engine(engine)
        self._connection: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def try_take(self) -> int | None:
        """Take the lock if nobody holds it; then end the other daemons' open transactions
        and start a new epoch. Returns the epoch, or None when another daemon leads."""
        connection = await self._open()
        try:
            async with translated():
                taken = (
                    await connection.execute(
                        text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": LEADER_KEY}
                    )
                ).scalar()
                if not taken:
                    await connection.close()
                    return None
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND xact_start IS NOT NULL"
                        " AND application_name LIKE :prefix AND application_name <> :me"
                    ),
                    {"prefix": DAEMON_SESSION_PREFIX + "%", "me": self.name},
                )
                epoch = (
                    await connection.execute(
                        daemon_leader.update()
                        .where(daemon_leader.c.id == 1)
                        .values(
                            epoch=daemon_leader.c.epoch + 1, holder=self.name, since=text("now()")
                        )
                        .returning(daemon_leader.c.epoch)
                    )
                ).scalar_one()
        except BaseException:
            await _close_quietly(connection)
            raise
        self._connection = connection
        return int(epoch)

    async def check(self, timeout_s: float) -> bool:
        """Whether this session still holds the lock; False when it is lost or does not
        answer within `timeout_s` (the session is then given up)."""
        connection = self._connection
        if connection is None:
            return False
        try:
            async with asyncio.timeout(timeout_s):
                held = (
                    await connection.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                            " AND pid = pg_backend_pid() AND granted"
                        )
                    )
                ).scalar()
        except Exception as error:
            if not (isinstance(error, TimeoutError) or is_connection_problem(error)):
                raise
            held = 0
        if not held:
            await self.release()
        return bool(held)

    async def release(self) -> None:
        """Let the lock go by ending its session (a lost session has let it go already)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close_quietly(connection)

    async def _open(self) -> AsyncConnection:
        async with translated():
            connection = await self._sessions.connect().start()
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            # The server ends this session once it is idle this long: a frozen leader's
            # lock is freed without anyone killing it. Keepalives find a peer that is gone
            # without a word (a network partition) in about the same time over TCP.
            lease_ms = max(1, round(self.lease_s * 1000))
            await connection.execute(text(f"SET idle_session_timeout = {lease_ms}"))
            keepalive = max(1, round(self.lease_s / 3))
            await connection.execute(text(f"SET tcp_keepalives_idle = {keepalive}"))
            await connection.execute(text("SET tcp_keepalives_interval = 1"))
            await connection.execute(text("SET tcp_keepalives_count = 2"))
        return connection


async def current_leader(engine: AsyncEngine) -> Leader:
    """The row of the last takeover (holder None before any)."""
    async with translated(), engine.connect() as connection:
        row = (await connection.execute(select(daemon_leader))).one()
    return Leader(epoch=int(row.epoch), holder=row.holder, since=row.since)


async def leader_session(engine: AsyncEngine) -> str | None:
    """The session name (application_name) of whoever holds the leader lock now, or None.

    Read from pg_locks, without trying the lock: doctor must not take it from a standby.
    A bigint advisory key shows as its high and low 32 bits (classid, objid; objsubid 1).
    """
    statement = text(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid = ((hashtext(:key)::bigint >> 32) & 4294967295)::oid"
        " AND l.objid = (hashtext(:key)::bigint & 4294967295)::oid"
    )
    async with translated(), engine.connect() as connection:
        name = (await connection.execute(statement, {"key": LEADER_KEY})).scalar()
    return None if name is None else str(name)


async def _close_quietly(connection: AsyncConnection) -> None:
    try:
        await connection.close()
    except Exception as error:
        if not is_connection_problem(error):
            raise
