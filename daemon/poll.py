"""Polling without watchdog's PollingObserver: one stat-walk per interval, diffed.

Where inotify sees nothing (network mounts, `daemon.polling`) or could not be used (the
watch limit was reached), the folders are polled. watchdog's PollingObserver re-walked
the whole tree every second and stat-ed every entry twice; this walks the video files
once per `daemon.poll_interval_seconds`, with the reconciler's cost (one scandir per
folder, one stat per video file; hidden folders skipped), and turns the difference from
the last walk into the same `FsEvent`s the inotify watcher delivers. A file that keeps
its inode under a new name is a move, so a rename keeps its record without a re-probe.

`walk` does the I/O; `diff` is pure (tests/unit/test_poll.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from videolib.shared.media.names import is_ignored, is_video_name

from .events import FsEvent, Kind, stored_path


@dataclass(frozen=True, slots=True)
class Seen:
    """What a walk saw of one file."""

    size: int
    mtime_ns: int
    inode: tuple[int, int]  # (st_dev, st_ino): a rename keeps it


#: Absolute path -> what was seen of it.
Snapshot = dict[str, Seen]


def walk(tops: Iterable[str]) -> Snapshot:
    """The video files under `tops` (blocking): folders that vanish mid-walk are skipped."""
    snapshot: Snapshot = {}
    for top in tops:
        for path, stat in _files(top):
            snapshot[path] = Seen(stat.st_size, stat.st_mtime_ns, (stat.st_dev, stat.st_ino))
    return snapshot


def walk_each(tops: Iterable[str]) -> dict[str, Snapshot]:
    """One snapshot per top folder (blocking)."""
    return {top: walk([top]) for top in tops}


def looks_unmounted(last: Snapshot, new: Snapshot) -> bool:
    """Every file of a folder gone at once: a share unmounted, not a mass deletion."""
    return bool(last) and not new


def _files(top: str) -> Iterator[tuple[str, os.stat_result]]:
    folders = [top]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if not is_ignored(entry.name):
                                folders.append(entry.path)
                        elif is_video_name(entry.name):
                            yield entry.path, entry.stat()
                    except OSError:
                        continue  # gone between the listing and the stat
        except OSError:
            continue  # the folder went away or cannot be read: the next walk sees it


def diff(old: Snapshot, new: Snapshot) -> list[tuple[Kind, str, str | None]]:
    """The events between two walks: (kind, path, destination of a move), in a stable order.

    A path that vanished while one with its inode appeared is a move; a path whose size
    or mtime changed was modified; the rest were created or deleted.
    """
    gone = {path: seen for path, seen in old.items() if path not in new}
    appeared = [path for path in new if path not in old]
    gone_by_inode = {seen.inode: path for path, seen in gone.items()}
    events: list[tuple[Kind, str, str | None]] = []
    for path in appeared:
        source = gone_by_inode.pop(new[path].inode, None)
        if source is not None:
            del gone[source]
            events.append((Kind.MOVED, source, path))
        else:
            events.append((Kind.CREATED, path, None))
    for path, seen in new.items():
        before = old.get(path)
        if before is not None and (before.size, before.mtime_ns) != (seen.size, seen.mtime_ns):
            events.append((Kind.MODIFIED, path, None))
    events += [(Kind.DELETED, path, None) for path in gone]
    return events


def to_events(
    changes: Iterable[tuple[Kind, str, str | None]], root: str, inbox: str
) -> list[FsEvent]:
    """The changes as the watcher's events, with stored paths."""
    return [
        FsEvent(
            kind,
            stored_path(path, root, inbox),
            stored_path(dest, root, inbox) if dest is not None else None,
        )
        for kind, path, dest in changes
    ]
