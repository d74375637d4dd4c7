"""When is a file complete? Pure timing logic, per path, with `now` injected.

A burst of events on one path coalesces into one pending entry. A path is complete
(SPEC: Daemon behaviour, issue 4 §2):

- after a close-after-write (inotify IN_CLOSE_WRITE) or a rename to its final name,
  followed by `quiet_seconds` without another write;
- where close events are not delivered (polling observer, network mounts), or when no
  write was seen at all (a hard link, a file that was already there), once its size and
  mtime have stayed still for `settle_seconds` and no event came for as long;
- on inotify, a file that was written but whose close never came (a missed event) falls
  back to the stillness rule only after `stall_seconds`, so a slow writer that pauses
  while holding the file open is not taken mid-copy.

Nothing here reads the disk or a clock: the caller feeds events and stat results and asks
which paths are due (tests/daemon/test_debounce.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

#: (size, mtime_ns) of a file, or None when it is gone.
Stat = tuple[int, int] | None

#: How long a written file may wait for its close before stillness alone will do.
STALL_SECONDS = 30.0


class Signal(Enum):
    """What an event says about a file's completeness."""

    WRITE = "write"  # content changed: wait for the close (or stillness without close events)
    CLOSE = "close"  # closed after writing: complete after the quiet time
    RENAMED = "renamed"  # renamed to its final name (e.g. from .part): complete after quiet
    APPEAR = "appear"  # seen without a write (created, linked, found by a walk): stillness


@dataclass(slots=True)
class Pending:
    """What is known of one path since its first event."""

    last_event: float
    closed_at: float | None = None  # last close or rename with no write after it
    wrote: bool = False  # a write was seen since the last close
    stat: Stat = None
    still_since: float | None = None  # when `stat` last changed (None: not stat-ed yet)


@dataclass(frozen=True, slots=True)
class Timing:
    settle_seconds: float
    quiet_seconds: float
    close_events: bool  # True on inotify, False for the polling observer
    stall_seconds: float = STALL_SECONDS


def with_close_events(timing: Timing, close_events: bool) -> Timing:
    """The timing once close events stop (or start) coming, e.g. inotify fell back to polling.

    Without the switch, a polled file seen written would wait out `stall_seconds` for a
    close that never comes.
    """
    if timing.close_events == close_events:
        return timing
    return dataclasses.replace(timing, close_events=close_events)


def apply(entry: Pending | None, signal: Signal, now: float) -> Pending:
    """The pending entry after one more event on the path."""
    entry = entry or Pending(last_event=now)
    entry.last_event = now
    if signal in (Signal.CLOSE, Signal.RENAMED):
        entry.closed_at, entry.wrote = now, False
    elif signal is Signal.WRITE:
        entry.closed_at, entry.wrote = None, True
    return entry


def observe(entry: Pending, stat: Stat, now: float) -> None:
    """Record a stat result; stillness is counted from the last change."""
    if entry.still_since is None or stat != entry.stat:
        entry.stat, entry.still_since = stat, now


def needs_stat(entry: Pending, timing: Timing) -> bool:
    """Whether completeness depends on stat results (rather than a close)."""
    return not (timing.close_events and entry.closed_at is not None)


def is_complete(entry: Pending, now: float, timing: Timing) -> bool:
    """Whether the file can be ingested now."""
    if timing.close_events and entry.closed_at is not None:
        return now - entry.closed_at >= timing.quiet_seconds
    if entry.still_since is None:
        return False
    wait = timing.settle_seconds
    if timing.close_events and entry.wrote:
        wait = max(wait, timing.stall_seconds)
    return now - entry.still_since >= wait and now - entry.last_event >= wait


class Debouncer:
    """Pending paths and their timing state; `take` hands out the complete ones."""

    def __init__(self, timing: Timing, capacity: int = 50_000) -> None:
        self.timing = timing
        self.capacity = capacity
        self._pending: dict[str, Pending] = {}
        #: Set when an event was dropped because `capacity` was reached: reconcile.
        self.overflowed = False

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: object) -> bool:
        return path in self._pending

    def event(self, path: str, signal: Signal, now: float) -> None:
        """One more event on a path (created, modified, closed, renamed to)."""
        entry = self._pending.get(path)
        if entry is None and len(self._pending) >= self.capacity:
            self.overflowed = True
            return
        self._pending[path] = apply(entry, signal, now)

    def forget(self, path: str) -> None:
        """Drop a path (deleted or moved away)."""
        self._pending.pop(path, None)

    def forget_under(self, prefix: str) -> None:
        """Drop every path under a folder (a folder deleted or moved away)."""
        start = prefix.rstrip("/") + "/"
        for path in [p for p in self._pending if p.startswith(start)]:
            del self._pending[path]

    def to_stat(self) -> list[str]:
        """Paths whose completeness waits on stat results."""
        return [p for p, e in self._pending.items() if needs_stat(e, self.timing)]

    def observed(self, results: Iterable[tuple[str, Stat]], now: float) -> None:
        """Feed stat results; a path found gone is dropped (its delete event says the rest)."""
        for path, stat in results:
            entry = self._pending.get(path)
            if entry is None:
                continue
            if stat is None:
                del self._pending[path]
            else:
                observe(entry, stat, now)

    def take(self, now: float, limit: int) -> list[str]:
        """Up to `limit` complete paths, removed from the pending set, oldest first."""
        due: list[str] = []
        for path, entry in self._pending.items():
            if len(due) >= limit:
                break
            if is_complete(entry, now, self.timing):
                due.append(path)
        for path in due:
            del self._pending[path]
        return due
