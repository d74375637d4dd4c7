"""The library marker: `.videolib-library` at the root, holding the library's id.

A share that is not mounted leaves its mount point behind, usually empty: the marker is
then absent, and nothing is marked missing (shared/mount_safety.py). Its id is also kept
in the database (settings `library_id`), so that another library's share mounted at the
same place is told apart. Written by `videolib init` and `videolib run`; `videolib doctor`
only reports it (writing one on an empty mount point would defeat it).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from videolib.shared.mount_safety import MARKER_NAME, Marker

#: The settings key holding the id the marker must name.
LIBRARY_ID_SETTING = "library_id"
_HEADER = "# videolib library marker: keep this file; without it nothing is marked missing\n"


@dataclass(frozen=True, slots=True)
class MarkerFile:
    """What the marker at a root says: its id (None when absent or unreadable)."""

    path: Path
    library_id: str | None
    error: str | None = None  # why it could not be read


def marker_path(root: Path) -> Path:
    return root / MARKER_NAME


def read_marker(root: Path) -> MarkerFile:
    """Read the root's marker (blocking)."""
    path = marker_path(root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MarkerFile(path, None)
    except (OSError, UnicodeDecodeError) as error:
        return MarkerFile(path, None, str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    ids = [line for line in lines if not line.startswith("#")]
    try:
        return MarkerFile(path, str(uuid.UUID(ids[0])))
    except (IndexError, ValueError):
        return MarkerFile(path, None, "no library id in it")


def marker_status(marker: MarkerFile, recorded_id: str | None) -> Marker:
    """The marker against the id recorded in the database (pure)."""
    if marker.error is not None:
        return Marker.UNREADABLE
    if marker.library_id is None:
        return Marker.ABSENT
    if recorded_id is not None and marker.library_id != recorded_id:
        return Marker.FOREIGN
    return Marker.PRESENT


def write_marker(root: Path, library_id: str) -> Path:
    """Write the marker atomically (a temporary file renamed over it); blocking."""
    path = marker_path(root)
    temporary = path.with_name(f"{MARKER_NAME}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(f"{_HEADER}{library_id}\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    return path


def new_library_id() -> str:
    return str(uuid.uuid4())
