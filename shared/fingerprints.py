"""Fingerprints after ingest: a deferred job, never on the scan's hot path (issue 12 §3).

`fingerprint_video` is the unit of work: compute one claimed video's fingerprint (Stash
pHash, per-second frame hashes, index keys) and record it, or record the failure with its
reason and a growing retry delay; then refresh the near-duplicate groups. It takes its
`compute` as an argument, so that a job engine can run it as well as the backfill below.

`FingerprintBackfill` is the daemon's loop: poll for valid videos without a fingerprint
(newest first), claim a few, run `fingerprint_video` on them `workers` at a time, with the
computing in worker processes (shared/media/workers.py): a file that hangs or crashes the
decoder costs its own worker only.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from videolib.shared.config import Config
from videolib.shared.db.repository import (
    FingerprintRepository,
    FingerprintState,
    FingerprintTask,
    StoredFingerprint,
)
from videolib.shared.errors import DatabaseUnavailableError, PathError
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.fingerprint import ALGORITHM, FingerprintResult, compute_fingerprint
from videolib.shared.media.workers import CLOSE_GRACE_S, WorkerCrashed, WorkerPool, WorkerTimedOut
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
    if state.claimed_at is not None:
        return "working"
    if state.attempts and state.retry_at is not None and state.retry_at > now:
        return "retrying"
    return "pending"


@dataclass(frozen=True, slots=True)
class FingerprintSettings:
    workers: int = 1
    poll_seconds: float = 10.0
    retry_seconds: float = 600.0
    max_attempts: int = 5
    time_limit_s: float = 600.0

    @classmethod
    def from_config(cls, config: Config) -> FingerprintSettings:
        section = config.fingerprints
        return cls(
            workers=section.workers,
            poll_seconds=section.poll_seconds,
            retry_seconds=section.retry_seconds,
            max_attempts=section.max_attempts,
            time_limit_s=section.time_limit_seconds,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one video: made, failed (with attempts so far), or dropped because
    its file changed meanwhile (`stale`: the new file is claimed afresh)."""

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
) -> Outcome:
    """Fingerprint one claimed video and record the result (never raises for a bad file)."""
    try:
        source = str(library.absolute(task.path))
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
    attempts = await repository.record_failed(
        task, error, lambda n: retry_delay(n, settings.retry_seconds)
    )
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


class FingerprintBackfill:
    """The long-running loop: poll, claim a batch, fingerprint it, until cancelled.

    `wake()` after an ingest makes it look at once instead of at the next poll.
    `on_outcome` is told of each video (the daemon counts them in its metrics).
    """

    def __init__(
        self,
        repository: FingerprintRepository,
        library: Library,
        settings: FingerprintSettings,
        *,
        job: Callable[[str, object], FingerprintResult] = compute_fingerprint,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.repository, self.library, self.settings = repository, library, settings
        self._pool: WorkerPool[FingerprintResult] = WorkerPool(
            settings.workers, job, None, settings.time_limit_s, name="videolib-fingerprinter"
        )
        self._on_outcome = on_outcome
        self._wake = asyncio.Event()

    @classmethod
    def from_config(
        cls,
        config: Config,
        repository: FingerprintRepository,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> FingerprintBackfill:
        settings = FingerprintSettings.from_config(config)
        return cls(repository, Library.from_config(config), settings, on_outcome=on_outcome)

    def wake(self) -> None:
        self._wake.set()

    async def compute(self, source: str) -> FingerprintResult:
        """Compute in a worker; a lost worker becomes the video's failure reason."""
        try:
            return await self._pool.run(source)
        except WorkerTimedOut as timeout:
            return FingerprintResult(error=f"timed out after {timeout.time_limit_s:g} s")
        except WorkerCrashed as crash:
            return FingerprintResult(error=f"fingerprinter crashed ({crash.status})")

    async def run_once(self) -> int:
        """Claim and fingerprint one batch; returns how many were attempted."""
        settings = self.settings
        batch = settings.workers * 2
        # A claim older than the whole batch could take is from a worker that died.
        stale = timedelta(seconds=settings.time_limit_s * (batch + 1))
        tasks = await self.repository.claim(batch, stale, settings.max_attempts)
        await self._fingerprint_all(tasks)
        return len(tasks)

    async def _fingerprint_all(self, tasks: Sequence[FingerprintTask]) -> None:
        pending = iter(tasks)

        async def consume() -> None:
            for task in pending:  # one shared iterator: each task is taken once
                outcome = await fingerprint_video(
                    task, self.repository, self.library, self.compute, self.settings
                )
                if self._on_outcome is not None:
                    self._on_outcome(outcome)

        await asyncio.gather(*(consume() for _ in range(self.settings.workers)))

    async def run(self) -> None:
        """Work until cancelled; survives the database being away."""
        log.info("fingerprint_backfill_started", workers=self.settings.workers)
        try:
            while True:
                try:
                    if await self.run_once():
                        continue
                except DatabaseUnavailableError as error:
                    log.warning("fingerprint_backfill_waiting", error=error.message)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.poll_seconds):
                        await self._wake.wait()
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """Stop the workers: a fingerprint in progress is killed, idle workers get `grace_s`."""
        await self._pool.close(grace_s)
