"""Which names are videos, which are ignored, and where a path sits in the library.

Pure: nothing here reads the disk except `relative_library_path`, which resolves symlinks.
"""

from __future__ import annotations

import os
from pathlib import Path

from videolib.shared.errors import PathError, UnsafePathError

#: Extensions of the files considered, compared lower-cased (SPEC: Data model).
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".flv"}
)

#: Suffixes browsers and copy tools give a file still being written; the trailing `~` of
#: editors and rsync backups is checked separately since it is not a dotted suffix.
PARTIAL_SUFFIXES: tuple[str, ...] = (".part", ".crdownload", ".tmp", ".filepart", "~")

#: The library's top-level folders, one per video type.
DIRECTORY_TYPES: tuple[str, ...] = (
    "studios",
    "gifs",
    "private",
    "inbox",
    "curated",
    "playback",
    "compilations",
    "videos",
    "highlights",
)


def is_ignored(name: str) -> bool:
    """True for hidden names (incl. macOS `._x.mp4` resource forks) and partial downloads."""
    if name.startswith("."):
        return True
    return name.lower().endswith(PARTIAL_SUFFIXES)


def is_video_name(name: str) -> bool:
    """True when the name has a video extension, in any letter case, and is not ignored."""
    if is_ignored(name):
        return False
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def directory_type_of(relative_path: str) -> str | None:
    """The video type of a library-relative path: its first segment, if it names one."""
    first = relative_path.lstrip("/").split("/", 1)[0]
    return first if first in DIRECTORY_TYPES else None


def relative_library_path(root: Path, path: Path) -> str:
    """The path relative to the library root, with `/` separators, as stored in the database.

    Symlinks are resolved first, so a link pointing out of the root is refused like `..`.
    """
    try:
        resolved_root = root.resolve()
        resolved = (path if path.is_absolute() else resolved_root / path).resolve()
    except RuntimeError:  # Python 3.11's resolve() on a symlink loop
        raise PathError(_printable(path), "symlink loop") from None
    except OSError as error:  # ENAMETOOLONG, EACCES on a parent, ELOOP from the kernel
        raise PathError(_printable(path), error.strerror or str(error)) from None
    except ValueError:  # an embedded NUL
        raise PathError(_printable(path), "contains a NUL character") from None
    try:
        relative = resolved.relative_to(resolved_root)
    except ValueError:
        raise UnsafePathError(_printable(path), "outside the library root") from None
    text = relative.as_posix()
    _require_utf8(text)
    return text


def _require_utf8(text: str) -> None:
    """Refuse a name that is not valid UTF-8: the database stores text, not bytes."""
    # os.fsdecode maps undecodable bytes to lone surrogates (surrogateescape); such a string
    # cannot be encoded strictly, which is how a non-UTF-8 name shows up on the Python side.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PathError(_printable(text), "name is not valid UTF-8") from None


def _printable(path: str | Path) -> str:
    """The path with undecodable bytes shown as replacement characters, safe to log."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", errors="replace")
