"""The debounce timing, as tables of cases: no clock, no files."""

from __future__ import annotations

import pytest

from videolib.daemon.debounce import Debouncer, Pending, Signal, Timing, apply, is_complete, observe

INOTIFY = Timing(settle_seconds=2.0, quiet_seconds=0.3, close_events=True, stall_seconds=30.0)
POLLING = Timing(settle_seconds=2.0, quiet_seconds=0.3, close_events=False)

W, C, R, A = Signal.WRITE, Signal.CLOSE, Signal.RENAMED, Signal.APPEAR


def entry_after(events: list[tuple[float, Signal]], stats: list[tuple[float, int]]) -> Pending:
    """Replay events and stat results (time, size) in time order."""
    timeline = [(t, "event", s) for t, s in events] + [(t, "stat", size) for t, size in stats]
    entry: Pending | None = None
    for t, what, value in sorted(timeline, key=lambda item: item[0]):
        if what == "event":
            assert isinstance(value, Signal)
            entry = apply(entry, value, t)
        else:
            assert entry is not None and isinstance(value, int)
            observe(entry, (value, 1), t)
    assert entry is not None
    return entry


@pytest.mark.parametrize(
    ("timing", "events", "stats", "now", "complete"),
    [
        # close-after-write, then the quiet time
        (INOTIFY, [(0, W), (0.1, W), (0.2, C)], [], 0.4, False),
        (INOTIFY, [(0, W), (0.1, W), (0.2, C)], [], 0.5, True),
        # a write after the close starts over: still being written
        (INOTIFY, [(0, W), (0.2, C), (0.3, W)], [], 5.0, False),
        (INOTIFY, [(0, W), (0.2, C), (0.3, W), (0.4, C)], [], 0.71, True),
        # renamed to its final name (a .part finished): complete after quiet
        (INOTIFY, [(0, R)], [], 0.2, False),
        (INOTIFY, [(0, R)], [], 0.3, True),
        # written, never closed (a slow copy pausing with the file open): not even when still
        (INOTIFY, [(0, W)], [(0.5, 10), (1.0, 10), (2.0, 10), (3.0, 10)], 3.0, False),
        (INOTIFY, [(0, W)], [(0.5, 10), (29.0, 10)], 29.9, False),
        # ... until the stall time: a missed close must not keep it pending for ever
        (INOTIFY, [(0, W)], [(0.5, 10), (31.0, 10)], 31.0, True),
        # appeared without a write (hard link, already there): stillness for settle
        (INOTIFY, [(0, A)], [(0.1, 10), (1.0, 10)], 2.0, False),
        (INOTIFY, [(0, A)], [(0.1, 10), (2.2, 10)], 2.2, True),
        (INOTIFY, [(0, A)], [(0.1, 10), (1.0, 20), (2.2, 20)], 2.2, False),
        (INOTIFY, [(0, A)], [(0.1, 10), (1.0, 20), (3.1, 20)], 3.1, True),
        # not stat-ed yet: never complete by stillness
        (INOTIFY, [(0, A)], [], 100.0, False),
        # polling: closes are not delivered, stillness for settle after the last event
        (POLLING, [(0, W), (1.0, W)], [(1.1, 10), (2.5, 10)], 2.5, False),
        (POLLING, [(0, W), (1.0, W)], [(1.1, 10), (3.2, 10)], 3.2, True),
        (POLLING, [(0, W)], [(0.1, 10), (1.0, 11), (2.9, 11)], 2.9, False),
        (POLLING, [(0, W)], [(0.1, 10), (1.0, 11), (3.0, 11)], 3.0, True),
        # a close event on a polling timing counts as nothing special
        (POLLING, [(0, C)], [(0.1, 10)], 0.5, False),
    ],
)
def test_completeness(
    timing: Timing,
    events: list[tuple[float, Signal]],
    stats: list[tuple[float, int]],
    now: float,
    complete: bool,
) -> None:
    assert is_complete(entry_after(events, stats), now, timing) is complete


def test_burst_on_one_path_is_one_entry_and_taken_once() -> None:
    debouncer = Debouncer(INOTIFY)
    for step in range(100):
        debouncer.event("videos/a.mp4", W, step * 0.01)
    debouncer.event("videos/a.mp4", C, 1.0)
    assert len(debouncer) == 1
    assert debouncer.take(1.2, limit=10) == []
    assert debouncer.take(1.3, limit=10) == ["videos/a.mp4"]
    assert debouncer.take(5.0, limit=10) == []


def test_take_respects_the_limit_and_keeps_the_rest() -> None:
    debouncer = Debouncer(INOTIFY)
    for index in range(5):
        debouncer.event(f"videos/{index}.mp4", C, 0.0)
    assert debouncer.take(1.0, limit=2) == ["videos/0.mp4", "videos/1.mp4"]
    assert len(debouncer) == 3
    assert debouncer.take(1.0, limit=10) == ["videos/2.mp4", "videos/3.mp4", "videos/4.mp4"]


def test_capacity_drops_new_paths_and_flags_overflow() -> None:
    debouncer = Debouncer(INOTIFY, capacity=2)
    debouncer.event("videos/a.mp4", W, 0)
    debouncer.event("videos/b.mp4", W, 0)
    debouncer.event("videos/a.mp4", C, 1)  # known path: still accepted
    assert not debouncer.overflowed
    debouncer.event("videos/c.mp4", W, 1)
    assert debouncer.overflowed and "videos/c.mp4" not in debouncer


def test_stat_feeds_only_paths_waiting_on_stillness_and_gone_files_are_dropped() -> None:
    debouncer = Debouncer(INOTIFY)
    debouncer.event("videos/closed.mp4", C, 0)
    debouncer.event("videos/linked.mp4", A, 0)
    debouncer.event("videos/gone.mp4", A, 0)
    assert debouncer.to_stat() == ["videos/linked.mp4", "videos/gone.mp4"]
    debouncer.observed([("videos/linked.mp4", (1, 1)), ("videos/gone.mp4", None)], 0.1)
    assert "videos/gone.mp4" not in debouncer
    assert debouncer.take(2.2, limit=10) == ["videos/closed.mp4", "videos/linked.mp4"]


def test_forget_under_drops_a_folder() -> None:
    debouncer = Debouncer(INOTIFY)
    for path in ("videos/a/x.mp4", "videos/a/b/y.mp4", "videos/ab.mp4"):
        debouncer.event(path, W, 0)
    debouncer.forget_under("videos/a")
    assert "videos/ab.mp4" in debouncer and len(debouncer) == 1
