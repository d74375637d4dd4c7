"""Failures: the database going away under load, the inotify limit, readiness."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import arrived, eventually, fast, rows, running_service, sha256
from tests.daemon.proxy import CuttableProxy
from tests.media import make_video
from videolib.daemon import watch
from videolib.daemon.events import Kind
from videolib.shared.config import Config


def socket_of(url: URL) -> str:
    host = url.query["host"]
    assert isinstance(host, str)
    return f"{host}/.s.PGSQL.{url.port or 5432}"


async def readyz(port: int) -> int:
    url = f"http://127.0.0.1:{port}/readyz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def test_database_away_under_load_loses_nothing(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    proxy = CuttableProxy(socket_of(database_url))
    await proxy.start()
    via_proxy = database_url.set(host="127.0.0.1", port=proxy.port, query={})
    source = tmp_path / "source"
    source.mkdir()
    originals = [make_video(source / f"{i}.mp4", seconds=0.5) for i in range(16)]
    async with running_service(fast(config), via_proxy) as service:
        service.health.first_delay_s, service.health.max_delay_s = 0.1, 0.5
        assert service.metrics_port is not None
        assert await readyz(service.metrics_port) == 200
        for original in originals[:4]:
            shutil.copyfile(original, library_root / "videos" / original.name)
        # Seen, so that some may be in flight when the database goes.
        await arrived(service, *((Kind.CLOSED, f"videos/{o.name}") for o in originals[:4]))
        await proxy.cut()
        for original in originals[4:12]:
            shutil.copyfile(original, library_root / "videos" / original.name)
        shutil.copyfile(originals[12], library_root / "inbox" / originals[12].name)

        async def not_ready() -> bool:
            return await readyz(service.metrics_port or 0) == 503

        await eventually(not_ready, 30, "readyz to say not ready")
        (library_root / "videos" / originals[0].name).rename(
            library_root / "videos" / "renamed-while-down.mp4"
        )
        # The rename's event came while the database is away (it is then kept for later).
        await arrived(service, (Kind.MOVED, "videos/renamed-while-down.mp4"))
        await proxy.restore()
        for original in originals[13:]:
            shutil.copyfile(original, library_root / "videos" / original.name)

        async def caught_up() -> list[Any]:
            found = [v for v in await rows(engine) if v.is_valid and v.file_hash]
            return found if len(found) == 16 else []

        found = await eventually(caught_up, 60, "the catch-up")
        assert await readyz(service.metrics_port) == 200
    await proxy.cut()
    by_name = {v.filename: v for v in found}
    assert "renamed-while-down.mp4" in by_name
    assert by_name["renamed-while-down.mp4"].file_hash == sha256(originals[0])
    assert len({v.path for v in await rows(engine)}) == len(await rows(engine))


async def test_inotify_limit_falls_back_to_polling(
    config: Config,
    database_url: URL,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = watch.ReportingObserver

    class Limited(real):  # type: ignore[misc, valid-type]
        def schedule(self, *args: Any, **kwargs: Any) -> Any:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watch, "ReportingObserver", Limited)
    original = make_video(tmp_path / "p.mp4", seconds=0.5)
    async with running_service(fast(config), database_url) as service:
        assert service.debouncer.timing.close_events is False
        shutil.copyfile(original, library_root / "videos" / "p.mp4")

        async def listed() -> bool:
            return any(v.path == "videos/p.mp4" for v in await rows(engine))

        await eventually(listed, 30, "the polled drop")


async def test_metrics_are_served(config: Config, database_url: URL, library_root: Path) -> None:
    async with (
        running_service(fast(config), database_url) as service,
        aiohttp.ClientSession() as session,
    ):
        url = f"http://127.0.0.1:{service.metrics_port}/metrics"
        async with session.get(url) as response:
            text = await response.text()
    for name in (
        "videolib_daemon_events_total",
        "videolib_daemon_queue_depth",
        "videolib_daemon_reconcile_last_success_timestamp_seconds",
        "videolib_daemon_database_up 1.0",
    ):
        assert name in text
