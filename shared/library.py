"""Where each directory type lives on disk, and the mapping between disk and stored paths.

Stored paths are relative to the library root with "/" separators (`studios/a/x.mp4`).
The inbox may live elsewhere (MEDIA_INBOX_PATH); its files are stored as `inbox/...`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from videolib.shared.config import Config
from videolib.shared.errors import PathError, UnsafePathError
from videolib.shared.media.names import DIRECTORY_TYPES, relative_library_path

INBOX = "inbox"


@dataclass(frozen=True)
class Library:
    root: Path
    inbox: Path

    @classmethod
    def from_config(cls, config: Config) -> Library:
        return cls(config.library_root.absolute(), config.inbox_path.absolute())

    def directory(self, directory_type: str) -> Path:
        """The folder of one directory type."""
        if directory_type not in DIRECTORY_TYPES:
            raise PathError(
                directory_type, f"unknown directory type (one of {', '.join(DIRECTORY_TYPES)})"
            )
        return self.inbox if directory_type == INBOX else self.root / directory_type

    def absolute(self, stored_path: str) -> Path:
        """The file on disk of a stored path; refuses paths that would leave the library."""
        parts = PurePosixPath(stored_path).parts
        if (
            not parts
            or stored_path.startswith("/")
            or ".." in parts
            or parts[0] not in DIRECTORY_TYPES
        ):
            raise UnsafePathError(stored_path, "not a path inside a library directory type")
        return self.directory(parts[0]).joinpath(*parts[1:])

    def stored_path(self, path: Path) -> str:
        """The stored form of a file path under the root or the inbox.

        Raises UnsafePathError for a path (or a symlink's target) outside both.
        """
        absolute = Path(os.path.abspath(path))
        if _is_under(absolute, self.inbox) and not _is_under(self.inbox, self.root / INBOX):
            inside = relative_library_path(self.inbox, absolute)
            return f"{INBOX}/{inside}" if inside != "." else INBOX
        stored = relative_library_path(self.root, absolute)
        if stored.split("/", 1)[0] not in DIRECTORY_TYPES:
            raise UnsafePathError(str(path), "not inside one of the library's directory types")
        return stored


def _is_under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
