"""Noticing a share that went or came back: the device (st_dev) of each library folder.

Mounting over a watched folder hides the watched inode, so inotify goes silent about the
new contents, and an unmount sends only IN_UNMOUNT, which watchdog drops. The watch
checker therefore compares the folders' devices between two looks: a change means the
watch must be rebuilt and the folder reconciled (issue 11 §1). `devices` does the I/O;
`changed` is pure (tests/unit/test_remount.py).
"""

from __future__ import annotations

import os

from videolib.shared.library import Library
from videolib.shared.media.names import DIRECTORY_TYPES

#: Folder name ("." the root, else a directory type) -> its device; None: not there.
Devices = dict[str, int | None]


def devices(library: Library) -> Devices:
    """The device of the root and of each type folder now (blocking)."""
    folders = {".": library.root} | {t: library.directory(t) for t in DIRECTORY_TYPES}
    seen: Devices = {}
    for name, folder in folders.items():
        try:
            seen[name] = os.stat(folder).st_dev
        except OSError:
            seen[name] = None
    return seen


def changed(last: Devices, now: Devices) -> list[str]:
    """The folders whose device differs between two looks (a folder gone or back too)."""
    return sorted(name for name in last.keys() | now.keys() if last.get(name) != now.get(name))
