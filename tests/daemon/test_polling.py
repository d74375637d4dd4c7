"""Polling mode (network mounts) and inotify's fallback to polling, in a real daemon."""

from __future__ import annotations

import errno
import shutil
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from tests.daemon.harness import (
    ObservedScheduler,
    eventually,
    fast,
    listed,
    rows,
    running_service,
)
from tests.media import make_video
from videolib.daemon import watch
from videolib.daemon.scheduler import WATCH_CHECK_S
from videolib.shared.config import Config


async def test_polling_mode_picks_up_a_drop_and_follows_a_rename(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    original = make_video(tmp_path / "drop.mp4", seconds=0.5)
    async with running_service(fast(config, polling=True), database_url) as service:
        assert service.debouncer.timing.close_events is False
        shutil.copyfile(original, library_root / "videos" / "drop.mp4")
        first = await listed(engine, "videos/drop.mp4", timeout=15)
        (library_root / "videos" / "drop.mp4").rename(library_root / "studios" / "kept.mp4")
        moved = await listed(engine, "studios/kept.mp4", timeout=15)
    assert moved.id == first.id  # the same inode under a new name: a move, not a new record
    assert [v.path for v in await rows(engine)] == ["studios/kept.mp4"]


async def test_the_poll_interval_is_honoured(
    config: Config, database_url: URL, library_root: Path
) -> None:
    interval = 0.3
    config = fast(config, polling=True, poll_interval_seconds=interval)
    async with running_service(config, database_url) as service:

        async def walked(count: int) -> bool:
            return service.polls >= count

        await eventually(lambda: walked(1), 10, "the first walk")
        started, first = time.monotonic(), service.polls
        await eventually(lambda: walked(first + 4), 20, "four more walks")
        elapsed = time.monotonic() - started
        walks = service.polls - first
        # Never faster than the interval (PollingObserver walked every second, whatever).
        assert elapsed >= (walks - 1) * interval
        assert service.metrics.poll_walks._value.get() == service.polls


async def test_inotify_limit_while_running_switches_to_polling_and_its_timing(
    config: Config,
    database_url: URL,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The inbox lives elsewhere and appears after start; watching it hits the limit.
    inbox = tmp_path / "elsewhere" / "inbox"
    config = config.replace("library", inbox=inbox)
    real = watch.ReportingObserver

    class LimitedForTheInbox(real):  # type: ignore[misc, valid-type]
        def schedule(self, handler: Any, path: str, *args: Any, **kwargs: Any) -> Any:
            if path == str(inbox):
                raise OSError(errno.ENOSPC, "inotify watch limit reached")
            return super().schedule(handler, path, *args, **kwargs)

    monkeypatch.setattr(watch, "ReportingObserver", LimitedForTheInbox)
    original = make_video(tmp_path / "late.mp4", seconds=0.5)
    async with running_service(fast(config), database_url) as service:
        assert service.debouncer.timing.close_events is True  # inotify for the library
        inbox.mkdir(parents=True)

        async def switched() -> bool:
            return service.debouncer.timing.close_events is False

        await eventually(switched, WATCH_CHECK_S * 3, "the fallback to switch the timing")
        # Written in two parts with walks between: the poller sees it created, then
        # modified (a write), and never a close: without the switch, a 30 s stall.
        data = original.read_bytes()
        target = inbox / "late.mp4"
        target.write_bytes(data[: len(data) // 2])
        walks = service.polls

        async def walked_twice() -> bool:
            return service.polls >= walks + 2

        await eventually(walked_twice, 10, "two walks")
        with target.open("ab") as rest:
            rest.write(data[len(data) // 2 :])

        async def moved_in() -> list[Any]:
            return [v for v in await rows(engine) if v.original_filename == "late.mp4"]

        # Well within the 30 s close-event stall a polled write waited for before.
        [video] = await eventually(moved_in, 20, "the polled inbox file in the library")
    assert video.path == "videos/late.mp4" and video.is_valid


def _emptied_warnings(logs: list[MutableMapping[str, Any]]) -> list[str]:
    return [str(e["path"]) for e in logs if e["event"] == "polled_folder_emptied"]


async def _walks(service: ObservedScheduler, more: int) -> None:
    walks = service.polls

    async def walked() -> bool:
        return service.polls >= walks + more

    await eventually(walked, 20, f"{more} more walks")


async def test_an_inbox_emptied_by_its_moves_starts_no_reconcile_storm(
    config: Config, database_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    # Polling mode with the inbox outside the library: the inbox is its own polled folder,
    # empty again after each move out of it. That is no unmount.
    inbox = tmp_path / "elsewhere" / "inbox"
    inbox.mkdir(parents=True)
    config = fast(config.replace("library", inbox=inbox), polling=True)
    original = make_video(tmp_path / "drop.mp4", seconds=0.5)
    async with running_service(config, database_url) as service:
        with capture_logs() as logs:
            shutil.copyfile(original, inbox / "drop.mp4")

            async def moved_in() -> list[Any]:
                return [v for v in await rows(engine) if v.original_filename == "drop.mp4"]

            await eventually(moved_in, 20, "the inbox file in the library")
            assert list(inbox.iterdir()) == []
            await _walks(service, 1)  # a walk that saw the inbox empty
            reconciled = service.reconciled
            await _walks(service, 5)
            assert service.reconciled == reconciled  # no pass per poll interval
        assert _emptied_warnings(logs) == []


async def test_an_emptied_library_folder_starts_one_reconcile_not_one_per_poll(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    original = make_video(tmp_path / "drop.mp4", seconds=0.5)
    async with running_service(fast(config, polling=True), database_url) as service:
        shutil.copyfile(original, library_root / "videos" / "drop.mp4")
        await listed(engine, "videos/drop.mp4", timeout=15)
        await _walks(service, 1)  # a walk that saw the file
        with capture_logs() as logs:
            reconciled = service.reconciled
            (library_root / "videos" / "drop.mp4").unlink()  # as a share unmounted looks
            await _walks(service, 6)

            async def one_more_pass() -> bool:
                return service.reconciled > reconciled

            await eventually(one_more_pass, 20, "the reconcile the emptying asked for")
            await _walks(service, 5)  # the folder is still empty: no pass per walk
            assert service.reconciled == reconciled + 1
        assert _emptied_warnings(logs) == [str(library_root)]
