"""What every videolib process opens at start: the database (migrated) and its repository."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.db import migrate
from videolib.shared.db.engine import DatabaseTimeouts, database_url, open_engine
from videolib.shared.db.repository import translate_errors
from videolib.shared.errors import ConfigError
from videolib.shared.media.examine import ProbeSettings
from videolib.shared.media.probe import find_ffprobe
from videolib.shared.media.workers import ExaminerPool


@contextlib.asynccontextmanager
async def open_database(
    config: Config, *, pool_size: int | None = None, application_name: str = "videolib"
) -> AsyncIterator[AsyncEngine]:
    """The engine of the configured (or embedded) database, checked to be at head.

    The embedded database is ours, so it is migrated here; a configured one must have
    been upgraded with `videolib db upgrade`, as an admin would do on an upgrade.
    """
    with database_url(config) as url:
        size = pool_size or config.database.pool_size
        timeouts = DatabaseTimeouts.from_config(config)
        async with open_engine(url, size, timeouts, application_name) as engine:
            if config.embedded_database:
                await translate_errors(migrate.upgrade)(engine)
            else:
                await require_head(engine, config)
            yield engine


async def require_head(engine: AsyncEngine, config: Config) -> None:
    current = await translate_errors(migrate.current_revision)(engine)
    if current != migrate.head_revision():
        raise ConfigError(
            "database.url",
            config.database.url.split("@")[-1],
            "DATABASE_URL",
            f"database schema is at {current or 'nothing'}, not "
            f"{migrate.head_revision()}: run `videolib db upgrade`",
        )


def probe_settings(config: Config) -> ProbeSettings:
    ffprobe = find_ffprobe(config.probe.ffprobe_path or None)
    if config.probe.backend == "ffprobe" and ffprobe is None:
        raise ConfigError(
            "probe.ffprobe_path",
            config.probe.ffprobe_path,
            config.source,
            "backend is ffprobe but no ffprobe binary was found",
        )
    return ProbeSettings(
        backend=config.probe.backend, ffprobe_path=ffprobe, timeout_s=config.probe_timeout_s
    )


def examiner_pool(config: Config) -> ExaminerPool:
    """The worker processes that probe and hash, sized and limited by the config."""
    return ExaminerPool(
        config.probe_workers, probe_settings(config), time_limit_s=config.probe_timeout_s
    )
