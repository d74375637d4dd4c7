"""The poller's diff between two stat-walks, and the timing switch on a fallback: pure."""

from __future__ import annotations

import pytest

from videolib.daemon.debounce import (
    Pending,
    Signal,
    Timing,
    apply,
    is_complete,
    observe,
    with_close_events,
)
from videolib.daemon.events import Kind
from videolib.daemon.poll import Seen, Snapshot, diff, looks_unmounted, to_events

A = Seen(size=10, mtime_ns=1, inode=(1, 100))
B = Seen(size=20, mtime_ns=2, inode=(1, 200))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({}, {}, []),
        ({"/l/videos/a.mp4": A}, {"/l/videos/a.mp4": A}, []),  # unchanged: nothing
        ({}, {"/l/videos/a.mp4": A}, [(Kind.CREATED, "/l/videos/a.mp4", None)]),
        ({"/l/videos/a.mp4": A}, {}, [(Kind.DELETED, "/l/videos/a.mp4", None)]),
        (  # grew: modified
            {"/l/videos/a.mp4": A},
            {"/l/videos/a.mp4": Seen(11, 1, A.inode)},
            [(Kind.MODIFIED, "/l/videos/a.mp4", None)],
        ),
        (  # touched: modified
            {"/l/videos/a.mp4": A},
            {"/l/videos/a.mp4": Seen(10, 5, A.inode)},
            [(Kind.MODIFIED, "/l/videos/a.mp4", None)],
        ),
        (  # same inode under a new name: a move, not a delete and a create
            {"/l/videos/a.mp4": A},
            {"/l/studios/b.mp4": A},
            [(Kind.MOVED, "/l/videos/a.mp4", "/l/studios/b.mp4")],
        ),
        (  # one moved, one deleted, one new
            {"/l/videos/a.mp4": A, "/l/videos/b.mp4": B},
            {"/l/videos/c.mp4": A, "/l/videos/d.mp4": Seen(1, 1, (1, 300))},
            [
                (Kind.MOVED, "/l/videos/a.mp4", "/l/videos/c.mp4"),
                (Kind.CREATED, "/l/videos/d.mp4", None),
                (Kind.DELETED, "/l/videos/b.mp4", None),
            ],
        ),
        (  # an inode on another device is another file
            {"/l/videos/a.mp4": A},
            {"/l/videos/b.mp4": Seen(10, 1, (2, 100))},
            [(Kind.CREATED, "/l/videos/b.mp4", None), (Kind.DELETED, "/l/videos/a.mp4", None)],
        ),
    ],
)
def test_diff(old: Snapshot, new: Snapshot, expected: list[tuple[Kind, str, str | None]]) -> None:
    assert diff(old, new) == expected


def test_events_carry_stored_paths() -> None:
    events = to_events([(Kind.MOVED, "/l/videos/a.mp4", "/in/b.mp4")], "/l", "/in")
    assert [(e.kind, e.path, e.dest) for e in events] == [
        (Kind.MOVED, "videos/a.mp4", "inbox/b.mp4")
    ]


@pytest.mark.parametrize(
    ("last", "new", "unmounted"),
    [({}, {}, False), ({"/l/a.mp4": A}, {}, True), ({"/l/a.mp4": A}, {"/l/b.mp4": B}, False)],
)
def test_looks_unmounted(last: Snapshot, new: Snapshot, unmounted: bool) -> None:
    assert looks_unmounted(last, new) is unmounted


INOTIFY = Timing(settle_seconds=2.0, quiet_seconds=0.3, close_events=True, stall_seconds=30.0)


@pytest.mark.parametrize(
    ("timing", "close_events", "expected"),
    [
        (INOTIFY, True, INOTIFY),  # nothing changed: the same object
        (INOTIFY, False, Timing(2.0, 0.3, False, 30.0)),  # fell back to polling
        (Timing(2.0, 0.3, False), True, Timing(2.0, 0.3, True)),
    ],
)
def test_with_close_events(timing: Timing, close_events: bool, expected: Timing) -> None:
    switched = with_close_events(timing, close_events)
    assert switched == expected
    assert (switched is timing) == (timing == expected)


def test_a_polled_write_waits_the_settle_time_not_the_stall_once_switched() -> None:
    # What a polled file looks like: a write (modified), never a close.
    entry: Pending = apply(None, Signal.WRITE, now=0.0)
    observe(entry, (100, 1), now=0.0)
    switched = with_close_events(INOTIFY, close_events=False)
    assert not is_complete(entry, 3.0, INOTIFY)  # without the switch: waits for 30 s
    assert is_complete(entry, 3.0, switched)
