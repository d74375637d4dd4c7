"""What to do with a file found on disk: a pure function returning frozen decisions.

Kept apart from the I/O so each rule is tested case by case (tests/unit/test_decisions.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from videolib.shared.db.records import Fingerprint

# Records in these states are examined again at every pass even when the file looks
# unchanged: a probe that failed on a file caught mid-copy must not stick (Jellyfin #9651),
# and a file that came back after being missing is valid again.
_RETRY_REASONS = frozenset({"corrupt", "unreadable", "missing"})


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
    size: int, mtime_ns: int, recorded: Fingerprint | None, *, skip_existing: bool = True
) -> Decision:
    """Decide whether a file found by a scan must be read again."""
    if recorded is None:
        return Examine("new")
    if not skip_existing:
        return Examine("forced")
    if recorded.invalid_reason in _RETRY_REASONS:
        return Examine(f"was {recorded.invalid_reason}")
    if recorded.size != size or recorded.mtime_ns != mtime_ns:
        return Examine("changed")
    return Skip("unchanged")
