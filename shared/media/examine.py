"""The per-file job of a worker process: stat, probe, hash, stat again.

Everything here is picklable: the settings go to the worker and the Examination comes back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from videolib.shared.errors import ProbeError
from videolib.shared.media.hashing import sha256_file
from videolib.shared.media.probe import Metadata, probe


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How to probe: backend ("pyav" or "ffprobe"), ffprobe binary and its time limit."""

    backend: str = "pyav"
    ffprobe_path: str | None = None
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Examination:
    """What examining one file found; `error` and `invalid_reason` set when it is not valid.

    `changed` means size or mtime moved while the file was read: it was still being
    written, and the caller should examine it again later rather than record it.
    `lost_worker` ("crashed" or "timed out") says the file cost the worker its life.
    """

    path: str
    size: int | None  # None when the file vanished before it could be stat'ed
    mtime_ns: int | None
    sha256: str | None = None
    metadata: Metadata | None = None
    error: str | None = None
    invalid_reason: str | None = None  # None, "corrupt", "unreadable" or "missing"
    changed: bool = False
    lost_worker: str | None = None


def examine(path: str, settings: ProbeSettings) -> Examination:
    """Probe and hash one file; never raises for a bad or vanished file, reports it."""
    try:
        before = os.stat(path)
        metadata, error, invalid_reason = _probe(path, settings)
        sha256 = sha256_file(path)
        after = os.stat(path)
    except FileNotFoundError:
        return vanished(path)
    except OSError as exc:
        return Examination(path, None, None, error=str(exc), invalid_reason="unreadable")
    return Examination(
        path=path,
        size=after.st_size,
        mtime_ns=after.st_mtime_ns,
        sha256=sha256,
        metadata=metadata,
        error=error,
        invalid_reason=invalid_reason,
        changed=(before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns),
    )


def vanished(path: str) -> Examination:
    """The report for a file that is gone."""
    return Examination(path, None, None, error="file vanished", invalid_reason="missing")


def _probe(path: str, settings: ProbeSettings) -> tuple[Metadata | None, str | None, str | None]:
    """(metadata, error, invalid_reason): a ProbeError becomes a report, not an exception."""
    try:
        metadata = probe(
            Path(path),
            backend=settings.backend,
            ffprobe_path=settings.ffprobe_path,
            timeout_s=settings.timeout_s,
        )
    except ProbeError as exc:
        return None, exc.reason, exc.invalid_reason
    return metadata, None, None
