"""The rescan rules, case by case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from videolib.shared.db.records import Fingerprint
from videolib.shared.decisions import (
    Examine,
    Skip,
    WorkerFailure,
    decide_rescan,
    failure_backoff,
)


def recorded(size: int = 10, mtime: int = 5, reason: str | None = None) -> Fingerprint:
    return Fingerprint(size, mtime, reason)


@pytest.mark.parametrize(
    ("found", "record", "skip_existing", "expected"),
    [
        ((10, 5), None, True, Examine("new")),
        ((10, 5), recorded(), True, Skip("unchanged")),
        ((11, 5), recorded(), True, Examine("changed")),
        ((10, 6), recorded(), True, Examine("changed")),
        ((10, 5), recorded(), False, Examine("forced")),
        ((10, 5), recorded(reason="corrupt"), True, Examine("was corrupt")),
        ((10, 5), recorded(reason="unreadable"), True, Examine("was unreadable")),
        ((10, 5), recorded(reason="missing"), True, Examine("was missing")),
        # An admin's soft delete is not undone by reading the file again.
        ((10, 5), recorded(reason="deleted"), True, Skip("unchanged")),
        ((10, 5), recorded(size=None, mtime=None), True, Examine("changed")),  # type: ignore[arg-type]
    ],
)
def test_decide_rescan(
    found: tuple[int, int], record: Fingerprint | None, skip_existing: bool, expected: object
) -> None:
    assert decide_rescan(*found, record, skip_existing=skip_existing) == expected


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def failure(
    size: int = 10, mtime: int = 5, attempts: int = 1, due_in_s: float = 3600
) -> WorkerFailure:
    return WorkerFailure(size, mtime, "crashed", attempts, NOW + timedelta(seconds=due_in_s))


@pytest.mark.parametrize(
    ("found", "remembered", "skip_existing", "expected"),
    [
        # Unchanged and not due: left alone, although the record says corrupt.
        ((10, 5), failure(), True, Skip("crashed a worker; retry due 2026-12-01T13:00:00+00:00")),
        # Due: read once more.
        ((10, 5), failure(due_in_s=0), True, Examine("retry due after it crashed a worker")),
        ((10, 5), failure(due_in_s=-1), True, Examine("retry due after it crashed a worker")),
        # Changed (a copy that went on, a fixed file): read again at once, like any change.
        ((11, 5), failure(), True, Examine("was corrupt")),
        ((10, 6), failure(), True, Examine("was corrupt")),
        # An admin's forced scan reads everything.
        ((10, 5), failure(), False, Examine("forced")),
    ],
)
def test_decide_rescan_with_a_remembered_worker_failure(
    found: tuple[int, int], remembered: WorkerFailure, skip_existing: bool, expected: object
) -> None:
    record = recorded(reason="corrupt")
    decision = decide_rescan(
        *found, record, skip_existing=skip_existing, failure=remembered, now=NOW
    )
    assert decision == expected


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        (1, timedelta(hours=1)),
        (2, timedelta(days=1)),
        (3, timedelta(days=1)),
        (50, timedelta(days=1)),
    ],
)
def test_failure_backoff_is_an_hour_then_a_day(attempts: int, delay: timedelta) -> None:
    assert failure_backoff(attempts) == delay


def test_a_remembered_failure_needs_now() -> None:
    with pytest.raises(ValueError, match="now"):
        decide_rescan(10, 5, recorded(reason="corrupt"), failure=failure())
