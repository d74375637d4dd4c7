"""The page's frame strips, cached as JPEGs under the thumbnail directory (`frames/`).

One file per video, version of its file and position: `frames/ab/<id>-<mtime>-<size>-0500
.jpg`, the position in thousandths of the duration (so a video has at most 1001). A new
version of the file makes the old frames stale; they are removed when the first new one is
made, and all of them when the record goes (with its thumbnail).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from videolib.shared.logging import get_logger

log = get_logger(__name__)

FOLDER = "frames"
#: Positions are cached per 1/STEPS of the duration: a bounded set per file.
STEPS = 1000


def file_version(size: int, mtime_ns: int) -> str:
    """What tells one version of a file from the next (the scanner's own change test)."""
    return f"{mtime_ns:x}-{size:x}"


def frame_path(directory: Path, video_id: uuid.UUID, version: str, step: int) -> Path:
    """The cached JPEG of one position (0..STEPS) of one version of a video's file."""
    return directory / FOLDER / video_id.hex[:2] / f"{video_id}-{version}-{step:04d}.jpg"


def remove_frames(directory: Path, video_id: uuid.UUID, keep_version: str | None = None) -> int:
    """Delete a video's cached frames (but those of `keep_version`); how many went."""
    removed = 0
    keep = f"{video_id}-{keep_version}-" if keep_version is not None else None
    for file in (directory / FOLDER / video_id.hex[:2]).glob(f"{video_id}-*.jpg"):
        if keep is not None and file.name.startswith(keep):
            continue
        try:
            file.unlink()
        except FileNotFoundError:
            continue  # another request removed it
        except OSError as error:  # kept, and said: a stray JPEG costs space, not data
            log.warning("frame_not_removed", path=str(file), error=str(error))
            continue
        removed += 1
    return removed
