"""What a re-hash of a recorded file means: intact, a silent change, a visible change, unread.

Pure: the recorded fingerprint, two stats (before and after the read) and the digest in,
a frozen verdict out (Unread comes from the reading itself: check.py). Bit rot (or an
in-place rewrite that kept the mtime) is the one case that is flagged: the hash changed
while size and mtime did not. A file whose size or mtime changed is an ordinary edit, left
to the normal re-probe path (SPEC: rescans compare size and mtime); a missing file is not
a mismatch (it may be an unmounted share).
"""

from __future__ import annotations

from dataclasses import dataclass

#: (size in bytes, mtime in ns) as os.stat gives them.
Stat = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the record says of the file."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Intact:
    """Same size, mtime and hash as recorded."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The hash changed while size and mtime did not: flag it, never act on it."""

    recorded_sha256: str
    observed_sha256: str


@dataclass(frozen=True, slots=True)
class Changed:
    """Size or mtime differ from the record, or changed during the read: an edit."""

    observed: Stat


@dataclass(frozen=True, slots=True)
class Unread:
    """The file could not be read (missing, an unmounted share, an I/O error): no finding.

    A missing file is the reconciliation's business, never a mismatch (issue 11 §1)."""

    reason: str


Verdict = Intact | Mismatch | Changed | Unread


def judge(recorded: Recorded, before: Stat, after: Stat, sha256: str) -> Verdict:
    """The verdict of one read: `before` and `after` are the stats around the hashing."""
    if before != after:
        return Changed(after)  # written while we read: the digest is of no version
    if before != (recorded.size, recorded.mtime_ns):
        return Changed(after)
    if sha256 == recorded.sha256:
        return Intact()
    return Mismatch(recorded.sha256, sha256)
