"""The thumbnail jobs: one video's thumbnail, and the backfill of every video still without."""

from __future__ import annotations

import uuid
from datetime import timedelta

from videolib.shared.db.repository import ThumbnailRepository
from videolib.shared.logging import get_logger
from videolib.shared.thumbnails import retry_delay

from .defer import defer_thumbnails
from .kinds import GaveUp, JobCall, RetryLater
from .resources import WorkerResources

log = get_logger(__name__)


async def make_thumbnail(resources: WorkerResources, call: JobCall) -> None:
    """Make one video's thumbnail; a failure is retried by the engine, and after
    `thumbnails.max_tries` given up with its reason kept in the thumbnails table."""
    video_id = uuid.UUID(call.payload["video_id"])
    maker = resources.thumbnails
    task = await maker.repository.task(video_id)
    if task is None:  # gone, invalid or made meanwhile: nothing to do
        return
    section = resources.config.thumbnails
    last_try = call.attempt + 1 >= section.max_tries
    outcome = await maker.make(task, gave_up=last_try)
    if not outcome.ok:
        # The file moved while it was read (the inbox's organiser, a rename by the watcher):
        # at its new path now, not after `retry_seconds` (ten minutes by default).
        moved = await maker.repository.task(video_id)
        if moved is not None and moved.path != task.path:
            outcome = await maker.make(moved, gave_up=last_try)
    if outcome.ok:
        return
    assert outcome.error is not None
    if last_try:
        raise GaveUp(f"gave up after {section.max_tries} tries: {outcome.error}")
    delay = retry_delay(call.attempt + 1, section.retry_seconds)
    raise RetryLater(outcome.error, timedelta(seconds=delay))


async def backfill_thumbnails(resources: WorkerResources, call: JobCall) -> None:
    """Defer a thumbnail job for every valid video without one (given-up ones excepted)."""
    needing = await ThumbnailRepository(resources.engine).needing()
    queued = await defer_thumbnails(resources.engine, needing)
    log.info("thumbnail_backfill", needing=len(needing), queued=queued)
