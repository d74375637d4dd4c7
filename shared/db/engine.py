"""Opening the database: the configured server or the embedded one, as an async engine."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from videolib.shared.config import Config
from videolib.shared.db.actor import SETTING, process_actor
from videolib.shared.db.actor import install as install_actor
from videolib.shared.db.embedded import embedded_postgres


@contextlib.contextmanager
def database_url(config: Config) -> Iterator[URL]:
    """The URL to connect to, starting the embedded server for as long as it is needed."""
    if config.embedded_database:
        with embedded_postgres(config.state.dir) as url:
            yield url
    else:
        yield config.sqlalchemy_url()


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long a connection may take to open, a statement to answer, a checkout to wait.

    Each expiry reads as "database unavailable" (repository/errors.py). The command
    timeout is long: migrations, a scan's batched upserts and a CLI scan waiting on an
    advisory lock are legitimate long statements. The API bounds each of its calls more
    tightly on its own (api.database_timeout_seconds).
    """

    connect_s: float = 5.0
    command_s: float = 60.0
    pool_s: float = 10.0

    @classmethod
    def from_config(cls, config: Config) -> DatabaseTimeouts:
        database = config.database
        return cls(
            connect_s=database.connect_timeout_seconds,
            command_s=database.command_timeout_seconds,
            pool_s=database.pool_timeout_seconds,
        )


def make_engine(
    url: URL,
    pool_size: int = 10,
    timeouts: DatabaseTimeouts | None = None,
    application_name: str = "videolib",
) -> AsyncEngine:
    """An asyncio engine on asyncpg with a bounded pool and bounded waits.

    `application_name` names its sessions in pg_stat_activity (a daemon names itself, so
    that a new leader finds the sessions of the others: repository/leader.py).
    """
    timeouts = timeouts or DatabaseTimeouts()
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        # A checkout that waits longer is back-pressure (DatabaseBusyError), not a hang.
        pool_timeout=timeouts.pool_s,
        # No pre-ping: it costs a round trip per checkout (a third of a list request).
        # A connection broken by a database restart fails once, is invalidated, and the
        # caller's DatabaseUnavailableError path (503, daemon backoff) covers that once.
        connect_args={
            # A server that accepts the TCP connection but never answers (frozen, swapping)
            # must not hold a connect for asyncpg's default 60 s.
            "timeout": timeouts.connect_s,
            # A statement that hangs must not hold a connection forever.
            "command_timeout": timeouts.command_s,
            # The history trigger's actor unless a transaction names another (actor.py).
            "server_settings": {"application_name": application_name, SETTING: process_actor()},
        },
    )
    install_actor(engine)
    return engine


@contextlib.asynccontextmanager
async def open_engine(
    url: URL,
    pool_size: int = 10,
    timeouts: DatabaseTimeouts | None = None,
    application_name: str = "videolib",
) -> AsyncIterator[AsyncEngine]:
    """An engine that is disposed of on exit."""
    engine = make_engine(url, pool_size, timeouts, application_name)
    try:
        yield engine
    finally:
        await engine.dispose()


def unpooled_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same server and connect settings as `engine`, a connection opened per use.

    For sessions held a long time (advisory locks over a scan or an inbox move): their
    holder writes through the pool meanwhile, so it never holds a pooled connection while
    it waits for another (issue 10 §2), whatever the pool's size.
    """
    # The pool's creator opens connections with the engine's URL and connect arguments
    # (timeouts, application name), so the twin stays in step with make_engine.
    creator = engine.sync_engine.pool._creator
    return create_async_engine(engine.url, pool=NullPool(creator))
