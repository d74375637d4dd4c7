"""Moving an inbox file into its folder, one crash-safe step at a time, and the pure
decisions that recovery takes from what a crash left on disk.

The steps (a journal entry naming source, folder and content is written before the first):

- same file system: link(source, free name) -> unlink(source);
- across file systems: copy to a hidden temporary -> fsync -> link(temporary, free name)
  -> fsync(folder) -> unlink(temporary) -> unlink(source).

A kill at any instant leaves the file in the inbox, in the library, or both; recovery
(`decide_recovery`) then finishes or rolls back, so the file ends up exactly once. Before a
name is chosen the folder is searched by content (size, SHA-256): a file already there
under the name or a numbered variant *is* this file (placed before a crash, or the same
video dropped twice), so the inbox copy is removed instead of becoming `name (1).mp4`.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from videolib.shared.media.hashing import sha256_file

#: Prefix of the hidden copy made across file systems; ignored by names.is_ignored.
INCOMING_PREFIX = ".videolib-incoming-"
# link(2) not supported by the target file system: fall back to check-then-rename.
_NO_LINK = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK)
#: A temporary no journal entry knows is removed once it has been still this long: every
#: daemon journals in one table before copying, but a copy of a daemon on an older version
#: (its journal in its own state dir) may still be in progress.
ORPHAN_GRACE_S = 3600.0
#: A move that failed (a full disk, a folder not writable) is tried again after this many
#: seconds, doubling per failure up to the cap, besides the periodic pass.
RETRY_FIRST_S, RETRY_MAX_S = 2.0, 300.0

#: Told the name of each step just done: "linked", "copied", "temp_removed",
#: "source_removed". Tests stop a real process there to simulate a crash.
Step = Callable[[str], None]


def _no_step(_name: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Content:
    """What identifies a file's bytes: size and SHA-256."""

    size: int
    sha256: str


# -- pure rules --------------------------------------------------------------------------


def candidate_names(filename: str) -> Iterator[str]:
    """`clip.mp4`, then `clip (1).mp4`, `clip (2).mp4`, ... without end."""
    yield filename
    stem, suffix = _split(filename)
    number = 1
    while True:
        yield f"{stem} ({number}){suffix}"
        number += 1


def variant_number(filename: str, name: str) -> int | None:
    """0 if `name` is `filename`, N if it is its numbered variant `stem (N).ext`, else None."""
    if name == filename:
        return 0
    stem, suffix = _split(filename)
    match = re.fullmatch(re.escape(stem) + r" \(([1-9][0-9]*)\)" + re.escape(suffix), name)
    return int(match.group(1)) if match else None


def _split(filename: str) -> tuple[str, str]:
    stem, dot, suffix = filename.rpartition(".")
    return (stem, f".{suffix}") if dot else (filename, "")


def move_retry_delay(failures: int) -> float:
    """Seconds before a failed move is tried again, after `failures` failures in a row."""
    return min(RETRY_MAX_S, RETRY_FIRST_S * 2.0 ** max(0, failures - 1))


class Source(enum.Enum):
    """The inbox original, as recovery finds it."""

    SAME = "same"  # still there, same content as journaled
    CHANGED = "changed"  # something else now has its name: a new drop, not ours to touch
    GONE = "gone"


class Temporary(enum.Enum):
    """The hidden copy of a move across file systems, as recovery finds it."""

    ABSENT = "absent"
    PARTIAL = "partial"  # the copy was cut short
    COMPLETE = "complete"  # same content as journaled


@dataclass(frozen=True, slots=True)
class Finish:
    """The file is in the library at `placed`: drop the inbox original if still there."""

    placed: str
    remove_source: bool


@dataclass(frozen=True, slots=True)
class Adopt:
    """The complete temporary is the only copy left: give it a name in the folder."""


@dataclass(frozen=True, slots=True)
class RollBack:
    """Nothing was placed: the inbox file goes through the inbox step again."""


@dataclass(frozen=True, slots=True)
class Forget:
    """Nothing of the file is left to move (removed by hand meanwhile)."""


Recovery = Finish | Adopt | RollBack | Forget


def decide_recovery(placed: str | None, source: Source, temporary: Temporary) -> Recovery:
    """What to do with a journaled move after a crash. Every case removes the temporary
    (Adopt after claiming a name from it), and none removes the only copy of a file."""
    if placed is not None:
        return Finish(placed, remove_source=source is Source.SAME)
    if source is not Source.GONE:
        return RollBack()
    if temporary is Temporary.COMPLETE:
        return Adopt()
    return Forget()


def is_stale_orphan(modified_s: float, now_s: float) -> bool:
    """Whether a temporary that no journal entry knows is left over, not in progress."""
    return now_s - modified_s > ORPHAN_GRACE_S


# -- looking at the disk (blocking: run in a thread) -------------------------------------


def has_content(path: Path, content: Content) -> bool:
    """Whether the file at `path` holds exactly `content` (size first: no hash if it differs)."""
    try:
        if path.stat().st_size != content.size:
            return False
        return sha256_file(os.fspath(path)) == content.sha256
    except OSError:
        return False


def find_placed(folder: Path, filename: str, content: Content) -> Path | None:
    """The file in `folder` under `filename` or a numbered variant that holds `content`."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return None
    numbered = sorted(
        (number, name) for name in names if (number := variant_number(filename, name)) is not None
    )
    return next(
        (folder / name for _, name in numbered if has_content(folder / name, content)), None
    )


def source_state(source: Path, content: Content) -> Source:
    if not source.exists():
        return Source.GONE
    return Source.SAME if has_content(source, content) else Source.CHANGED


def temporary_state(temporary: Path, content: Content) -> Temporary:
    if not temporary.exists():
        return Temporary.ABSENT
    return Temporary.COMPLETE if has_content(temporary, content) else Temporary.PARTIAL


def temporaries(folders: list[Path]) -> list[Path]:
    """The hidden copies at the top of the type folders (where moves make them)."""
    found = []
    for folder in folders:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            found += [folder / n for n in os.listdir(folder) if n.startswith(INCOMING_PREFIX)]
    return found


# -- moving (blocking: run in a thread) ---------------------------------------------------


def place(
    source: Path,
    folder: Path,
    filename: str,
    content: Content,
    temporary_name: str,
    step: Step = _no_step,
) -> Path:
    """Move `source` into `folder` under `filename` or a numbered variant; never overwrite,
    never make a second copy of content already there."""
    folder.mkdir(parents=True, exist_ok=True)
    placed = find_placed(folder, filename, content)
    if placed is not None:
        source.unlink()
        step("source_removed")
        return placed
    try:
        final, how = claim_name(source, folder, filename, content)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        return _place_across(source, folder, filename, content, folder / temporary_name, step)
    step("linked")
    if how != "renamed":
        source.unlink()
        step("source_removed")
    return final


def claim_name(existing: Path, folder: Path, filename: str, content: Content) -> tuple[Path, str]:
    """Give `existing` a name in `folder` no other file has, or find its content there.

    Returns the target and how: "linked" (hard link: `existing` is still there), "renamed"
    (the file system refuses links: `existing` is gone) or "present" (a file of the same
    content took the name first).
    """
    for name in candidate_names(filename):
        target = folder / name
        try:
            os.link(existing, target)
            return target, "linked"
        except FileExistsError:
            pass
        except OSError as error:
            if error.errno not in _NO_LINK:
                raise
            if not target.exists():
                os.rename(existing, target)  # a small race, only where links are refused
                return target, "renamed"
        # The name is taken: by this very content (a collision checked by content), or not.
        if has_content(target, content):
            return target, "present"
    raise AssertionError("candidate_names never ends")


def _place_across(
    source: Path, folder: Path, filename: str, content: Content, temporary: Path, step: Step
) -> Path:
    try:
        shutil.copy2(source, temporary)
        fsync(temporary)
        step("copied")
        final, _how = claim_name(temporary, folder, filename, content)
        fsync(folder)
        step("linked")
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    step("temp_removed")
    source.unlink()
    step("source_removed")
    return final


def fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
