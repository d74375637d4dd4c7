"""The daemon's scheduler: events -> debounce -> bounded ready queue -> ingest; reconcile.

Back-pressure: complete paths move from the debouncer into a bounded, coalesced ready
queue only while it has room, so a burst of 100,000 files is held as small per-path
entries, and beyond the debouncer's capacity dropped in favour of a reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.db.repository import (
    DirectoryLocks,
    InboxMoveRepository,
    VideoRepository,
    ping,
)
from videolib.shared.db.repository.leader import Fence, LeaderLock, daemon_session_name
from videolib.shared.errors import DatabaseBusyError, DatabaseUnavailableError, PathError
from videolib.shared.jobs.defer import defer_fingerprints_for_paths, defer_thumbnails_for_paths
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.workers import ExaminerPool
from videolib.shared.mount_guard import MountGuard, limits_from
from videolib.shared.mount_safety import Hold
from videolib.shared.systemd import Notifier

from . import poll, remount
from .debounce import Debouncer, Signal, Stat, Timing, with_close_events
from .events import (
    Action,
    FsEvent,
    Ignore,
    MarkMissing,
    MarkMissingTree,
    Move,
    MoveTree,
    Touch,
    TypeFolderGone,
    Walk,
    decide_event,
)
from .health import DatabaseHealth
from .inbox import Inbox
from .journal import LEGACY_DIR, MoveJournal
from .leadership import Leadership
from .metrics import DaemonMetrics, metrics_app, start_server
from .pipeline import Pipeline, walk_videos
from .reconcile import reconcile
from .supervision import LoopFailedError, RestartPolicy, Supervisor, cancelling
from .watch import Watcher

log = get_logger(__name__)

READY_CAPACITY = 1_000  # complete paths waiting for an ingest slot
ACTION_CAPACITY = 10_000  # moves and deletions waiting for the database
BATCH = 64  # paths per ingest batch: one fingerprint query, one upsert
INGESTERS = 2  # concurrent batches
WATCH_CHECK_S = 5.0  # how often dead or missing watches are retried
BUSY_PAUSE_S = 0.5  # an ingester waits this long after "no pooled connection came free"
#: The whole stop, from the signal to the last worker gone: inside the 3 s that SIGTERM
#: allows (issue 10, item 7), with room for the process's own exit.
STOP_BUDGET_S = 2.5
#: Of that, how long in-flight files may finish; the rest are abandoned (nothing of them is
#: recorded) and found by the next pass.
STOP_GRACE_S = 1.0


class Scheduler:
    """The daemon's state and tasks; `run(stop)` returns after a clean shutdown."""

    def __init__(
        self,
        config: Config,
        engine: AsyncEngine,
        pool: ExaminerPool,
        *,
        notifier: Notifier | None = None,
        restarts: RestartPolicy | None = None,
        session_name: str | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.library = Library.from_config(config)
        self.repository = VideoRepository(engine)
        self.locks = DirectoryLocks(engine)
        self.pool = pool
        self.notifier = notifier or Notifier(None)
        self.metrics = DaemonMetrics()
        self.health = DatabaseHealth(
            functools.partial(ping, engine),
            self.metrics,
            on_recovered=self._on_database_back,
            probe_timeout_s=config.database.connect_timeout_seconds,
        )
        self.inbox = Inbox(
            self.library,
            self.repository,
            pool,
            config.daemon,
            self.metrics,
            self.locks,
            MoveJournal(InboxMoveRepository(engine), legacy=config.state.dir / LEGACY_DIR),
            # Each file between lock and record holds a lock session outside the pool and
            # takes pooled connections one statement at a time: bounded by the pool's size,
            # the server's connections stay bounded too.
            moves_at_once=config.database.pool_size,
        )
        # Every missing mark, of a pass or an event, goes through it (issue 11 §1).
        self.guard = MountGuard(self.library, engine, limits_from(config), on_hold=self._count_hold)
        #: Why the library counts as not mounted (no marker), or None; for /readyz.
        self.unmounted: str | None = None
        self.pipeline = Pipeline(
            self.library,
            self.repository,
            pool,
            self.metrics,
            self.inbox,
            self.touch,
            self.guard,
        )
        self.debouncer = Debouncer(self._timing(close_events=not config.daemon.polling))
        self.ready: dict[str, None] = {}  # ordered and coalesced: a path is in it once
        self.actions: deque[Action] = deque()
        self._ready_event = asyncio.Event()
        self._actions_event = asyncio.Event()
        self._reconcile_now = asyncio.Event()
        self._stopping = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[Any]] = set()  # one-shot work (walks)
        self._loop_failed = asyncio.Event()
        self.supervisor = Supervisor(
            self.metrics.loop_crashes, policy=restarts, on_give_up=self._on_loop_failed
        )
        # The loops that write run only while this daemon leads (issue 13 §4): started at a
        # takeover, stopped when the lock is lost. Every write commits only while it leads.
        self.leader_loops = Supervisor(
            self.metrics.loop_crashes, policy=restarts, on_give_up=self._on_loop_failed
        )
        self.fence = Fence()
        self.fence.install(engine)
        self.leadership = Leadership(
            LeaderLock(
                engine, session_name or daemon_session_name(), lease_s=config.leader.lease_seconds
            ),
            self.fence,
            config.leader,
            self.metrics,
            on_lead=self._lead,
            on_stand_by=self._stand_by,
            on_unavailable=self.health.failed,
        )
        self._first_started = asyncio.Event()  # the first pass as leader began
        self.watching = False
        self.reconciled = 0  # passes finished
        self.polls = 0  # stat-walks of polled folders
        self.metrics_port: int | None = None
        self.serving = False  # ready: leading with its first pass begun, or standing by

    def _timing(self, close_events: bool) -> Timing:
        daemon = self.config.daemon
        return Timing(daemon.settle_seconds, daemon.quiet_seconds, close_events)

    # -- events (on the loop, from the watcher) -----------------------------------------

    def on_event(self, event: FsEvent) -> None:
        self.metrics.events.labels(event.kind.value).inc()
        if not self.leadership.leading:
            return  # the leader records it; a takeover's first pass finds what it missed
        self.handle(decide_event(event))

    def handle(self, action: Action) -> None:
        if isinstance(action, Ignore):
            return
        if isinstance(action, Touch):
            self.touch(action.path, action.signal)
        elif isinstance(action, Walk):
            self._spawn(self._walk(action.prefix))
        elif isinstance(action, TypeFolderGone):
            # A mount went away: say so, keep the records (issue 4 §8); `check` re-watches.
            log.warning("type_folder_gone", directory_type=action.directory_type)
            self.debouncer.forget_under(action.directory_type)
        else:
            self._queue_action(action)

    def touch(self, path: str, signal: Signal) -> None:
        self.debouncer.event(path, signal, time.monotonic())
        self.ready.pop(path, None)  # written again: it must settle again

    def _queue_action(self, action: Action) -> None:
        if isinstance(action, Move | MarkMissing):
            gone = action.old if isinstance(action, Move) else action.path
            self.debouncer.forget(gone)
            self.ready.pop(gone, None)
        elif isinstance(action, MoveTree | MarkMissingTree):
            self.debouncer.forget_under(
                action.old if isinstance(action, MoveTree) else action.prefix
            )
        if len(self.actions) >= ACTION_CAPACITY:
            self._overflowed("actions")
            return
        self.actions.append(action)
        self._actions_event.set()

    def _overflowed(self, where: str) -> None:
        self.metrics.dropped.inc()
        if not self._reconcile_now.is_set():
            log.warning("capacity_reached", where=where, then="reconcile")
        self._reconcile_now.set()

    async def _walk(self, prefix: str) -> None:
        for path in await asyncio.to_thread(walk_videos, self.library, prefix):
            self.touch(path, Signal.APPEAR)

    # -- the loops ----------------------------------------------------------------------

    async def _tick(self) -> None:
        """Move complete paths from the debouncer to the ready queue, as room allows."""
        daemon = self.config.daemon
        period = max(0.02, min(0.1, daemon.quiet_seconds / 2, daemon.settle_seconds / 4))
        while True:
            await asyncio.sleep(period)
            to_stat = self.debouncer.to_stat()
            if to_stat:
                stats = await asyncio.to_thread(_stat_all, self.library, to_stat)
                self.debouncer.observed(stats, time.monotonic())
            room = READY_CAPACITY - len(self.ready)
            for path in self.debouncer.take(time.monotonic(), room):
                self.ready[path] = None
            if self.ready:
                self._ready_event.set()
            if self.debouncer.overflowed:
                self.debouncer.overflowed = False
                self._overflowed("debouncer")
            self.metrics.queue_depth.labels("settling").set(len(self.debouncer))
            self.metrics.queue_depth.labels("ready").set(len(self.ready))

    async def _ingester(self) -> None:
        while not self._stopping:
            await self.health.wait()
            await self._ready_event.wait()
            batch = list(self.ready)[:BATCH]
            for path in batch:
                del self.ready[path]
            if not self.ready:
                self._ready_event.clear()
            if not batch:
                continue
            self._in_flight += len(batch)
            self.metrics.in_flight.set(self._in_flight)
            try:
                await self.pipeline.ingest(batch)
                # After the rows are written, never before: the drop is listed first, and
                # its thumbnail and its fingerprint (issue 12 §3) are jobs of the engine's
                # thumbnails and fingerprints queues (shared/jobs/), off the ingest's path.
                await defer_thumbnails_for_paths(self.repository.engine, batch)
                if self.config.fingerprints.enabled:
                    await defer_fingerprints_for_paths(
                        self.repository.engine,
                        batch,
                        max_attempts=self.config.fingerprints.max_attempts,
                    )
            except DatabaseUnavailableError as error:
                if cancelling():
                    raise
                for path in batch:  # kept, coalesced, for when it is back
                    self.ready.setdefault(path, None)
                self._ready_event.set()
                if isinstance(error, DatabaseBusyError):
                    # Back-pressure, not an outage: the database answers, the pool is full.
                    log.warning("ingest_deferred", paths=len(batch), error=str(error))
                    await asyncio.sleep(BUSY_PAUSE_S)
                else:
                    self.health.failed(error)
            except Exception:
                if cancelling():
                    raise
                log.exception("ingest_failed", paths=len(batch))
            finally:
                self._in_flight -= len(batch)
                self.metrics.in_flight.set(self._in_flight)

    async def _actor(self) -> None:
        """Moves and deletions, in event order, each retried while the database is away."""
        while True:
            await self._actions_event.wait()
            while self.actions:
                await self.health.wait()
                try:
                    await self.pipeline.apply(self.actions[0])
                except DatabaseUnavailableError as error:
                    if cancelling():
                        raise
                    self.health.failed(error)
                    continue
                except Exception:
                    if cancelling():
                        raise
                    log.exception("action_failed", action=repr(self.actions[0]))
                self.actions.popleft()
            self._actions_event.clear()

    async def _reconciler(self, first_started: asyncio.Event) -> None:
        """The watcher's own passes: at the lead, after an outage, on a remount, an
        overflow or a refused watch (`_reconcile_now`). The periodic pass is a job of the
        engine's (shared/jobs/maintenance_jobs.py), once per library on any worker."""
        while True:
            await self.health.wait()
            self._reconcile_now.clear()
            first_started.set()
            try:
                # Moves a kill or an outage left half done, first: the pass then finds
                # their files recorded, and the inbox walk what was rolled back.
                await self.inbox.recover()
                await reconcile(
                    self.library, self.repository, self.locks, self.pool, self.metrics, self.guard
                )
                await self._walk("inbox")  # what waits in the inbox goes through its step
                self.reconciled += 1
            except DatabaseUnavailableError as error:
                if cancelling():
                    raise
                self.health.failed(error)
                continue
            except Exception:
                if cancelling():
                    raise  # a stop, surfacing as a database error: not a failed pass
                log.exception("reconcile_failed")
            await self._reconcile_now.wait()

    async def _watch_checker(self, watcher: Watcher) -> None:
        seen = await asyncio.to_thread(remount.devices, self.library)
        await self._check_marker()
        while True:
            await asyncio.sleep(WATCH_CHECK_S)
            if await asyncio.to_thread(watcher.check):
                self._reconcile_now.set()
            seen = await self._follow_mounts(watcher, seen)
            await self._check_marker()
            await self._count_held_passes()
            self._poll_refused_subtrees(watcher)
            self._follow_close_events(watcher)

    async def _follow_mounts(self, watcher: Watcher, last: remount.Devices) -> remount.Devices:
        """A folder on another device than at the last look: a share went or came back.
        Its watch is rebuilt (the old one watches a hidden folder) and it is reconciled,
        where the mount guard decides; no restart needed (issue 11 §1)."""
        now = await asyncio.to_thread(remount.devices, self.library)
        folders = remount.changed(last, now)
        if folders:
            self.metrics.remounts.inc(len(folders))
            log.warning("folder_device_changed", folders=folders, then="rewatch and reconcile")
            paths = [
                str(self.library.root if f == "." else self.library.directory(f)) for f in folders
            ]
            for target in sorted({watcher.target_of(p) for p in paths}):
                await asyncio.to_thread(watcher.rewatch, target)
            self._reconcile_now.set()
        return now

    async def _check_marker(self) -> None:
        """Is the library marker there? For /readyz and the metric; a pass once it is back."""
        try:
            reason = await self.guard.unmounted_reason()
        except DatabaseUnavailableError:
            return  # the health probe has it; the marker is looked at again next time
        if reason != self.unmounted:
            if reason is None:
                log.info("library_mounted", root=str(self.library.root))
                self._reconcile_now.set()
            else:
                log.error(
                    "library_not_mounted",
                    root=str(self.library.root),
                    reason=reason,
                    fix="mount the share, or run `videolib init` for a new library",
                )
        self.unmounted = reason
        self.metrics.library_mounted.set(0 if reason else 1)

    async def _count_held_passes(self) -> None:
        """The library's held passes, whoever held or applied them (this daemon, a worker's
        periodic pass, an admin): the gauge cannot wait for this daemon's next pass, which
        comes only at a start, an outage or a remount now."""
        if self.leadership.leading:
            with contextlib.suppress(DatabaseUnavailableError):
                self.metrics.held_passes.set(len(await self.guard.folders.held()))

    def _count_hold(self, directory_type: str, hold: Hold) -> None:
        self.metrics.missing_held.labels(directory_type, hold.kind.value).inc()

    def _poll_refused_subtrees(self, watcher: Watcher) -> None:
        """Subtrees refused a watch since the last check are polled; a pass covers the gap.

        What changed there between the refusal and the poller's first walk of them (its
        starting point) is seen by that pass.
        """
        if watcher.poll_refused():
            self._reconcile_now.set()
        self._count_polled(watcher)

    def _count_polled(self, watcher: Watcher) -> None:
        for path, reason in watcher.poll_reasons.items():
            self.metrics.polled_folders.labels(path, reason).set(1)

    def _on_inotify_overflow(self) -> None:
        """inotify's queue overflowed: its lost events named files only a pass can find.

        watchdog has rebuilt its watches by now; the pass starts within a tick, or right
        after the one running (issue 11 §2: within 5 s, not at the next interval).
        """
        self.metrics.inotify_overflows.inc()
        if not self._reconcile_now.is_set():  # one line per pass asked for, not per overflow
            log.warning("inotify_queue_overflowed", then="reconcile")
        self._reconcile_now.set()

    def _follow_close_events(self, watcher: Watcher) -> None:
        """Switch the debouncer's timing when inotify fell back to polling while running."""
        timing = with_close_events(self.debouncer.timing, watcher.close_events)
        if timing is not self.debouncer.timing:
            log.info("debounce_timing_switched", close_events=timing.close_events)
            self.debouncer.timing = timing

    async def _poller(self, watcher: Watcher) -> None:
        """Stat-walk the polled folders every poll interval; the changes become events."""
        interval = self.config.daemon.poll_interval_seconds
        root, inbox = str(self.library.root), str(self.library.inbox)
        last: dict[str, poll.Snapshot] = {}  # per folder: a folder polled later starts fresh
        while True:
            if watcher.polled:
                walked = await asyncio.to_thread(poll.walk_each, list(watcher.polled))
                self.polls += 1
                self.metrics.poll_walks.inc()
                for top, snapshot in walked.items():
                    # The inbox empties after every move out of it: never an unmount there.
                    if top != inbox and poll.looks_unmounted(last.get(top, {}), snapshot):
                        # The reconciliation checks each type folder before marking missing.
                        # Remembered empty, so this fires once, not every interval (a
                        # share that comes back is then walked as files created).
                        log.warning("polled_folder_emptied", path=top, then="reconcile")
                        self._reconcile_now.set()
                        last[top] = snapshot
                        continue
                    if top in last:
                        for event in poll.to_events(poll.diff(last[top], snapshot), root, inbox):
                            self.on_event(event)
                    last[top] = snapshot
            await asyncio.sleep(interval)

    async def _systemd_watchdog(self) -> None:
        interval = self.notifier.watchdog_interval_s
        # No ping once a loop is given up: systemd then restarts us even if the exit hangs.
        while interval and self.failure is None:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    def _on_loop_failed(self, _failure: LoopFailedError) -> None:
        self._loop_failed.set()  # `run` stops the daemon and raises it: exit non-zero

    def _on_database_back(self) -> None:
        # Catch up: what was pending is retried by the loops; a pass finds the rest.
        self._reconcile_now.set()

    @property
    def failure(self) -> LoopFailedError | None:
        return self.supervisor.failure or self.leader_loops.failure

    def readiness(self) -> tuple[bool, str]:
        if self.failure is not None:
            return False, str(self.failure)
        if not self.health.up:
            return False, f"database unavailable: {self.health.reason}"
        if not self.watching:
            return False, "not watching yet"
        if self.unmounted is not None:
            return False, f"library not mounted, nothing is marked missing: {self.unmounted}"
        return True, "ok"

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Watch, ingest and reconcile until `stop` is set; then shut down cleanly.

        Raises LoopFailedError, after the same shutdown, when a loop kept crashing.
        """
        runner, self.metrics_port = await start_server(
            metrics_app(self.metrics, self.readiness, self.role), self.config.daemon.metrics_port
        )
        watcher = Watcher(
            self.library,
            self.on_event,
            asyncio.get_running_loop(),
            polling=self.config.daemon.polling,
            on_overflow=self._on_inotify_overflow,
        )
        try:
            await asyncio.to_thread(watcher.start)
            self._count_polled(watcher)
            self._follow_close_events(watcher)
            self.watching = True
            first_look = asyncio.Event()
            self._start_loops(watcher, first_look)
            # Ready once it leads and its first pass began, or once it found another leading.
            if await _first(first_look, self._loop_failed) and (
                not self.leadership.leading or await _first(self._first_started, self._loop_failed)
            ):
                self.notifier.ready()
                self.serving = True
                log.info(
                    "daemon_ready",
                    metrics_port=self.metrics_port,
                    root=str(self.library.root),
                    role=self.leadership.role.value,
                )
                await _first(stop, self._loop_failed)
        finally:
            stop_by = time.monotonic() + STOP_BUDGET_S  # one deadline for every step below
            self.notifier.stopping()
            log.info("daemon_stopping")
            await asyncio.to_thread(watcher.stop)
            await self._drain(stop_by)
            await self.leadership.close()  # a standby takes over at its next check
            await self.health.close()
            await runner.cleanup()
        if self.failure is not None:
            raise self.failure

    def _start_loops(self, watcher: Watcher, first_look: asyncio.Event) -> None:
        """The loops of leader and standby alike; the leader's start at a takeover."""
        start = self.supervisor.start
        start("tick", self._tick)
        start("watch_checker", functools.partial(self._watch_checker, watcher))
        start("poller", functools.partial(self._poller, watcher))
        # Off systemd (no interval) or once a loop was given up, it has nothing to do.
        start("systemd_watchdog", self._systemd_watchdog, may_end=lambda: True)
        start("leadership", functools.partial(self.leadership.run, first_look))

    async def _lead(self) -> None:
        """Took the lock: the first pass catches up what changed while another led."""
        start = self.leader_loops.start
        start("reconciler", functools.partial(self._reconciler, self._first_started))
        for number in range(INGESTERS):  # an ingester ends once the daemon stops
            start(f"ingester-{number}", self._ingester, may_end=lambda: self._stopping)
        start("actor", self._actor)

    async def _stand_by(self) -> None:
        """Lost the lock: stop writing; what was pending is the new leader's to find."""
        await self.leader_loops.stop(timeout_s=STOP_BUDGET_S)
        self.ready.clear()
        self.actions.clear()
        self.debouncer = Debouncer(self.debouncer.timing)

    def role(self) -> dict[str, object]:
        """What /readyz says about leadership, beside ready and reason."""
        leadership = self.leadership
        return {
            "role": leadership.role.value,
            "leader": leadership.lock.name if leadership.leading else leadership.leader_name,
        }

    async def _drain(self, stop_by: float) -> None:
        """Let in-flight files finish briefly; abandon the rest (the next pass finds them).

        Returns by `stop_by` at the latest, leaving part of the time to close the pools."""
        self._stopping = True
        grace_until = min(time.monotonic() + STOP_GRACE_S, stop_by)
        while self._in_flight and time.monotonic() < grace_until:
            await asyncio.sleep(0.05)
        # The leadership loop first: a takeover in the middle would start leader loops anew.
        await self.supervisor.stop(timeout_s=_left(stop_by, share=0.5))
        await self.leader_loops.stop(timeout_s=_left(stop_by, share=0.5))
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_left(stop_by, share=0.5))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """One-shot work (a walk): its failure is logged, never left unretrieved."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(_log_failure)
        task.add_done_callback(self._tasks.discard)


def _left(stop_by: float, *, share: float) -> float:
    """A share of the time left until `stop_by` (at least a moment), for one stop step."""
    return max(0.05, (stop_by - time.monotonic()) * share)


async def _first(wanted: asyncio.Event, failed: asyncio.Event) -> bool:
    """Wait for `wanted` or `failed`; True if `wanted` came (and `failed` did not)."""
    waits = [asyncio.ensure_future(wanted.wait()), asyncio.ensure_future(failed.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    return wanted.is_set() and not failed.is_set()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("task_failed", task=task.get_name(), exc_info=error)


def _stat_all(library: Library, paths: list[str]) -> list[tuple[str, Stat]]:
    results: list[tuple[str, Stat]] = []
    for path in paths:
        try:
            stat = os.stat(library.absolute(path))
            results.append((path, (stat.st_size, stat.st_mtime_ns)))
        except (OSError, PathError):
            results.append((path, None))
    return results
