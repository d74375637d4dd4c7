"""Integrity checks as jobs of the engine: a planner cuts a cycle into path ranges, and any
worker re-hashes one range per job, so N hosts verify 200 TB N times faster than the one
loop the leader daemon ran before.

- `plan_integrity` (a schedule, so one run at a time across workers; and the cycle starts
  under an advisory lock, so two planners never start two): when a cycle is due
  (`integrity.cycle_interval_hours`) and the window is open, it splits the verifiable
  records into ranges (shared/integrity/chunks.py) and defers one `verify_integrity_chunk`
  job per range. Every run re-defers the ranges not finished yet; the job key skips those
  queued or running, so a job lost to a crash is queued again, never twice.
- `verify_integrity_chunk`: reads the range's files at `integrity.rate_mb_per_second`
  (one budget per worker process, shared/integrity/pacing.py) and only inside
  `integrity.window`. Outside it the job reads nothing and asks to be retried when the
  window opens (RetryLater); if the window closes during a file, that file is left unread
  and read again from its start then: a worker slot is not held idle for the hours the
  window is shut, at the cost of re-reading at most one file per job and window.
- Each file's verdict (shared/integrity/verdict.py) is written with the range's progress in
  one transaction: a worker killed mid-range leaves the range where its last file put it,
  and the retry (another worker, once the engine sees the heartbeat stale) goes on after it.
  A finding is one open row per video (a unique index), so a re-read never adds a second.
- A 'changed' file (size or mtime differ: an edit) is logged and counted, not re-probed
  here: the daemon, the one writer of records (issue 13 §4), re-probes every file whose size
  or mtime differ from its record at its next reconciliation (`daemon.reconcile_interval`),
  which is what its debouncer did with it before. A worker on another host cannot reach
  that debouncer, and a re-probe job of its own would race the leader's write.

A long file is no problem for the engine: it beats the job's heartbeat every
`worker.stalled_seconds / 2` while the job runs (the reads are in threads, the event loop is
free), and no timeout applies to a job, so a 50 GB file paced for 40 minutes is not taken
for stalled nor cut off.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import IntegrityConfig
from videolib.shared.db.repository import IntegrityRepository, ToVerify
from videolib.shared.db.repository.integrity import Chunk, ChunkKey, CycleEnd
from videolib.shared.errors import DatabaseUnavailableError, PathError
from videolib.shared.integrity.budget import Window, cycle_due_in
from videolib.shared.integrity.check import check_file
from videolib.shared.integrity.chunks import MAX_BYTES, MAX_FILES, Cutter
from videolib.shared.integrity.verdict import Changed, Intact, Mismatch, Recorded, Unread, Verdict
from videolib.shared.library import Library
from videolib.shared.logging import get_logger

from .defer import defer
from .kinds import JobCall, RetryLater
from .names import VERIFY_INTEGRITY_CHUNK
from .path_map import mapped_path
from .resources import WorkerResources

log = get_logger(__name__)

#: Records of a range read from the database at a time.
BATCH = 100
#: (path, size) rows read at a time while planning.
PLAN_BATCH = 10_000
#: The longest retry delay of a job outside the window: the window is looked at again at
#: least this often (a changed clock, a changed window).
LONGEST_WAIT_S = 3600.0
#: A job that met a database outage is tried again after this long.
OUTAGE_RETRY_S = 30.0

WallClock = Callable[[], datetime]


def local_now() -> datetime:
    """The local wall-clock time, with its offset (the window is in local time)."""
    return datetime.now().astimezone()


class WindowClosed(Exception):
    """The window is shut: stop reading; `wait_s` until it opens (at most LONGEST_WAIT_S)."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"outside integrity.window; opens in {wait_s:.0f} s")
        self.wait_s = wait_s


# -- the planner ------------------------------------------------------------------------


async def plan_integrity(resources: WorkerResources, call: JobCall) -> None:
    """The schedule's run: start a cycle if one is due, and (re)defer its open ranges."""
    settings = resources.config.integrity
    if not settings.enabled:
        return
    repository = IntegrityRepository(resources.engine)
    started = await plan(repository, settings, local_now())
    queued = await defer_chunks(resources.engine, await repository.unfinished_chunks())
    log.info("integrity_planned", cycle_started=bool(started), ranges=len(started), queued=queued)


async def plan(
    repository: IntegrityRepository,
    settings: IntegrityConfig,
    now: datetime,
    *,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_BYTES,
) -> list[ChunkKey]:
    """Start a cycle split into ranges if none is under way, one is due and the window is
    open at `now`; its ranges' keys ([] when no cycle was started)."""
    state = await repository.state()
    interval = timedelta(hours=settings.cycle_interval_hours)
    if state.cursor is not None or cycle_due_in(state.started_at, now, interval) > 0:
        return []
    if not Window.parse(settings.window).is_open(now):
        return []  # started when reading can start: the interval counts from there
    cutter = Cutter(max_files=max_files, max_bytes=max_bytes)
    after = ""
    while batch := await repository.sizes(after, PLAN_BATCH):
        for path, size in batch:
            cutter.add(path, size)
        after = batch[-1][0]
    ranges = [(r.after, r.through) for r in cutter.ranges()]
    keys = await repository.begin_cycle(now, ranges, interval=interval)
    if keys:
        log.info("integrity_cycle_started", files=cutter.files, ranges=len(keys))
    return keys


def chunk_job_key(key: ChunkKey) -> str:
    """One pending job per range: the cycle's start in UTC (the planner's clock may give it
    in local time, the database in UTC: one key either way) and the range's number."""
    return f"{VERIFY_INTEGRITY_CHUNK}:{_utc(key.cycle_started_at)}:{key.number}"


def chunk_payload(key: ChunkKey) -> dict[str, object]:
    return {"cycle_started_at": _utc(key.cycle_started_at), "number": key.number}


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def defer_chunks(engine: AsyncEngine, keys: list[ChunkKey]) -> int:
    """One job per range that has none queued or running; how many were queued."""
    return await defer(
        engine, VERIFY_INTEGRITY_CHUNK, [(chunk_payload(k), chunk_job_key(k)) for k in keys]
    )


# -- a range's verification ---------------------------------------------------------------


async def verify_integrity_chunk(resources: WorkerResources, call: JobCall) -> None:
    """Verify one range; outside the window (or in an outage) it is retried later."""
    settings = resources.config.integrity
    if not settings.enabled:
        return  # the planner re-defers the range once it is enabled again
    key = ChunkKey(
        datetime.fromisoformat(call.payload["cycle_started_at"]), int(call.payload["number"])
    )
    verifier = ChunkVerifier(resources, Window.parse(settings.window))
    try:
        await verifier.run(key)
    except WindowClosed as closed:
        raise RetryLater(str(closed), timedelta(seconds=closed.wait_s)) from None
    except DatabaseUnavailableError as error:
        raise RetryLater(error.message, timedelta(seconds=OUTAGE_RETRY_S)) from None


class ChunkVerifier:
    """Re-hashes the files of a range, paced and inside the window, recording each verdict."""

    def __init__(
        self, resources: WorkerResources, window: Window, *, wall: WallClock = local_now
    ) -> None:
        self.library = Library.from_config(resources.config)
        self.path_map = resources.path_map
        self.repository = IntegrityRepository(resources.engine)
        self.metrics = resources.metrics
        self.pacer = resources.integrity_pacer
        self.window, self._wall = window, wall
        #: Files this verifier recorded (a test counts them).
        self.verified = 0

    async def run(self, key: ChunkKey) -> CycleEnd | None:
        """Verify the range from where it stands; the CycleEnd if it was the cycle's last."""
        chunk = await self.repository.chunk(key)
        if chunk is None or chunk.finished_at is not None:
            return None  # a job of a replaced cycle, or a range another worker finished
        self._must_be_open()
        log.info("integrity_chunk_started", number=key.number, after=chunk.resume_after)
        await self._verify_range(chunk)
        end = await self.repository.finish_chunk(key, self._wall())
        log.info("integrity_chunk_finished", number=key.number, files=self.verified)
        if end is not None:
            log.info(
                "integrity_cycle_finished",
                files=end.files,
                flagged=end.flagged,
                unread=end.unread,
                full=end.full,
            )
        return end

    async def _verify_range(self, chunk: Chunk) -> None:
        after = chunk.resume_after
        while batch := await self.repository.chunk_files(chunk, after, BATCH):
            for file in batch:
                self._must_be_open()
                await self.verify(file, chunk.key)
                after = file.path

    async def verify(self, file: ToVerify, chunk: ChunkKey | None) -> Verdict:
        """Re-hash one file and record what it means with the range's progress."""
        verdict = await self._check(file)
        self.metrics.integrity_files.labels(type(verdict).__name__.lower()).inc()
        if isinstance(verdict, Mismatch):
            finding = await self.repository.flag(file, verdict.observed_sha256, chunk=chunk)
            if finding is not None:  # else the range's first worker reported it
                log.warning(
                    "integrity_mismatch",
                    path=file.path,
                    video_id=str(file.video_id),
                    recorded_sha256=verdict.recorded_sha256,
                    observed_sha256=verdict.observed_sha256,
                    finding_id=str(finding.id),
                )
        else:
            await self.repository.passed(
                file,
                intact=isinstance(verdict, Intact),
                chunk=chunk,
                unread=isinstance(verdict, Unread),
            )
            if isinstance(verdict, Changed):
                log.info("integrity_file_changed", path=file.path, then="next reconciliation")
            elif isinstance(verdict, Unread):
                log.info("integrity_file_unread", path=file.path, reason=verdict.reason)
        self.verified += 1
        return verdict

    async def _check(self, file: ToVerify) -> Verdict:
        directory_type = file.path.split("/", 1)[0]
        try:
            inside = self.library.absolute(file.path)
            folder = mapped_path(directory_type, self.path_map) or self.library.directory(
                directory_type
            )
        except PathError as error:
            return Unread(error.message)
        if not await asyncio.to_thread(_folder_present, folder):
            return Unread("its folder is missing or empty (unmounted?)")
        path = mapped_path(file.path, self.path_map) or inside
        recorded = Recorded(file.size, file.mtime_ns, file.sha256)
        return await check_file(path, recorded, self._pace)

    async def _pace(self, read_bytes: int) -> None:
        self.metrics.integrity_bytes.inc(read_bytes)
        await self.pacer.pace(read_bytes)
        self._must_be_open()

    def _must_be_open(self) -> None:
        wait_s = self.window.seconds_until_open(self._wall())
        if wait_s > 0:
            raise WindowClosed(min(wait_s, LONGEST_WAIT_S))


def _folder_present(folder: Path) -> bool:
    """A type folder that is gone or empty is an unmounted share, not a set of rotten files
    (issue 11 §1); its files count unread and wait for the next cycle."""
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    except OSError:
        return False
