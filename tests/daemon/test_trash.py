"""The running daemon and the trash (issue 11 §3): a trash and a restore while it watches
record nothing wrong. Real inotify, files and PostgreSQL. (The purge is an engine job:
tests/integration/test_maintenance_jobs.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import ObservedScheduler, eventually, fast, listed, rows, running_service
from tests.media import make_video
from videolib.daemon.events import Kind
from videolib.shared.config import Config
from videolib.shared.db.repository import TrashRepository
from videolib.shared.library import Library
from videolib.shared.trash import Trash


async def reconciled_again(service: ObservedScheduler) -> None:
    """Ask for one more pass and wait until it has finished."""
    before = service.reconciled
    service._reconcile_now.set()

    async def done() -> bool:
        return service.reconciled > before and service.is_idle()

    await eventually(done, 60, "another reconciliation")


@pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])
async def test_trash_and_restore_under_a_running_daemon_record_nothing_wrong(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, polling: bool
) -> None:
    trash = Trash(Library.from_config(config), TrashRepository(engine), config.thumbnail_dir)
    async with running_service(fast(config, polling=polling), database_url) as service:
        # Two files: the poller takes a folder emptied at once for an unmount (daemon/poll.py).
        make_video(library_root / "studios" / "other.mp4")
        make_video(library_root / "videos" / "clip.mp4")
        other = await listed(engine, "studios/other.mp4")
        video = await listed(engine, "videos/clip.mp4")
        await eventually(lambda: _idle(service), 30, "the drop to be handled")

        trashed = await trash.trash(video.id)

        # A rename into a folder just made (the day's) is not paired by inotify: it may come
        # as a move out of the library or as a delete. Either must leave the record alone.
        await eventually(
            lambda: _saw(service, 0, (Kind.MOVED, Kind.DELETED), "videos/clip.mp4"),
            30,
            "the daemon to see the file go to the trash",
        )
        await reconciled_again(service)
        after_trash = await rows(engine)
        assert [(v.id, v.path, v.invalid_reason) for v in after_trash] == [
            (video.id, trashed.path, "trashed"),
            (other.id, "studios/other.mp4", None),
        ]

        since = len(service.received)
        restored = await trash.restore(video.id)
        assert restored.path == "videos/clip.mp4"
        await eventually(
            lambda: _saw(service, since, (Kind.MOVED, Kind.CREATED), "videos/clip.mp4"),
            30,
            "the daemon to see the file come back",
        )
        await reconciled_again(service)
        final = await rows(engine)
        assert [(v.id, v.path, v.is_valid, v.file_hash) for v in final] == [
            (other.id, "studios/other.mp4", True, other.file_hash),
            (video.id, "videos/clip.mp4", True, video.file_hash),
        ]


async def _idle(service: ObservedScheduler) -> bool:
    return service.is_idle()


async def _saw(service: ObservedScheduler, since: int, kinds: tuple[Kind, ...], path: str) -> bool:
    """An event of one of `kinds` about `path` came after the first `since`, and was handled."""
    return service.is_idle() and any(
        e.kind in kinds and path in (e.path, e.dest) for e in service.received[since:]
    )
