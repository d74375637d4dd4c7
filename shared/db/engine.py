"""Opening the database: the configured server or the embedded one, as an async engine."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from videolib.shared.config import Config
from videolib.shared.db.embedded import embedded_postgres


@contextlib.contextmanager
def database_url(config: Config) -> Iterator[URL]:
    """The URL to connect to, starting the embedded server for as long as it is needed."""
    if config.embedded_database:
        with embedded_postgres(config.state.dir) as url:
            yield url
    else:
        yield config.sqlalchemy_url()


def make_engine(url: URL, pool_size: int = 10) -> AsyncEngine:
    """An asyncio engine on asyncpg with a bounded pool."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        # No pre-ping: it costs a round trip per checkout (a third of a list request).
        # A connection broken by a database restart fails once, is invalidated, and the
        # caller's DatabaseUnavailableError path (503, daemon backoff) covers that once.
        # A statement that hangs must not hold a connection forever.
        connect_args={"command_timeout": 60, "server_settings": {"application_name": "videolib"}},
    )


@contextlib.asynccontextmanager
async def open_engine(url: URL, pool_size: int = 10) -> AsyncIterator[AsyncEngine]:
    """An engine that is disposed of on exit."""
    engine = make_engine(url, pool_size)
    try:
        yield engine
    finally:
        await engine.dispose()
