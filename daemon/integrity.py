"""The daemon's integrity loop: re-hash every valid file, paced, and flag silent changes.

One cycle walks the valid records in path order from a cursor kept in the database (a
restart resumes after the last file verified), reads each file at no more than
`integrity.rate_mb_per_second` and only inside `integrity.window`, and judges it
(shared/integrity/verdict.py):

- intact: the cursor moves on (and an open finding of that video is closed as intact);
- mismatch (hash changed, size and mtime did not): a finding with both hashes; the file
  and its record are left alone, an admin decides (api/routes/integrity.py);
- changed (size or mtime differ): an edit, handed to the normal path (`on_changed`, the
  daemon's debouncer, which re-probes it as any written file);
- unread (missing, its folder unmounted or empty): nothing; the reconciliation decides.

Reads run in this process, one chunk per thread call, not in the examiner workers: a paced
50 GB file takes 40 minutes at 20 MB/s and would hold a worker past its time limit, while
hashing at that rate costs a few % of one core (bench/integrity.py measures both).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from videolib.shared.config import IntegrityConfig
from videolib.shared.db.repository import IntegrityRepository, ToVerify
from videolib.shared.errors import DatabaseUnavailableError, PathError
from videolib.shared.integrity.budget import MB, Window, cycle_due_in, next_read_at
from videolib.shared.integrity.check import check_file
from videolib.shared.integrity.verdict import Changed, Intact, Mismatch, Recorded, Unread
from videolib.shared.library import Library
from videolib.shared.logging import get_logger

from .health import DatabaseHealth
from .metrics import DaemonMetrics
from .supervision import cancelling

log = get_logger(__name__)

#: Records read from the database at a time.
BATCH = 100
#: The longest single sleep: a wait for the window or the next cycle is re-checked this
#: often (a changed clock, the flagged-files gauge kept fresh after an admin's accept).
LONGEST_SLEEP_S = 60.0
#: At least this long between two cycles, so that an empty library is not walked in a spin.
MIN_CYCLE_GAP_S = 1.0

WallClock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def local_now() -> datetime:
    """The local wall-clock time, with its offset (the window is in local time)."""
    return datetime.now().astimezone()


class Budget:
    """Paces reads to the configured rate and holds them outside the daily window."""

    def __init__(
        self,
        rate_bytes_s: float,
        window: Window,
        *,
        wall: WallClock = local_now,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate_bytes_s, self.window = rate_bytes_s, window
        self._wall, self._monotonic, self._sleep = wall, monotonic, sleep
        self._scheduled: float | None = None

    async def pace(self, read_bytes: int) -> None:
        """After a read of `read_bytes`: wait until the next read is within budget."""
        now = self._monotonic()
        previous = now if self._scheduled is None else self._scheduled
        self._scheduled = next_read_at(previous, now, read_bytes, self.rate_bytes_s)
        if self._scheduled > now:
            await self._sleep(self._scheduled - now)
        await self.open_window()

    async def open_window(self) -> None:
        """Return at once inside the window; else once it opens."""
        logged = False
        while (wait_s := self.window.seconds_until_open(self._wall())) > 0:
            if not logged:
                log.info("integrity_waiting_for_window", window=str(self.window), wait_s=wait_s)
                logged = True
            await self._sleep(min(wait_s, LONGEST_SLEEP_S))


class IntegrityChecker:
    """The loop: cycles of verification, each resumed from the stored cursor."""

    def __init__(
        self,
        settings: IntegrityConfig,
        library: Library,
        repository: IntegrityRepository,
        metrics: DaemonMetrics,
        health: DatabaseHealth,
        *,
        on_changed: Callable[[str], None] = lambda _path: None,
        folder_present: Callable[[str], bool] | None = None,
        wall: WallClock = local_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings, self.library, self.repository = settings, library, repository
        self.metrics, self.health, self.on_changed = metrics, health, on_changed
        self.folder_present = folder_present or self._folder_present
        self.budget = Budget(
            settings.rate_mb_per_second * MB,
            Window.parse(settings.window),
            wall=wall,
            sleep=sleep,
        )
        self._wall, self._sleep = wall, sleep
        #: Counts since start, for tests and logs.
        self.cycles = 0
        self.verified = 0
        self.unread = 0
        self._last_cycle_restored = False

    async def run(self) -> None:
        """Verify until cancelled; waits out a database outage."""
        log.info(
            "integrity_started",
            rate_mb_per_second=self.settings.rate_mb_per_second,
            window=str(self.budget.window),
        )
        while True:
            await self.health.wait()
            try:
                await self._refresh_gauges()
                await self.run_cycle()
            except DatabaseUnavailableError as error:
                if cancelling():
                    raise
                self.health.failed(error)

    async def run_cycle(self) -> None:
        """Resume the cycle under way, or start one if it is due (else wait a while)."""
        state = await self.repository.state()
        cursor = state.cursor
        if cursor is None:  # between cycles: start one when it is due
            interval = timedelta(hours=self.settings.cycle_interval_hours)
            due_s = cycle_due_in(state.started_at, self._wall(), interval)
            if due_s > 0:
                await self._sleep(min(due_s, LONGEST_SLEEP_S))
                return
            await self.budget.open_window()
            await self.repository.start_cycle(self._wall())
            cursor = ""
            log.info("integrity_cycle_started")
        else:
            log.info("integrity_cycle_resumed", after=cursor)
        await self._cycle(cursor)

    async def _cycle(self, cursor: str) -> None:
        files = flagged = 0
        unread_before = self.unread
        while batch := await self.repository.next_files(cursor, BATCH):
            for file in batch:
                await self.budget.open_window()
                flagged += await self.verify(file)
                files += 1
                cursor = file.path
            await self._refresh_gauges()
        finished = self._wall()
        # A cycle that could not read some files (a share away, a file missing) is no full
        # one: the dashboard's last full cycle must not claim them verified.
        unread = self.unread - unread_before
        await self.repository.finish_cycle(finished, full=unread == 0)
        if unread == 0:
            self.metrics.integrity_last_full_cycle.set(finished.timestamp())
        self.cycles += 1
        log.info("integrity_cycle_finished", files=files, flagged=flagged, unread=unread)
        await self._sleep(MIN_CYCLE_GAP_S)

    async def verify(self, file: ToVerify) -> bool:
        """Re-hash one file, record what it means; True if it was flagged."""
        verdict = await self._check(file)
        self.verified += 1
        self.metrics.integrity_files.labels(type(verdict).__name__.lower()).inc()
        if isinstance(verdict, Mismatch):
            finding = await self.repository.flag(file, verdict.observed_sha256)
            log.warning(
                "integrity_mismatch",
                path=file.path,
                video_id=str(file.video_id),
                recorded_sha256=verdict.recorded_sha256,
                observed_sha256=verdict.observed_sha256,
                finding_id=str(finding.id),
            )
            await self._refresh_gauges()
            return True
        await self.repository.passed(file, intact=isinstance(verdict, Intact))
        if isinstance(verdict, Changed):
            # An edit, not rot: the ordinary path re-probes and re-hashes it.
            log.info("integrity_file_changed", path=file.path, then="re-probe")
            self.on_changed(file.path)
        elif isinstance(verdict, Unread):
            self.unread += 1
            log.info("integrity_file_unread", path=file.path, reason=verdict.reason)
        return False

    async def _check(self, file: ToVerify) -> Intact | Mismatch | Changed | Unread:
        directory_type = file.path.split("/", 1)[0]
        if not await asyncio.to_thread(self.folder_present, directory_type):
            return Unread("its folder is missing or empty (unmounted?)")
        try:
            path = self.library.absolute(file.path)
        except PathError as error:
            return Unread(error.message)
        recorded = Recorded(file.size, file.mtime_ns, file.sha256)
        return await check_file(path, recorded, self._pace)

    async def _pace(self, read_bytes: int) -> None:
        self.metrics.integrity_bytes.inc(read_bytes)
        await self.budget.pace(read_bytes)

    def _folder_present(self, directory_type: str) -> bool:
        """A type folder that is gone or empty is an unmounted share, not a set of rotten
        files (issue 11 §1); its files wait for the next cycle."""
        try:
            folder = self.library.directory(directory_type)
            with os.scandir(folder) as entries:
                return next(entries, None) is not None
        except (OSError, PathError):
            return False

    async def _refresh_gauges(self) -> None:
        self.metrics.integrity_flagged.set(await self.repository.open_count())
        if not self._last_cycle_restored:  # the gauge survives a restart of the daemon
            state = await self.repository.state()
            if state.last_full_cycle_at is not None:
                self.metrics.integrity_last_full_cycle.set(state.last_full_cycle_at.timestamp())
            self._last_cycle_restored = True
