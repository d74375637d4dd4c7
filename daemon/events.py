"""What to do with a file system event: a pure function returning frozen decisions.

The watcher turns watchdog's events into `FsEvent`s with stored paths (`studios/a/x.mp4`,
None outside the library's folders); `decide_event` says what the service must do, and
the async code carries it out (tests/daemon/test_events.py, case by case).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from videolib.daemon.debounce import Signal
from videolib.shared.media.names import DIRECTORY_TYPES, is_ignored, is_video_name


class Kind(Enum):
    CREATED = "created"
    MODIFIED = "modified"
    CLOSED = "closed"
    MOVED = "moved"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class FsEvent:
    """One event, with stored paths (None when outside the nine folders and the inbox)."""

    kind: Kind
    path: str | None
    dest: str | None = None  # for MOVED
    is_directory: bool = False


@dataclass(frozen=True, slots=True)
class Ignore:
    why: str


@dataclass(frozen=True, slots=True)
class Touch:
    """The file changed: debounce it, then ingest it."""

    path: str
    signal: Signal


@dataclass(frozen=True, slots=True)
class Move:
    """A file renamed or moved inside the library: move its record, keeping its id."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class MoveTree:
    """A folder renamed or moved inside the library: move every record under it."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class MarkMissing:
    """A file deleted or moved out of the library."""

    path: str


@dataclass(frozen=True, slots=True)
class MarkMissingTree:
    """A folder deleted or moved out of the library."""

    prefix: str


@dataclass(frozen=True, slots=True)
class Walk:
    """A folder appeared (created or moved in): look for files already in it."""

    prefix: str


@dataclass(frozen=True, slots=True)
class TypeFolderGone:
    """A whole type folder vanished: a mount problem, not a mass deletion (issue 4 §8)."""

    directory_type: str


Action = Ignore | Touch | Move | MoveTree | MarkMissing | MarkMissingTree | Walk | TypeFolderGone

_TOUCH_SIGNALS = {
    Kind.CREATED: Signal.APPEAR,
    Kind.MODIFIED: Signal.WRITE,
    Kind.CLOSED: Signal.CLOSE,
}


def name_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def is_tracked(path: str | None) -> bool:
    """A stored path of a video file (not ignored, not a folder name)."""
    return path is not None and "/" in path and is_video_name(name_of(path))


def _has_ignored_part(path: str) -> bool:
    # A hidden folder (.Trash, .sync) hides what is under it, as the walk of ingest does not.
    return any(is_ignored(part) for part in path.split("/")[1:-1])


def decide_event(event: FsEvent) -> Action:
    """Decide what one event means for the records."""
    if event.kind is Kind.MOVED:
        return _decide_move(event.path, event.dest, event.is_directory)
    path = event.path
    if path is None:
        return Ignore("outside the library")
    if event.is_directory:
        return _decide_directory(event.kind, path)
    if not is_tracked(path) or _has_ignored_part(path):
        return Ignore("not a video name")
    if event.kind is Kind.DELETED:
        return MarkMissing(path)
    return Touch(path, _TOUCH_SIGNALS[event.kind])


def _decide_directory(kind: Kind, path: str) -> Action:
    if "/" not in path:
        if kind is Kind.DELETED and path in DIRECTORY_TYPES:
            return TypeFolderGone(path)
        if kind is Kind.CREATED and path in DIRECTORY_TYPES:
            return Walk(path)
        return Ignore("top-level folder")
    if kind is Kind.CREATED:
        return Walk(path)
    if kind is Kind.DELETED:
        return MarkMissingTree(path)
    return Ignore("folder modified")


def _decide_move(old: str | None, new: str | None, is_directory: bool) -> Action:
    if is_directory:
        return _decide_folder_move(old, new)
    old_tracked = is_tracked(old) and not _has_ignored_part(old or "")
    new_tracked = is_tracked(new) and not _has_ignored_part(new or "")
    if old is not None and new is not None and old_tracked and new_tracked:
        return Move(old, new)
    if new is not None and new_tracked:
        # From outside, or from an ignored name: a `.part` renamed to its final name is
        # complete now (issue 4 §1).
        return Touch(new, Signal.RENAMED)
    if old is not None and old_tracked:
        return MarkMissing(old)
    return Ignore("not a video name")


def _decide_folder_move(old: str | None, new: str | None) -> Action:
    old_inside = old is not None and "/" in old
    new_inside = new is not None and "/" in new
    if old is not None and new is not None and old_inside and new_inside:
        return MoveTree(old, new)
    if new is not None and (new_inside or new in DIRECTORY_TYPES):
        return Walk(new)
    if old is not None and old_inside:
        return MarkMissingTree(old)
    if old in DIRECTORY_TYPES:
        return TypeFolderGone(old or "")
    return Ignore("folder outside the library")


def stored_path(path: str, root: str, inbox: str) -> str | None:
    """The stored form of an absolute event path, by prefix only (the file may be gone).

    `root` and `inbox` are absolute, without a trailing slash. Paths outside the nine
    folders and the inbox give None.
    """
    for base, prefix in ((inbox, "inbox"), (root, "")):
        if path == base:
            return prefix or None
        if path.startswith(base + "/"):
            rest = path[len(base) + 1 :]
            stored = f"{prefix}/{rest}" if prefix else rest
            if stored.split("/", 1)[0] in DIRECTORY_TYPES:
                return stored
            return None
    return None
