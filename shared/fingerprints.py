"""Fingerprints after ingest: jobs of the engine, never on the scan's hot path (issue 12 §3).

`fingerprint_video` is the unit of work: compute one video's fingerprint (Stash pHash,
per-second frame hashes, index keys) and record it, or record the failure with its reason
and the attempts so far; then refresh the near-duplicate groups. What is pending, and the
retries with their delays, are the job engine's (shared/jobs/fingerprint_jobs.py): this
module keeps no queue. `Fingerprinter` computes in worker processes
(shared/media/workers.py): a file that hangs or crashes the decoder costs its own worker only.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from videolib.shared.config import Config
from videolib.shared.db.repository import (
    FingerprintRepository,
    FingerprintState,
    FingerprintTask,
    StoredFingerprint,
)
from videolib.shared.errors import PathError
from videolib.shared.jobs.path_map import PathMap, mapped_path
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.fingerprint import ALGORITHM, FingerprintResult, compute_fingerprint
from videolib.shared.media.pooled_jobs import PooledJobs
from videolib.shared.media.workers import WorkerPool
from videolib.shared.near_duplicates import refresh_near_duplicates

log = get_logger(__name__)

#: The longest wait between two attempts at one video's fingerprint.
MAX_RETRY_SECONDS = 86400.0

#: Computes the fingerprint of the file at an absolute path (in a worker, or not).
Compute = Callable[[str], Awaitable[FingerprintResult]]


def retry_delay(attempts: int, base_seconds: float) -> float:
    """Seconds to wait after the `attempts`-th failure: base, doubling, at most a day."""
    return min(base_seconds * 2.0 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


#: Where a video's fingerprint stands, as the API says it.
Status = Literal["done", "pending", "working", "retrying", "gaveUp"]


def fingerprint_status(state: FingerprintState, max_attempts: int, now: datetime) -> Status:
    """Where one video's fingerprint stands (pure: `now` is given)."""
    if state.computed_at is not None:
        return "done"
    if state.attempts >= max_attempts:
        return "gaveUp"
    if state.running:
        return "working"
    if state.attempts and state.retry_at is not None and state.retry_at > now:
        return "retrying"
    return "pending"


@dataclass(frozen=True, slots=True)
class FingerprintSettings:
    workers: int = 1
    retry_seconds: float = 600.0
    max_attempts: int = 5
    time_limit_s: float = 600.0

    @classmethod
    def from_config(cls, config: Config) -> FingerprintSettings:
        section = config.fingerprints
        return cls(
            retry_seconds=section.retry_seconds,
            max_attempts=section.max_attempts,
            time_limit_s=section.time_limit_seconds,
        )

    def with_workers(self, workers: int) -> FingerprintSettings:
        return dataclasses.replace(self, workers=workers)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one video: made, failed (with attempts so far), or dropped because
    its file changed meanwhile (`stale`: the new file gets a job of its own)."""

    video_id: uuid.UUID
    error: str | None = None
    attempts: int = 0
    gave_up: bool = False
    stale: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.stale


async def fingerprint_video(
    task: FingerprintTask,
    repository: FingerprintRepository,
    library: Library,
    compute: Compute,
    settings: FingerprintSettings,
    path_map: PathMap | None = None,
) -> Outcome:
    """Fingerprint one video and record the result (never raises for a bad file)."""
    try:
        inside = library.absolute(task.path)  # refuses a path leaving the library
        source = str(mapped_path(task.path, path_map or {}) or inside)
    except PathError as error:
        result = FingerprintResult(error=error.message)
    else:
        result = await compute(source)
    if result.error is not None or result.frames is None:
        return await _record_failure(task, repository, settings, result.error or "no hashes")
    stored = StoredFingerprint(
        phash=result.phash,
        frame_hashes=result.frames.seconds,
        mirrored_hashes=result.frames.mirrored,
        index_keys=result.index_keys,
        algorithm=ALGORITHM,
    )
    if not await repository.record_made(task, stored):
        log.info("fingerprint_dropped", video_id=str(task.video_id), path=task.path)
        return Outcome(task.video_id, stale=True)
    log.info(
        "fingerprint_made",
        video_id=str(task.video_id),
        path=task.path,
        seconds=len(stored.frame_hashes),
        phash_error=result.phash_error,
    )
    # THE hook that keeps near-duplicate groups current (h12-near, shared/near_duplicates.py).
    await _refresh_groups(repository, task.video_id)
    return Outcome(task.video_id)


async def _refresh_groups(repository: FingerprintRepository, video_id: uuid.UUID) -> None:
    try:
        await refresh_near_duplicates(repository.engine, video_id)
    except Exception as error:  # the fingerprint is stored; the groups catch up on the next
        log.warning("near_duplicates_not_refreshed", video_id=str(video_id), error=str(error))


async def _record_failure(
    task: FingerprintTask,
    repository: FingerprintRepository,
    settings: FingerprintSettings,
    error: str,
) -> Outcome:
    attempts = await repository.record_failed(task, error)
    if attempts is None:
        return Outcome(task.video_id, stale=True)
    gave_up = attempts >= settings.max_attempts
    log.warning(
        "fingerprint_given_up" if gave_up else "fingerprint_failed",
        video_id=str(task.video_id),
        path=task.path,
        error=error,
        attempts=attempts,
    )
    return Outcome(task.video_id, error, attempts, gave_up)


class Fingerprinter(PooledJobs[FingerprintResult]):
    """Computes and records fingerprints, in `settings.workers` worker processes."""

    def __init__(
        self,
        repository: FingerprintRepository,
        library: Library,
        settings: FingerprintSettings,
        *,
        job: Callable[[str, object], FingerprintResult] = compute_fingerprint,
        path_map: PathMap | None = None,
    ) -> None:
        pool: WorkerPool[FingerprintResult] = WorkerPool(
            settings.workers, job, None, settings.time_limit_s, name="videolib-fingerprinter"
        )
        super().__init__(
            pool,
            timed_out=lambda limit_s: FingerprintResult(error=f"timed out after {limit_s:g} s"),
            crashed=lambda status: FingerprintResult(error=f"fingerprinter crashed ({status})"),
        )
        self.repository, self.library, self.settings = repository, library, settings
        self.path_map = path_map or {}

    async def compute(self, source: str) -> FingerprintResult:
        """Compute in a worker; a lost worker becomes the video's failure reason."""
        return await self.run_item(source)

    async def make(self, task: FingerprintTask) -> Outcome:
        """Fingerprint one video and record the result or the failure (see fingerprint_video)."""
        return await fingerprint_video(
            task, self.repository, self.library, self.compute, self.settings, self.path_map
        )
