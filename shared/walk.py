"""The library walk in path order, and its merge-join with the recorded fingerprints.

A rescan compares what is on disk with what is recorded. Both sides come in the same
order (code point order of the stored path, which is PostgreSQL's `COLLATE "C"` order of
UTF-8 text), so they are paired by a merge-join that holds one folder's listing and one
page of records at a time: memory follows the work, not the size of the library.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from videolib.shared.db.records import Fingerprint
from videolib.shared.errors import PathError
from videolib.shared.library import Library
from videolib.shared.media.names import is_video_name

#: Told of each entry the walk cannot take (stored path, reason); the walk goes on.
Report = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A video file found on disk, with its stat fingerprint."""

    stored_path: str
    #: Where the file is on disk. A string from the walk: building a Path per file costs
    #: more than its stat (a rescan of 100,000 unchanged files is bound by this loop).
    location: str | os.PathLike[str]
    size: int
    mtime_ns: int
    #: Found through a symlink: recorded under its target's path, so out of walk order.
    linked: bool = False

    @property
    def absolute(self) -> Path:
        return Path(self.location)


@dataclass(frozen=True, slots=True)
class Present:
    """A file on disk, with its record if it has one."""

    file: FoundFile
    recorded: Fingerprint | None


@dataclass(frozen=True, slots=True)
class Vanished:
    """A record of this walk's directory type whose file was not found."""

    path: str
    recorded: Fingerprint


Paired = Present | Vanished


def walk_in_order(library: Library, directory_type: str, report: Report) -> Iterator[FoundFile]:
    """Video files under one directory type, recursively, in code point order of path.

    One stat per file and no path resolution on the common path: a rescan of 100,000
    unchanged files is bound by these syscalls. Directories are never followed through
    symlinks (no loops, no escapes); a symlinked file is taken only when its target is
    inside the library (and comes out `linked`, recorded under the target's path).
    """
    listings = [_sorted_listing(str(library.directory(directory_type)), directory_type, report)]
    while listings:
        item = next(listings[-1], None)
        if item is None:
            listings.pop()
            continue
        entry, stored = item
        if entry.is_dir(follow_symlinks=False):
            listings.append(_sorted_listing(entry.path, stored, report))
        elif is_video_name(entry.name):
            found = _found_file(library, entry, stored, report)
            if found is not None:
                yield found


def _sorted_listing(
    folder: str, stored_folder: str, report: Report
) -> Iterator[tuple[os.DirEntry[str], str]]:
    """One folder's entries in the order their stored paths sort.

    A folder sorts as its name plus "/": every path under `a/` comes after `a.mp4`
    ("." < "/") and before `a0.mp4`, as in a sort of the full paths.
    """
    try:
        with os.scandir(folder) as scanner:
            entries = list(scanner)
    except OSError as error:
        report(stored_folder, error.strerror or str(error))
        return iter(())
    entries.sort(key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name)
    return ((entry, f"{stored_folder}/{entry.name}") for entry in entries)


def _found_file(
    library: Library, entry: os.DirEntry[str], stored: str, report: Report
) -> FoundFile | None:
    # Problems are reported under the entry's own stored path (a link's name, not its
    # target's): that is what the user finds in the tree, and it leaks no server path.
    try:
        stored.encode("utf-8")
        target = stored
        if entry.is_symlink():
            # The target must stay inside the library; it is recorded under its own path.
            target = library.stored_path(Path(entry.path))
        stat = os.stat(entry.path) if entry.is_symlink() else entry.stat(follow_symlinks=False)
    except UnicodeEncodeError:
        report(stored.encode("utf-8", "replace").decode(), "name is not valid UTF-8")
        return None
    except PathError as error:  # a loop, a target outside the library
        report(stored, error.reason)
        return None
    except OSError as error:  # a dangling link, a name too long, ELOOP
        report(stored, error.strerror or str(error))
        return None
    if not S_ISREG(stat.st_mode):
        return None
    return FoundFile(target, entry.path, stat.st_size, stat.st_mtime_ns, target != stored)


def merge_join(
    found: Iterable[FoundFile], recorded: Iterable[tuple[str, Fingerprint]]
) -> Iterator[Paired]:
    """Pair files on disk with records; both sides sorted by path, each path once.

    Raises ValueError when a side is out of order: a silent mismatch would mark present
    files missing.
    """
    records = iter(recorded)
    record = next(records, None)
    last_file = last_record = ""
    for file in found:
        if file.stored_path <= last_file:
            raise ValueError(f"walk out of order: {file.stored_path!r} after {last_file!r}")
        last_file = file.stored_path
        while record is not None and record[0] < file.stored_path:
            last_record = _in_order(record[0], last_record)
            yield Vanished(*record)
            record = next(records, None)
        if record is not None and record[0] == file.stored_path:
            last_record = _in_order(record[0], last_record)
            yield Present(file, record[1])
            record = next(records, None)
        else:
            yield Present(file, None)
    while record is not None:
        last_record = _in_order(record[0], last_record)
        yield Vanished(*record)
        record = next(records, None)


def _in_order(path: str, last: str) -> str:
    if path <= last:
        raise ValueError(f"records out of order: {path!r} after {last!r}")
    return path
