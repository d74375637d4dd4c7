"""A video's fingerprint, computed in a worker process (shared/media/workers.py).

Everything in or out is picklable and no exception crosses back: a bad file's reason comes
back in `FingerprintResult.error`. The Stash pHash may be missing (a file without a
duration in its header, as browsers' MediaRecorder writes): the per-second hashes, which
need none, are then still stored, with `phash` None.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import av.error

from videolib.shared.media.frame_hashes import hash_seconds
from videolib.shared.media.probe import picture_stream
from videolib.shared.media.similarity import FrameHashes, index_keys
from videolib.shared.media.stash_phash import StashFrames, phash_of

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
    """The fingerprint of the video at `path`, as a worker-pool job (item, settings).

    One open and one decoding pass for both parts: where the per-second hashes decode every
    frame, Stash's 25 frames are among them; where they decode keyframes only, the 25 are
    read by seeking in the same open file. Either way each hash is bit for bit what the
    part computes alone (compute_frame_hashes, video_phash).
    """
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = picture_stream(container)
            if stream is None:
                raise ValueError(f"{path}: no video stream")
            stream.codec_context.thread_count = 1  # one process per worker already
            try:
                stash: StashFrames | None = StashFrames(path, container, stream)
                phash_error = None
            except _BAD_FILE as error:
                stash, phash_error = None, _reason(error)
            frames = hash_seconds(path, container, stream, also=stash)
            phash = None
            if stash is not None:
                try:
                    phash = phash_of(stash.finish())
                except _BAD_FILE as error:
                    phash_error = _reason(error)
    except _BAD_FILE as error:
        return FingerprintResult(error=f"frame hashes: {_reason(error)}")
    return FingerprintResult(
        phash=phash, frames=frames, index_keys=tuple(index_keys(frames)), phash_error=phash_error
    )


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
