"""watchdog observers -> asyncio: events cross from watchdog's thread with call_soon_threadsafe.

One recursive watch on the library root (so a move between two type folders arrives as one
paired move, not a delete and a create) and one on the inbox when it lives elsewhere.
watchdog's recursive inotify watch adds watches for folders created later and reports
the contents of a folder moved in. inotify drops events when its queue overflows and
watchdog tells its handlers nothing (gorakhargosh/watchdog#654): `ReportingObserver`
(daemon/inotify_reports.py) reports it, and the scheduler reconciles at once.
A folder that cannot be watched (`daemon.polling`, or the watch limit reached, for a
target or, reported the same way, for a subtree below it) is listed in `Watcher.polled`
for the scheduler's stat-walk poller (daemon/poll.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, ObservedWatch

from videolib.daemon.events import FsEvent, Kind, stored_path
from videolib.daemon.inotify_reports import (
    LIMIT_ERRORS,
    ReportingObserver,
    WatchReports,
    subtree_tops,
)
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.trash_paths import TRASH_FOLDER

log = get_logger(__name__)

# Only what the pipeline uses: opens and close-without-write (our own probes read every
# file) and attribute changes would be noise, and the inotify mask is narrowed to match.
EVENT_FILTER = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]
_KINDS = {
    "created": Kind.CREATED,
    "modified": Kind.MODIFIED,
    "closed": Kind.CLOSED,
    "moved": Kind.MOVED,
    "deleted": Kind.DELETED,
}
#: Why a folder is polled: `daemon.polling`, or inotify's watch limit.
POLLING, WATCH_LIMIT = "polling", "watch_limit"
LIMIT_HINT = (
    "raise the limit: sysctl fs.inotify.max_user_watches=524288 "
    "(and fs.inotify.max_user_instances=1024), persist it in /etc/sysctl.d/"
)


def _in_trash(root: str) -> Callable[[str], bool]:
    """The library's trash gets no watch: nothing in it is recorded from its events (it is
    outside the nine folders), each day folder would cost watches towards
    `max_user_watches`, and a day folder made just before a rename into it raced
    watchdog's recursive add (the same folder added twice: its RuntimeWarning, raised in
    its reader thread under the tests' warnings-as-errors, ended the watch). A file moved
    into the trash is then a delete under its type folder, one moved out a create."""
    trash = os.path.join(root, TRASH_FOLDER)
    return lambda path: path == trash or path.startswith(trash + "/")


def _text(path: bytes | str) -> str:
    return os.fsdecode(path)


class _Handler(FileSystemEventHandler):
    """Runs in watchdog's thread: converts the event and hands it to the loop, never blocking."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[FsEvent], None],
        root: str,
        inbox: str,
    ) -> None:
        self.loop, self.deliver, self.root, self.inbox = loop, deliver, root, inbox

    def dispatch(self, event: FileSystemEvent) -> None:
        kind = _KINDS.get(event.event_type)
        if kind is None or (event.is_directory and kind is Kind.MODIFIED):
            return
        src = stored_path(_text(event.src_path), self.root, self.inbox) if event.src_path else None
        dest = None
        if kind is Kind.MOVED and event.dest_path:
            dest = stored_path(_text(event.dest_path), self.root, self.inbox)
        converted = FsEvent(kind, src, dest, event.is_directory)
        with suppress(RuntimeError):  # the loop closed during shutdown
            self.loop.call_soon_threadsafe(self.deliver, converted)


class Watcher:
    """The inotify watches of one library, and the folders polled instead.

    `close_events` says whether FileClosedEvent comes: False as soon as any folder is
    polled (`daemon.polling`, or the watch limit hit at start or while running), and the
    scheduler switches the debouncer's timing to match. The polling itself is the
    scheduler's stat-walk loop over `polled` (daemon/poll.py).
    """

    def __init__(
        self,
        library: Library,
        deliver: Callable[[FsEvent], None],
        loop: asyncio.AbstractEventLoop,
        *,
        polling: bool = False,
        on_overflow: Callable[[], None] = lambda: None,
    ) -> None:
        self.library = library
        self.polling = polling
        root, inbox = str(library.root), str(library.inbox)
        self._handler = _Handler(loop, deliver, root, inbox)
        self._targets = [root]
        if not inbox.startswith(root + "/"):
            self._targets.append(inbox)

        def overflowed() -> None:  # in watchdog's reader thread
            with suppress(RuntimeError):  # the loop closed during shutdown
                loop.call_soon_threadsafe(on_overflow)

        self._reports = WatchReports(overflowed)
        self._inotify: BaseObserver | None = (
            None if polling else ReportingObserver(self._reports, unwatched=_in_trash(root))
        )
        self._watches: dict[str, tuple[BaseObserver, ObservedWatch]] = {}
        #: Folders walked by the poller instead of watched, in the order they were added.
        self.polled: list[str] = []
        #: Why each polled folder is polled: POLLING or WATCH_LIMIT.
        self.poll_reasons: dict[str, str] = {}
        self.close_events = not polling

    def start(self) -> None:
        """Start observing; folders missing now are retried by `check`."""
        if self._inotify is not None:
            self._inotify.start()
        for target in self._targets:
            self._schedule(target)
        self.poll_refused()

    def stop(self) -> None:
        if self._inotify is not None and self._inotify.is_alive():
            self._inotify.stop()
            self._inotify.join(timeout=2.0)

    def check(self) -> bool:
        """Re-watch folders that were missing or whose watch died; True if any was added."""
        added = False
        for target in self._targets:
            if target in self.polled:
                continue  # the poller sees it whenever it is there
            current = self._watches.get(target)
            if current is not None and self._alive(*current):
                continue
            if current is not None:
                with suppress(KeyError, OSError):
                    current[0].unschedule(current[1])
                del self._watches[target]
            added = self._schedule(target) or added
        return added

    def rewatch(self, target: str) -> bool:
        """Rebuild the watch of a target: a share mounted or unmounted under it hid the
        watched folders (daemon/remount.py). True if it is watched or polled again."""
        if target in self.polled:
            return True  # the poller walks the paths, whatever is mounted there
        current = self._watches.pop(target, None)
        if current is not None:
            with suppress(KeyError, OSError):
                current[0].unschedule(current[1])
        return self._schedule(target)

    def target_of(self, folder: str) -> str:
        """The watched target a library folder is under (the root's, or the inbox's)."""
        return next(
            (t for t in reversed(self._targets) if (folder + "/").startswith(t + "/")),
            self._targets[0],
        )

    def _alive(self, observer: BaseObserver, watch: ObservedWatch) -> bool:
        return any(e.watch == watch and e.is_alive() for e in observer.emitters)

    def _schedule(self, target: str) -> bool:
        if not Path(target).is_dir():
            log.warning("watch_folder_missing", path=target)
            return False
        if self._inotify is None:
            return self._poll(target, POLLING)
        try:
            watch = self._inotify.schedule(
                self._handler, target, recursive=True, event_filter=EVENT_FILTER
            )
        except OSError as error:
            if error.errno not in LIMIT_ERRORS:
                log.error("watch_failed", path=target, error=str(error))
                return False
            # One clear line, then this subtree is polled (issue 4 §8).
            log.error("inotify_limit_reached", path=target, error=str(error), fix=LIMIT_HINT)
            return self._poll(target, WATCH_LIMIT)
        self._watches[target] = (self._inotify, watch)
        log.info("watching", path=target, polling=False)
        return True

    def poll_refused(self) -> list[str]:
        """Poll the subtrees refused a watch since the last call; the folders newly polled.

        watchdog swallows the limit below a target (daemon/inotify_reports.py): without
        this, those subtrees went unwatched with no word. They stay polled until a
        restart, even once watches come free again (a deleted tree gives its watches
        back): a poll costs one stat-walk, a wrong guess that they are watched costs files.
        """
        refused = self._reports.take_refused()
        added = []
        for top in subtree_tops(refused, self._targets):
            if any(top == p or top.startswith(p + "/") for p in self.polled):
                continue  # a polled folder's walk covers it already
            error = refused[top]
            log.error("inotify_limit_reached", path=top, error=error, subtree=True, fix=LIMIT_HINT)
            self._poll(top, WATCH_LIMIT)
            added.append(top)
        return added

    def _poll(self, target: str, reason: str) -> bool:
        self.polled.append(target)
        self.poll_reasons[target] = reason
        self.close_events = False
        log.info("watching", path=target, polling=True)
        return True
