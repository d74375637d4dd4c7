"""A verification cycle split into path ranges that workers share (pure).

The planner (shared/jobs/integrity_jobs.py) walks the verifiable records in code point
order and cuts them into ranges of at most `max_files` files or `max_bytes` bytes, so that
N workers each take ranges and a cycle over 200 TB takes about 1/N of the time. A range is
(after, through]: the paths after `after` up to and including `through`; the last range is
open-ended (through None), so a file recorded after the planning, past every cut, is in it.
Together the ranges cover every path exactly once, whatever is added or removed meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Files per range: enough that a job's bookkeeping is small beside its reads, few enough
#: that a library of small files still spreads over many workers.
MAX_FILES = 200
#: Bytes per range (10 GB): about 8 minutes at the default 20 MB/s, so ranges spread over
#: workers well; a file larger than this is a range of its own.
MAX_BYTES = 10_000_000_000


@dataclass(frozen=True, slots=True)
class PathRange:
    """The records with after < path <= through (through None: no upper bound)."""

    after: str
    through: str | None

    def holds(self, path: str) -> bool:
        return path > self.after and (self.through is None or path <= self.through)


class Cutter:
    """Cuts (path, size) given one at a time in path order into ranges; keeps only the
    ranges (a million records are 5,000 of them at 200 a range), not the records."""

    def __init__(self, *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> None:
        if max_files < 1 or max_bytes < 1:
            raise ValueError("max_files and max_bytes must be at least 1")
        self.max_files, self.max_bytes = max_files, max_bytes
        self._ranges: list[PathRange] = []
        self._after = self._last = ""
        self._count = self._bytes = 0
        #: Files added in all.
        self.files = 0

    def add(self, path: str, size: int) -> None:
        """The next file; raises ValueError for a path out of order."""
        if self.files and path <= self._last:
            raise ValueError(f"{path!r} is not after {self._last!r}: paths must come in order")
        if self._count and (
            self._count + 1 > self.max_files or self._bytes + size > self.max_bytes
        ):
            self._ranges.append(PathRange(self._after, self._last))
            self._after, self._count, self._bytes = self._last, 0, 0
        self._count += 1
        self._bytes += size
        self._last = path
        self.files += 1

    def ranges(self) -> list[PathRange]:
        """The ranges so far and the open-ended last one (at least one: an empty library)."""
        return [*self._ranges, PathRange(self._after, None)]


def split(
    files: Iterable[tuple[str, int]], *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES
) -> list[PathRange]:
    """Cut (path, size) in path order into ranges of at most max_files and max_bytes.

    A range holds at least one file (a file larger than max_bytes is alone in its range);
    an empty library is one open range. Raises ValueError for a path out of order.
    """
    cutter = Cutter(max_files=max_files, max_bytes=max_bytes)
    for path, size in files:
        cutter.add(path, size)
    return cutter.ranges()
