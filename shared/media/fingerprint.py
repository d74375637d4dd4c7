"""A video's fingerprint, computed in a worker process (shared/media/workers.py).

Everything in or out is picklable and no exception crosses back: a bad file's reason comes
back in `FingerprintResult.error`. The Stash pHash may be missing (a file without a
duration in its header, as browsers' MediaRecorder writes): the per-second hashes, which
need none, are then still stored, with `phash` None.
"""

from __future__ import annotations

from dataclasses import dataclass

import av.error

from videolib.shared.media.frame_hashes import compute_frame_hashes
from videolib.shared.media.similarity import FrameHashes, index_keys
from videolib.shared.media.stash_phash import video_phash

#: Stored in `video_fingerprints.algorithm`: bumped when a hash changes meaning, so that
#: rows of an older version can be found and computed again.
ALGORITHM = 1

#: What a bad file raises while it is read (PyAV's errors are FFmpegError subclasses).
_BAD_FILE = (av.error.FFmpegError, OSError, ValueError, EOFError, StopIteration)


@dataclass(frozen=True, slots=True)
class FingerprintResult:
    """The hashes of one video, or why there are none."""

    phash: int | None = None
    frames: FrameHashes | None = None
    index_keys: tuple[int, ...] = ()
    #: Why the Stash pHash is missing while the frame hashes are there.
    phash_error: str | None = None
    error: str | None = None


def compute_fingerprint(path: str, _settings: object = None) -> FingerprintResult:
    """The fingerprint of the video at `path`, as a worker-pool job (item, settings)."""
    try:
        frames = compute_frame_hashes(path)
    except _BAD_FILE as error:
        return FingerprintResult(error=f"frame hashes: {_reason(error)}")
    try:
        phash, phash_error = video_phash(path), None
    except _BAD_FILE as error:
        phash, phash_error = None, _reason(error)
    return FingerprintResult(
        phash=phash, frames=frames, index_keys=tuple(index_keys(frames)), phash_error=phash_error
    )


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
