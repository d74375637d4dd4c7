"""Thumbnails after ingest: frames grabbed in worker processes, recorded in `thumbnails`.

`ThumbnailMaker` grabs frames (shared/media/frames.py) with bounded concurrency and records
the JPEG or the failure; a failure never marks the video invalid. What is pending, and the
retries with their delays, are the job engine's (shared/jobs/thumbnail_jobs.py): this module
keeps no queue. Scans never wait for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from videolib.shared.config import Config
from videolib.shared.db.repository import ThumbnailRepository, ThumbnailTask
from videolib.shared.errors import PathError
from videolib.shared.jobs.path_map import PathMap, mapped_path
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.frames import FrameResult, grab_frame
from videolib.shared.media.pooled_jobs import PooledJobs
from videolib.shared.media.workers import WorkerPool

log = get_logger(__name__)

#: The longest wait between two attempts at one video's thumbnail.
MAX_RETRY_SECONDS = 86400.0


def retry_delay(attempts: int, base_seconds: float) -> float:
    """Seconds to wait after the `attempts`-th failure: base, doubling, at most a day."""
    return min(base_seconds * 2.0 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


def thumbnail_name(video_id: uuid.UUID) -> str:
    """Where a video's thumbnail goes, relative to the thumbnail directory (256 folders)."""
    return f"{video_id.hex[:2]}/{video_id}.jpg"


def remove_thumbnail(directory: Path, video_id: uuid.UUID) -> bool:
    """Delete a video's generated JPEG, once its record is gone; True if there was one."""
    try:
        (directory / thumbnail_name(video_id)).unlink()
    except FileNotFoundError:
        return False
    except OSError as error:  # kept, and said: a stray JPEG costs space, not data
        log.warning("thumbnail_not_removed", video_id=str(video_id), error=str(error))
        return False
    log.info("thumbnail_removed", video_id=str(video_id))
    return True


@dataclass(frozen=True, slots=True)
class ThumbnailSettings:
    directory: Path
    width: int = 320
    workers: int = 1
    time_limit_s: float = 30.0

    @classmethod
    def from_config(cls, config: Config) -> ThumbnailSettings:
        section = config.thumbnails
        return cls(
            directory=config.thumbnail_dir.absolute(),
            width=section.width,
            workers=section.workers,
            time_limit_s=config.probe_timeout_s,
        )

    def with_workers(self, workers: int) -> ThumbnailSettings:
        return dataclasses.replace(self, workers=workers)


@dataclass(frozen=True, slots=True)
class Outcome:
    video_id: uuid.UUID
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ThumbnailMaker(PooledJobs[FrameResult]):
    """Makes and records thumbnails, `settings.workers` at a time, in worker processes.

    The workers are the same pool as the examiner's (shared/media/workers.py): a grab that
    hangs or crashes costs its own worker only, and the others go on.
    """

    def __init__(
        self,
        repository: ThumbnailRepository,
        library: Library,
        settings: ThumbnailSettings,
        *,
        job: Callable[[tuple[str, str], int], FrameResult] = grab_frame,
        path_map: PathMap | None = None,
    ) -> None:
        pool: WorkerPool[FrameResult] = WorkerPool(
            settings.workers,
            job,
            settings.width,
            settings.time_limit_s,
            name="videolib-thumbnailer",
        )
        super().__init__(
            pool,
            timed_out=lambda limit_s: FrameResult(
                error=f"frame grab timed out after {limit_s:g} s"
            ),
            crashed=lambda status: FrameResult(error=f"frame grabber crashed ({status})"),
        )
        self.repository, self.library, self.settings = repository, library, settings
        self.path_map = path_map or {}
        self._slots = asyncio.Semaphore(settings.workers)
        #: Counts since start, for logs and metrics.
        self.made = 0
        self.failed = 0

    async def make_many(
        self, tasks: Sequence[ThumbnailTask], progress: Callable[[Outcome], None] | None = None
    ) -> list[Outcome]:
        """Make all, `workers` at a time (a backfill may hold 100,000: no task per video)."""
        pending = iter(tasks)
        outcomes: list[Outcome] = []

        async def consume() -> None:
            for task in pending:  # one shared iterator: each task is taken once
                outcome = await self.make(task)
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)

        await asyncio.gather(*(consume() for _ in range(self.settings.workers)))
        return outcomes

    async def make(self, task: ThumbnailTask, *, gave_up: bool = False) -> Outcome:
        """Make one video's thumbnail and record the result (never raises for a bad file).

        `gave_up`: a failure is the last try's, recorded as given up."""
        name = thumbnail_name(task.video_id)
        async with self._slots:
            result = await self._grab(task, str(self.settings.directory / name))
        if result.error is None:
            await self.repository.record_made(task.video_id, name)
            self.made += 1
            log.info("thumbnail_made", video_id=str(task.video_id), path=task.path)
            return Outcome(task.video_id)
        await self.repository.record_failed(task.video_id, result.error, gave_up=gave_up)
        self.failed += 1
        log.warning(
            "thumbnail_failed",
            video_id=str(task.video_id),
            path=task.path,
            error=result.error,
            gave_up=gave_up,
        )
        return Outcome(task.video_id, result.error)

    async def _grab(self, task: ThumbnailTask, target: str) -> FrameResult:
        try:
            inside = self.library.absolute(task.path)  # refuses a path leaving the library
            source = str(mapped_path(task.path, self.path_map) or inside)
        except PathError as error:
            return FrameResult(error=error.message)
        return await self.run_item((source, target))
