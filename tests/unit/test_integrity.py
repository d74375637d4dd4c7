"""The integrity budget and verdicts: pure decisions, tables of cases, no clock, no files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from videolib.shared.integrity.budget import (
    CATCH_UP_S,
    MB,
    Window,
    cycle_due_in,
    next_read_at,
    pacing_schedule,
)
from videolib.shared.integrity.chunks import split
from videolib.shared.integrity.verdict import Changed, Intact, Mismatch, Recorded, judge


def at(hh_mm: str) -> datetime:
    hours, minutes = (int(part) for part in hh_mm.split(":"))
    return datetime(2026, 12, 1, hours, minutes, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "now", "open_", "until_open_s"),
    [
        ("", "12:00", True, 0.0),
        ("01:00-06:00", "00:59", False, 60.0),
        ("01:00-06:00", "01:00", True, 0.0),  # start inclusive
        ("01:00-06:00", "05:59", True, 0.0),
        ("01:00-06:00", "06:00", False, 19 * 3600.0),  # end exclusive: tomorrow at 01:00
        ("01:00-06:00", "23:30", False, 1.5 * 3600),
        ("22:00-04:00", "23:00", True, 0.0),  # across midnight
        ("22:00-04:00", "03:59", True, 0.0),
        ("22:00-04:00", "04:00", False, 18 * 3600.0),
        ("22:00-04:00", "21:00", False, 3600.0),
        (" 1:00 - 6:00 ", "02:00", True, 0.0),  # spaces and one-digit hours are fine
    ],
)
def test_window_open_and_time_until_open(
    window: str, now: str, open_: bool, until_open_s: float
) -> None:
    parsed = Window.parse(window)
    assert parsed.is_open(at(now)) is open_
    assert parsed.seconds_until_open(at(now)) == until_open_s


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1am-6am", "expected"),
        ("01:00", "expected"),
        ("24:00-06:00", "hours are 0-23"),
        ("01:60-06:00", "minutes 0-59"),
        ("03:00-03:00", "the same"),
    ],
)
def test_window_refuses_what_it_cannot_read(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Window.parse(text)


def test_window_prints_as_configured() -> None:
    assert str(Window.parse("1:00-06:30")) == "01:00-06:30"
    assert str(Window.parse("")) == "always"


@pytest.mark.parametrize(
    ("scheduled", "now", "read", "rate", "expected"),
    [
        (0.0, 0.0, MB, MB, 1.0),  # 1 MB at 1 MB/s: the next read one second on
        (1.0, 0.2, MB, MB, 2.0),  # ahead of schedule: the schedule, not the clock, counts
        (10.0, 10.5, MB // 2, MB, 10.5),  # slightly behind (< CATCH_UP_S): made good
        (0.0, 100.0, MB, MB, 100.0 - CATCH_UP_S + 1.0),  # long pause: no burst afterwards
        (0.0, 0.0, 0, MB, 0.0),  # nothing read: no wait
    ],
)
def test_next_read_at(
    scheduled: float, now: float, read: int, rate: float, expected: float
) -> None:
    assert next_read_at(scheduled, now, read, rate) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("chunks", "rate_mb", "read_seconds"),
    [
        ([1 << 20] * 200, 20.0, 0.0),  # reads instant: the pacing alone sets the rate
        ([1 << 20] * 200, 20.0, 0.01),  # reads take half the budget
        ([1 << 20] * 50 + [12_345], 5.0, 0.001),  # a short last chunk
        ([4096] * 5000, 1.0, 0.0),  # small chunks: no rounding drift
    ],
)
def test_pacing_holds_the_configured_rate(
    chunks: list[int], rate_mb: float, read_seconds: float
) -> None:
    starts = pacing_schedule(chunks, rate_mb * MB, read_seconds)
    achieved = sum(chunks) / starts[-1]
    assert achieved == pytest.approx(rate_mb * MB, rel=0.01)


def test_pacing_is_bounded_by_slow_reads() -> None:
    """Reads slower than the budget: the disk sets the pace, the schedule adds no wait."""
    chunks = [1 << 20] * 100
    starts = pacing_schedule(chunks, 100.0 * MB, read_seconds=0.1)  # 10 MB/s disk
    assert starts[-1] == pytest.approx(100 * 0.1)


@pytest.mark.parametrize(
    ("last_started", "now", "hours", "expected"),
    [
        (None, "12:00", 24.0, 0.0),
        ("01:00", "12:00", 24.0, 13 * 3600.0),
        ("01:00", "12:00", 6.0, 0.0),  # the last cycle took longer than the interval
        ("12:00", "12:00", 0.0, 0.0),  # back to back
    ],
)
def test_cycle_due_in(last_started: str | None, now: str, hours: float, expected: float) -> None:
    started = at(last_started) if last_started else None
    assert cycle_due_in(started, at(now), timedelta(hours=hours)) == expected


RECORDED = Recorded(size=100, mtime_ns=5, sha256="a" * 64)


@pytest.mark.parametrize(
    ("before", "after", "digest", "verdict"),
    [
        ((100, 5), (100, 5), "a" * 64, Intact()),
        ((100, 5), (100, 5), "b" * 64, Mismatch("a" * 64, "b" * 64)),  # bit rot
        ((101, 5), (101, 5), "b" * 64, Changed((101, 5))),  # an edit: re-probe's business
        ((100, 6), (100, 6), "b" * 64, Changed((100, 6))),  # touched
        ((100, 5), (100, 7), "b" * 64, Changed((100, 7))),  # written while read
        ((100, 5), (100, 7), "a" * 64, Changed((100, 7))),
    ],
)
def test_judge(
    before: tuple[int, int], after: tuple[int, int], digest: str, verdict: object
) -> None:
    assert judge(RECORDED, before, after, digest) == verdict


# -- a cycle's ranges (shared/integrity/chunks.py) --------------------------------------------


@pytest.mark.parametrize(
    ("files", "max_files", "max_bytes", "ranges"),
    [
        ([], 2, 100, [("", None)]),  # an empty library: one open range
        ([("a", 1)], 2, 100, [("", None)]),
        ([("a", 1), ("b", 1), ("c", 1)], 2, 100, [("", "b"), ("b", None)]),
        ([("a", 1), ("b", 1), ("c", 1)], 1, 100, [("", "a"), ("a", "b"), ("b", None)]),
        # By bytes: a file that would pass max_bytes starts the next range...
        ([("a", 60), ("b", 60), ("c", 10)], 10, 100, [("", "a"), ("a", None)]),
        # ...and one larger than max_bytes is a range of its own.
        ([("a", 10), ("b", 500), ("c", 10)], 10, 100, [("", "a"), ("a", "b"), ("b", None)]),
        ([("a", 50), ("b", 50), ("c", 1)], 10, 100, [("", "b"), ("b", None)]),  # exactly full
    ],
)
def test_a_cycle_is_cut_into_ranges_by_files_and_bytes(
    files: list[tuple[str, int]],
    max_files: int,
    max_bytes: int,
    ranges: list[tuple[str, str | None]],
) -> None:
    cut = split(files, max_files=max_files, max_bytes=max_bytes)
    assert [(r.after, r.through) for r in cut] == ranges
    # Every path (and any path added later) is in exactly one range.
    for path in [name for name, _ in files] + ["0", "aa", "zz"]:
        assert sum(r.holds(path) for r in cut) == 1, path


def test_ranges_need_paths_in_order_and_positive_limits() -> None:
    with pytest.raises(ValueError, match="must come in order"):
        split([("b", 1), ("a", 1)])
    with pytest.raises(ValueError, match="at least 1"):
        split([], max_files=0)
