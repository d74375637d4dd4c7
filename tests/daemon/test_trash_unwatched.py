"""The library's trash gets no inotify watch (daemon/watch.py `_in_trash`): a trash of many
day folders costs none of `max_user_watches`, and a file renamed into a day folder made
just before is one delete event under its type folder, never a race with watchdog's
recursive add (which re-added such a folder, warned in its reader thread, and under the
tests' warnings-as-errors ended the watch: the flaky trash test). Real inotify."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.daemon.harness import eventually
from tests.media import make_video
from videolib.daemon.events import FsEvent, Kind
from videolib.daemon.watch import Watcher
from videolib.shared.config import Config
from videolib.shared.library import Library


def inotify_watches() -> int:
    """The inotify watches this process holds, from the kernel (/proc/self/fdinfo)."""
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                total += sum(1 for line in info if line.startswith("inotify wd:"))
        except OSError:
            continue  # closed meanwhile
    return total


def folders_outside_trash(root: Path) -> int:
    """The root and every folder under it but the trash's."""
    trash = str(root / ".trash")
    return sum(1 for top, _, _ in os.walk(root) if not (top + "/").startswith(trash + "/"))


async def test_the_trash_costs_no_watch_and_a_move_into_it_is_a_delete(
    config: Config, library_root: Path
) -> None:
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        for directory_type in ("videos", "studios"):
            (library_root / ".trash" / day / directory_type).mkdir(parents=True)
    clip = make_video(library_root / "videos" / "clip.mp4")
    received: list[FsEvent] = []
    watcher = Watcher(Library.from_config(config), received.append, asyncio.get_running_loop())
    before = inotify_watches()
    watcher.start()
    try:
        watched = folders_outside_trash(library_root)
        assert inotify_watches() - before == watched
        # As Trash does: the day's folder made, then the file renamed into it at once.
        target = library_root / ".trash" / "2026-12-01" / "videos" / "clip.mp4"
        target.parent.mkdir(parents=True)
        os.rename(clip, target)

        async def gone() -> list[FsEvent]:
            return [e for e in received if "videos/clip.mp4" in (e.path, e.dest)]

        [event] = await eventually(gone, 30, "the event of the file leaving videos")
        assert (event.kind, event.path, event.dest) == (Kind.DELETED, "videos/clip.mp4", None)
        assert inotify_watches() - before == watched  # the new day folder got none either
    finally:
        watcher.stop()
