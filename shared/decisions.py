"""What to do with a file found on disk: a pure function returning frozen decisions.

Kept apart from the I/O so each rule is tested case by case (tests/unit/test_decisions.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from videolib.shared.db.records import Fingerprint

# Records in these states are examined again at every pass even when the file looks
# unchanged: a probe that failed on a file caught mid-copy must not stick (Jellyfin #9651),
# and a file that came back after being missing is valid again.
_RETRY_REASONS = frozenset({"corrupt", "unreadable", "missing"})

#: How long an unchanged file that crashed or hung a worker is left alone: after the first
#: failure, then after each later one (issue 10, item 9). Reading it at every pass would
#: cost a worker (and a time limit) at every reconciliation.
FAILURE_BACKOFF = (timedelta(hours=1), timedelta(days=1))


@dataclass(frozen=True, slots=True)
class WorkerFailure:
    """A file that crashed or hung a worker, with the fingerprint it had then."""

    size: int
    mtime_ns: int
    failure: str  # "crashed" or "timed out"
    attempts: int  # failures in a row with this fingerprint
    retry_at: datetime


def failure_backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure in a row: 1 h, then 1 day."""
    return FAILURE_BACKOFF[min(max(attempts, 1), len(FAILURE_BACKOFF)) - 1]


@dataclass(frozen=True, slots=True)
class Skip:
    """Recorded and unchanged: nothing to read."""

    why: str


@dataclass(frozen=True, slots=True)
class Examine:
    """Probe and hash it, then record what was found."""

    why: str


Decision = Skip | Examine


def decide_rescan(
    size: int,
    mtime_ns: int,
    recorded: Fingerprint | None,
    *,
    skip_existing: bool = True,
    failure: WorkerFailure | None = None,
    now: datetime | None = None,
) -> Decision:
    """Decide whether a file found by a scan must be read again.

    `failure` is what is remembered of the file crashing or hanging a worker; it holds only
    while the file keeps the fingerprint it had, and until its retry is due at `now`.
    """
    if (
        skip_existing
        and failure is not None
        and (failure.size, failure.mtime_ns)
        == (
            size,
            mtime_ns,
        )
    ):
        if now is None:
            raise ValueError("decide_rescan needs `now` to weigh a remembered failure")
        if now < failure.retry_at:
            return Skip(f"{failure.failure} a worker; retry due {failure.retry_at.isoformat()}")
        return Examine(f"retry due after it {failure.failure} a worker")
    if recorded is None:
        return Examine("new")
    if not skip_existing:
        return Examine("forced")
    if recorded.invalid_reason in _RETRY_REASONS:
        return Examine(f"was {recorded.invalid_reason}")
    if recorded.size != size or recorded.mtime_ns != mtime_ns:
        return Examine("changed")
    return Skip("unchanged")
