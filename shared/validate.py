"""Re-probe and re-hash recorded videos: the seed's "validate", for the CLI and the API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from videolib.shared.db.records import Video
from videolib.shared.db.repository import VideoRepository
from videolib.shared.errors import PathError
from videolib.shared.ingest import run_together, to_examined
from videolib.shared.jobs.path_map import PathMap, mapped_path
from videolib.shared.library import Library
from videolib.shared.media.workers import ExaminerPool

# Ids read from the database and validated at a time (bounded memory for `--all`).
CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Validation:
    """What validating one id found: the record after it, and the problem if any."""

    id: uuid.UUID
    video: Video | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def validate_one(
    video: Video,
    *,
    library: Library,
    repository: VideoRepository,
    pool: ExaminerPool,
    path_map: PathMap | None = None,
) -> Validation:
    """Examine a recorded file again and record the result.

    A missing file makes the record invalid (`missing`), an unreadable one `corrupt` or
    `unreadable`; a soft-deleted record stays deleted whatever the file says. `path_map`:
    where this host (a worker's) mounts parts of the library (shared/jobs/path_map.py).
    """
    try:
        inside = library.absolute(video.path)  # refuses a path leaving the library
        path = mapped_path(video.path, path_map or {}) or inside
    except PathError as unsafe:
        return Validation(video.id, video, unsafe.message)
    if not path.is_file():
        await repository.mark_missing([video.path])
        return Validation(video.id, await repository.get(video.id), f"{video.path}: file not found")
    examination = await pool.examine(str(path))
    if examination.invalid_reason == "missing":
        await repository.mark_missing([video.path])
        return Validation(video.id, await repository.get(video.id), f"{video.path}: file not found")
    await repository.write_examined([to_examined(video.path, examination)])
    after = await repository.get(video.id)
    error = f"{video.path}: {examination.error}" if examination.invalid_reason else None
    if error is None and examination.changed:
        error = f"{video.path}: changed while being read; validate again when it is complete"
    return Validation(video.id, after, error)


async def validate_many(
    ids: Sequence[uuid.UUID],
    *,
    library: Library,
    repository: VideoRepository,
    pool: ExaminerPool,
    progress: Callable[[Validation], None] | None = None,
    record: Callable[[Validation], Awaitable[None]] | None = None,
    path_map: PathMap | None = None,
) -> list[Validation]:
    """Validate several ids in order; unknown ids are reported, not raised.

    `record` is awaited with each result as it comes (a chunk job writes it to its batch
    then, so a killed worker's finished items are kept and its retry skips them).
    """
    limit = asyncio.Semaphore(pool.workers * 2)  # keep every worker busy, no more

    async def one(video_id: uuid.UUID, video: Video | None) -> Validation:
        async with limit:
            if video is None:
                result = Validation(video_id, None, f"{video_id}: no such video")
            else:
                result = await validate_one(
                    video, library=library, repository=repository, pool=pool, path_map=path_map
                )
            if record is not None:
                await record(result)
        if progress:
            progress(result)
        return result

    results: list[Validation] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = {video.id: video for video in await repository.get_many(chunk)}
        results += await _all_of(chunk, found, one)
    return results


async def _all_of(
    ids: Sequence[uuid.UUID],
    found: dict[uuid.UUID, Video],
    one: Callable[[uuid.UUID, Video | None], Awaitable[Validation]],
) -> list[Validation]:
    """Each id validated at once, in the order given. The first error (the database gone)
    cancels the rest: nothing goes on validating after its caller has given up."""
    results: dict[int, Validation] = {}

    async def put(n: int, video_id: uuid.UUID) -> None:
        results[n] = await one(video_id, found.get(video_id))

    await run_together(*(put(n, video_id) for n, video_id in enumerate(ids)))
    return [results[n] for n in range(len(ids))]
