"""The trash's pure rules: where a file goes, which days are due, what a clean-up does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from videolib.shared.cleanup import DropOnly, Skip, TrashFile, decide
from videolib.shared.trash_paths import (
    expired_days,
    is_trash_path,
    parse_day,
    trash_day,
    trash_path,
)


@pytest.mark.parametrize(
    ("stored", "attempt", "expected"),
    [
        ("videos/a.mp4", 0, ".trash/2026-12-01/videos/a.mp4"),
        ("studios/x/y/a.mp4", 0, ".trash/2026-12-01/studios/x/y/a.mp4"),
        ("videos/a.mp4", 1, ".trash/2026-12-01/videos/a-1.mp4"),
        ("videos/a.b.MOV", 2, ".trash/2026-12-01/videos/a.b-2.MOV"),
        ("videos/noext", 1, ".trash/2026-12-01/videos/noext-1"),
    ],
)
def test_trash_path(stored: str, attempt: int, expected: str) -> None:
    assert trash_path(stored, "2026-12-01", attempt) == expected


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "2026-12-01"),
        (datetime(2026, 12, 1, 23, 59, tzinfo=UTC), "2026-12-01"),
        # 01:30 in UTC+2 is still the day before in UTC: one calendar for every process.
        (datetime(2026, 12, 2, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2026-12-01"),
    ],
)
def test_trash_day_is_utc(moment: datetime, day: str) -> None:
    assert trash_day(moment) == day


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        (".trash/2026-12-01/videos/a.mp4", True),
        (".trash/2026-12-01", False),
        ("videos/a.mp4", False),
        (".trash/2026-12-01/../../etc/passwd", False),
        (".trash//videos/a.mp4", False),
    ],
)
def test_is_trash_path(path: str, inside: bool) -> None:
    assert is_trash_path(path) is inside


@pytest.mark.parametrize(
    ("name", "day"),
    [("2026-12-01", date(2026, 12, 1)), ("2026-13-01", None), ("notes", None), ("20261201", None)],
)
def test_parse_day(name: str, day: date | None) -> None:
    assert parse_day(name) == day


TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("names", "retention", "due"),
    [
        ([], 30, []),
        (["2026-12-01"], 30, []),  # today
        (["2026-11-02"], 30, []),  # 29 days old: kept
        (["2026-11-01"], 30, ["2026-11-01"]),  # 30 days old: due
        (["2026-11-01", "2025-01-01", "2026-11-30"], 30, ["2025-01-01", "2026-11-01"]),
        (["2026-11-30"], 1, ["2026-11-30"]),
        (["lost+found", "2026-99-99", "old"], 1, []),  # not ours: never purged
        (["2027-01-01"], 1, []),  # a future day (a clock set back): kept
    ],
)
def test_expired_days(names: list[str], retention: int, due: list[str]) -> None:
    assert expired_days(names, TODAY, retention) == due


@pytest.mark.parametrize(
    ("reason", "present", "decision"),
    [
        ("deleted", True, TrashFile()),
        ("corrupt", True, TrashFile()),
        ("deleted", False, DropOnly()),
        ("missing", False, DropOnly()),
        ("corrupt", False, DropOnly()),
        ("missing", True, Skip("its file is back on disk")),
    ],
)
def test_cleanup_decision(reason: str, present: bool, decision: object) -> None:
    assert decide(reason, present) == decision
