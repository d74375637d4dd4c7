"""The fingerprint jobs: one video's fingerprint, and the backfill of every video still without."""

from __future__ import annotations

import uuid
from datetime import timedelta

from videolib.shared.db.repository import FingerprintRepository
from videolib.shared.fingerprints import retry_delay
from videolib.shared.logging import get_logger

from .defer import defer_fingerprints
from .kinds import GaveUp, JobCall, RetryLater
from .resources import WorkerResources

log = get_logger(__name__)


async def make_fingerprint(resources: WorkerResources, call: JobCall) -> None:
    """Fingerprint one video; a failure is retried by the engine after a doubling delay, and
    after `fingerprints.max_attempts` given up with its reason kept in fingerprint_attempts.

    The attempts are counted in our table, not by the engine's try number: they belong to
    the file (a new file starts from none, 0013's trigger) and outlive a lost job."""
    section = resources.config.fingerprints
    if not section.enabled:
        return
    video_id = uuid.UUID(call.payload["video_id"])
    fingerprinter = resources.fingerprints
    task = await fingerprinter.repository.task(video_id, section.max_attempts)
    if task is None:  # gone, invalid, made or given up meanwhile: nothing to do
        return
    outcome = await fingerprinter.make(task)
    if not (outcome.ok or outcome.stale):
        # The file moved while it was read (the inbox's organiser, a rename by the watcher):
        # at its new path now, not after `retry_seconds` (ten minutes by default).
        moved = await fingerprinter.repository.task(video_id, section.max_attempts)
        if moved is not None and moved.path != task.path:
            outcome = await fingerprinter.make(moved)
    if outcome.ok or outcome.stale:  # stale: the new file was deferred by its own ingest
        return
    assert outcome.error is not None
    if outcome.gave_up:
        raise GaveUp(f"gave up after {outcome.attempts} attempts: {outcome.error}")
    delay = retry_delay(outcome.attempts, section.retry_seconds)
    raise RetryLater(outcome.error, timedelta(seconds=delay))


async def backfill_fingerprints(resources: WorkerResources, call: JobCall) -> None:
    """Defer a fingerprint job for every valid video without one (given-up ones excepted)."""
    section = resources.config.fingerprints
    if not section.enabled:
        return
    needing = await FingerprintRepository(resources.engine).needing(section.max_attempts)
    queued = await defer_fingerprints(resources.engine, needing)
    log.info("fingerprint_backfill", needing=len(needing), queued=queued)
