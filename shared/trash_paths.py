"""Where the trash keeps a file, and which days of it are due for purging. Pure.

The trash is `<root>/.trash/<day>/<original stored path>`, the day in UTC as YYYY-MM-DD.
It lives under the library root, so a file goes in and out by one rename on one file
system; its name starts with a dot, so no walk, watch or poll of a type folder sees it
(the watcher maps paths outside the nine type folders to None: daemon/events.py).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from datetime import UTC, date, datetime

TRASH_FOLDER = ".trash"


def trash_day(now: datetime) -> str:
    """The name of the day folder a file trashed at `now` goes to (UTC)."""
    return now.astimezone(UTC).date().isoformat()


def trash_path(stored_path: str, day: str, attempt: int = 0) -> str:
    """The stored trash path of a file: `.trash/<day>/<path>`, numbered after the first try.

    A number goes before the extension (`a-1.mp4`), for a path trashed twice in one day.
    """
    folder, name = posixpath.split(stored_path)
    if attempt:
        stem, extension = posixpath.splitext(name)
        name = f"{stem}-{attempt}{extension}"
    return posixpath.join(TRASH_FOLDER, day, folder, name)


def is_trash_path(stored_path: str) -> bool:
    """True for a stored path inside the trash (no `..` to leave it)."""
    parts = stored_path.split("/")
    return len(parts) > 2 and parts[0] == TRASH_FOLDER and ".." not in parts and "" not in parts


def parse_day(name: str) -> date | None:
    """The day a trash folder stands for; None for a name that is not one of ours."""
    if len(name) != 10:
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def expired_days(names: Iterable[str], today: date, retention_days: int) -> list[str]:
    """The day folders `retention_days` old or older, in date order; other names are kept."""
    due = []
    for name in names:
        day = parse_day(name)
        if day is not None and (today - day).days >= retention_days:
            due.append((day, name))
    return [name for _day, name in sorted(due)]
