"""The aiohttp application factory of the admin API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.api.admin import setup_admin
from videolib.api.counts import CountCache
from videolib.api.cursors import CursorCodec
from videolib.api.flag import FeatureFlag
from videolib.api.jobs import scan_worker
from videolib.api.keys import (
    CONFIG,
    COUNTS,
    CURSORS,
    ENGINE,
    FLAG,
    HISTORY,
    INTEGRITY,
    JOBS,
    LIBRARY,
    LOCKS,
    METRICS,
    NEAR_DUPLICATES,
    ON_DEMAND,
    POOL,
    SCAN_WRITES,
    TOKENS,
    TRASH,
    VIDEOS,
)
from videolib.api.metrics import ApiMetrics, refresh, refresh_forever
from videolib.api.middlewares import MIDDLEWARES
from videolib.api.routes import (
    cleanup,
    fingerprints,
    health,
    history,
    integrity,
    library,
    maintenance,
    near_duplicates,
    playback,
    scans,
    tags,
    uploads,
    videos,
)
from videolib.shared.config import Config
from videolib.shared.db.repository import (
    AdminVideoRepository,
    DirectoryLocks,
    HistoryRepository,
    IntegrityRepository,
    NearDuplicateRepository,
    ScanJobRepository,
    SettingsRepository,
    TrashRepository,
    VideoRepository,
)
from videolib.shared.db.trigram import announce_unindexed_search
from videolib.shared.library import Library
from videolib.shared.media.on_demand import OnDemandPool
from videolib.shared.runtime import examiner_pool, open_database
from videolib.shared.tokens import TokenVerifier
from videolib.shared.trash import Trash


def create_app(config: Config, engine: AsyncEngine | None = None) -> web.Application:
    """The API application; it opens the database (unless given an engine) and the probe
    workers when it starts, and closes them when it stops."""
    # JSON bodies are read whole and bounded here (413); uploads stream past it.
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=config.api.max_json_bytes)
    app[CONFIG] = config
    app[LIBRARY] = Library.from_config(config)
    app[METRICS] = ApiMetrics()
    app[COUNTS] = CountCache()
    app[TOKENS] = TokenVerifier(config.api.jwt_secret)
    app[CURSORS] = CursorCodec(config.api.jwt_secret)
    app.cleanup_ctx.append(_database(engine))
    app.cleanup_ctx.append(_examiners)
    # Stopped before the examiners and the database it uses (cleanups run in reverse).
    app.cleanup_ctx.append(scan_worker)
    app.cleanup_ctx.append(_on_demand)
    app.cleanup_ctx.append(_background)
    # Fixed paths before `{id}`: /videos/duplicates must not be read as an id.
    for module in (
        maintenance,
        near_duplicates,
        scans,
        uploads,
        cleanup,
        videos,
        playback,
        history,
        fingerprints,
        tags,
        health,
        library,
        integrity,
    ):
        app.add_routes(module.routes)
    # The admin page, its browser session and the thumbnail route (issue 6).
    setup_admin(app, config)
    return app


def _database(given: AsyncEngine | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            engine = given
            if engine is None:
                engine = await stack.enter_async_context(open_database(app[CONFIG]))
            app[ENGINE] = engine
            await announce_unindexed_search(engine)
            app[VIDEOS] = AdminVideoRepository(engine)
            app[SCAN_WRITES] = VideoRepository(engine)
            app[HISTORY] = HistoryRepository(engine)
            app[LOCKS] = DirectoryLocks(engine)
            config = app[CONFIG]
            app[TRASH] = Trash(
                app[LIBRARY], TrashRepository(engine), config.thumbnail_dir.absolute()
            )
            app[JOBS] = ScanJobRepository(engine)
            app[INTEGRITY] = IntegrityRepository(engine)
            app[NEAR_DUPLICATES] = NearDuplicateRepository(engine)
            app[FLAG] = FeatureFlag(
                app[CONFIG].api.media_features, SettingsRepository(engine).setting
            )
            app[METRICS].watch_pool(engine)
            yield

    return context


async def _examiners(app: web.Application) -> AsyncIterator[None]:
    async with examiner_pool(app[CONFIG]) as pool:
        app[POOL] = pool
        yield


async def _on_demand(app: web.Application) -> AsyncIterator[None]:
    # One worker, started on the first frame or codec read: most processes need none.
    pool = OnDemandPool(1, app[CONFIG].probe_timeout_s)
    app[ON_DEMAND] = pool
    yield
    await pool.close()


async def _background(app: web.Application) -> AsyncIterator[None]:
    readers = (
        app[METRICS],
        app[VIDEOS].library_counts,
        app[JOBS].count_by_status,
        app[INTEGRITY].gauges,
    )
    await refresh(*readers)  # the first scrape already has the gauges
    refresher = asyncio.create_task(refresh_forever(*readers))
    yield
    refresher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await refresher
