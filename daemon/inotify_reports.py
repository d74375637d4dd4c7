"""What watchdog's inotify layer swallows, reported: queue overflows and refused watches.

watchdog (7.x) handles both on its own and tells its handlers nothing:
- On IN_Q_OVERFLOW, `InotifyWatchGroup.on_queue_overflow` drops its pending moves and
  rebuilds the recursive watches; the events the kernel dropped are gone, and so are the
  files they named until the next periodic pass (issue 11 §2).
- `InotifyWatchGroup._add_callback` swallows every OSError below the watched root, so a
  watch limit (ENOSPC: max_user_watches) reached part way through a tree, at start, for
  a folder created later or in an overflow's rebuild, leaves that subtree unwatched
  without a word. Only the root's refusal reaches `schedule`.

Both pass through the one `InotifyFD` of an observer, by its public methods: `add_callback`
for every watch added and `handle_event` for every event read. `ReportingObserver` is
watchdog's `InotifyObserver` on an `InotifyFD` that reports them to a `WatchReports`.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterable

from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver
from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
from watchdog.observers.inotify_c import (
    CallbackId,
    InotifyEvent,
    InotifyFD,
    Mask,
    WatchCallback,
    WatchDescriptor,
)

from videolib.shared.media.names import is_ignored

# ENOSPC: fs.inotify.max_user_watches reached; EMFILE: max_user_instances reached.
LIMIT_ERRORS = (errno.ENOSPC, errno.EMFILE)


class WatchReports:
    """Thread-safe: filled from watchdog's threads, read by the watcher on the loop's side.

    `on_overflow` is called in watchdog's reader thread, after watchdog rebuilt its
    watches: it must only hand over (`call_soon_threadsafe`), never block.
    """

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        self._on_overflow = on_overflow
        self._lock = threading.Lock()
        self._refused: dict[str, str] = {}  # folder -> the error, in the order tried

    def overflowed(self) -> None:
        self._on_overflow()

    def refused(self, path: str, error: str) -> None:
        with self._lock:
            self._refused[path] = error

    def take_refused(self) -> dict[str, str]:
        """The folders refused a watch for the limit since the last call, with the error."""
        with self._lock:
            taken, self._refused = self._refused, {}
        return taken


def subtree_tops(refused: Iterable[str], targets: Iterable[str]) -> list[str]:
    """The refused folders worth a stat-walk: one per refused subtree, under a target.

    A refused folder's subfolders are refused too while the limit holds (watchdog tries
    each one), so the tops stand for whole subtrees. Hidden folders are skipped, as the
    walks of ingest and poll skip them.
    """
    bases = [target.rstrip("/") for target in targets]
    tops: list[str] = []
    for folder in sorted(set(refused)):
        base = next((b for b in bases if folder.startswith(b + "/")), None)
        if base is None:
            continue  # a target itself (polled whole already) or outside them
        if any(is_ignored(part) for part in folder[len(base) + 1 :].split("/")):
            continue
        if not any(folder.startswith(top + "/") for top in tops):
            tops.append(folder)
    return tops


#: Which folders get no watch (their events are nobody's): a path -> True to skip it.
Unwatched = Callable[[str], bool]


class _ReportingInotifyFD(InotifyFD):
    def __init__(self, reports: WatchReports, unwatched: Unwatched) -> None:
        super().__init__()
        self._reports = reports
        self._unwatched = unwatched

    def add_callback(
        self, path: bytes, mask: Mask, callback: WatchCallback, id_: CallbackId
    ) -> WatchDescriptor:
        if self._unwatched(os.fsdecode(path)):
            # Refused as an unreadable folder is: watchdog skips it below the root, with
            # its events, and tries none of it again until it is created anew.
            raise OSError(errno.EPERM, "not watched", os.fsdecode(path))
        try:
            return super().add_callback(path, mask, callback, id_)
        except OSError as error:
            if error.errno in LIMIT_ERRORS:
                self._reports.refused(os.fsdecode(path), str(error))
            raise  # watchdog swallows it below the root, and raises it for the root

    def handle_event(self, event: InotifyEvent) -> None:
        # watchdog first drops its pending moves and re-adds every watch (its own walk),
        # so the reconciliation this report asks for starts with the watches in place.
        super().handle_event(event)
        if event.is_queue_overflow:
            self._reports.overflowed()


class ReportingObserver(InotifyObserver):
    """watchdog's inotify observer, reporting overflows and refused watches to `reports`."""

    def __init__(
        self,
        reports: WatchReports,
        *,
        unwatched: Unwatched = lambda _path: False,
        timeout: float = DEFAULT_OBSERVER_TIMEOUT,
    ) -> None:
        # InotifyObserver.__init__ with our InotifyFD: it builds its own and offers no
        # parameter for it. Its on_thread_stop stops and joins `_inotify_fd` as usual.
        self._inotify_fd = _ReportingInotifyFD(reports, unwatched)
        self._inotify_fd.start()
        BaseObserver.__init__(self, InotifyEmitter, timeout=timeout, inotify_fd=self._inotify_fd)
