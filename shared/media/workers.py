"""Run jobs in worker processes, with bounded concurrency, from asyncio: one pool for all.

A file that crashes or hangs a worker costs one worker, not the caller (SPEC: Daemon
behaviour). concurrent.futures.ProcessPoolExecutor cannot kill one hung worker and breaks
the whole pool when one dies, so this is a small pool of its own: one Process and one Pipe
per worker, the event loop woken by the pipe. It serves the examiner (probe and hash,
`ExaminerPool`) and the thumbnail frame grabs (shared/thumbnails.py).

Each worker has up to DEPTH items queued in its pipe and works through them in order, so
it starts the next item the moment it sends an answer, without waiting for the event loop
to wake up and send one (a quarter of each worker's time was that wait). Answers come back
in the order the items went out, so the oldest unanswered item is the one a worker is on:
that item is the one blamed when the worker dies or overruns the time limit, and the items
queued behind it are sent again to the worker that replaces it.

Workers die with the process that owns the pool, even when it is killed with SIGKILL: they
are its direct children ("spawn"; no forkserver, whose process outlives its owner while any
worker lives) and ask for SIGKILL on its death (shared/parent_death.py). Nothing here blocks
the event loop: a dead or killed worker is reaped when its sentinel becomes readable.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from videolib.shared.media.examine import Examination, ProbeSettings, examine
from videolib.shared.parent_death import die_with_parent

# One thread per media process for numpy's BLAS (the pHash's resize is a matrix product).
# OpenBLAS otherwise starts a thread per core in every media process, and its threads spin
# waiting for each other: at nice 10, beside the daemon and PostgreSQL, a 4 s clip's pHash
# took minutes of CPU (the cluster test under the full suite). Set here, before any media
# process starts, for the child (spawn gives the child this process's environment).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

R = TypeVar("R")
#: The job a worker runs per item: `job(item, settings)`; a top-level function, so that
#: it pickles by name.
Job = Callable[[Any, Any], Any]
#: Items queued per worker: the one it is on and the next.
DEPTH = 2
#: How long `close()` lets idle workers exit on their own before killing them; short, as
#: the daemon's whole stop has 3 s (issue 10, item 7).
CLOSE_GRACE_S = 0.5
#: How long a killed worker is waited for (it dies at once; this is the reaping).
KILL_WAIT_S = 1.0

# spawn, not fork: the caller runs an event loop and threads, which fork would copy
# half-way through. A spawned worker starts in ~0.2 s and lives as long as the pool.
_CONTEXT = multiprocessing.get_context("spawn")
# A reaped sentinel can be readable a moment before waitpid() has the exit status.
_REAP_RETRY_S = 0.05


#: How a media process that its own alarm ended shows (_describe_exit).
SELF_TIMED_OUT = "signal SIGALRM"


class WorkerCrashed(Exception):
    """The worker died on this item; `status` is "exit code N" or "signal SIGSEGV"."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class WorkerTimedOut(Exception):
    """The worker overran the time limit on this item and was killed."""

    def __init__(self, time_limit_s: float) -> None:
        super().__init__(f"timed out after {time_limit_s:g} s")
        self.time_limit_s = time_limit_s


#: The longest alarm a media process sets (about 115 days): setitimer overflows on an
#: infinite or huge limit, and a limit that long bounds nothing anyway.
ALARM_CAP_S = 1e7


def self_limit(time_limit_s: float) -> float:
    """A worker's own bound on one item: past the owner's, which kills it first while its
    event loop runs; this one is for an owner that is alive but stuck (frozen, or its loop
    blocked), which would let an item spin for ever."""
    return min(2 * time_limit_s + 5, ALARM_CAP_S)


def _serve(conn: Connection, job: Job, settings: object, parent_pid: int, limit_s: float) -> None:
    """Worker loop: receive an item, send back (True, result) or (False, exception).

    Each item runs under a wall-clock alarm of `limit_s`, SIGALRM's default action: the
    worker dies, and the owner (once it looks) takes that for a time-out on the item."""
    die_with_parent(parent_pid)
    # Ctrl-C and systemd's SIGTERM reach the whole group; stopping is the owner's decision
    # (a worker killed by them would blame a good file for its death).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn.send("ready")  # tells a worker that started from one that died starting up
    try:
        while (item := conn.recv()) is not None:
            try:  # the send inside: a result that does not pickle goes back as an error
                conn.send((True, _within(limit_s, job, item, settings)))
            except Exception as exc:  # a bug in the job: hand it to the caller
                conn.send((False, _portable(exc)))
    except (EOFError, OSError):  # the owner closed the pipe or died: nothing left to do
        return


def _within(limit_s: float, job: Job, item: object, settings: object) -> object:
    """`job(item, settings)` under the alarm, cleared whatever the job does."""
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        return job(item, settings)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _portable(exc: Exception) -> Exception:
    """The exception itself if it survives pickling, else a RuntimeError that says it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


@dataclass(slots=True)
class _Sent:
    """An item sent to a worker, and where its answer goes."""

    item: object
    answer: asyncio.Future[tuple[bool, object]]


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    started: asyncio.Future[None]  # done once it said "ready" or died trying
    ready: bool = False
    sent: collections.deque[_Sent] = field(default_factory=collections.deque)  # oldest first
    deadline: asyncio.TimerHandle | None = None  # the time limit of the oldest item


class WorkerPool(Generic[R]):
    """Runs `job(item, settings)` in `workers` processes, each on one item at a time.

    `run()` raises WorkerCrashed or WorkerTimedOut for the item a worker was lost on, what
    the job itself raised, or RuntimeError when workers cannot start (a broken setup).
    """

    def __init__(
        self,
        workers: int,
        job: Callable[[Any, Any], R],
        settings: object,
        time_limit_s: float,
        *,
        name: str = "videolib-worker",
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._job, self._settings, self._time_limit_s = job, settings, time_limit_s
        self._name = name
        # Items sent and not yet answered, over all workers; a free slot means some worker
        # has fewer than DEPTH.
        self._slots = asyncio.Semaphore(workers * DEPTH)
        self._all: list[_Worker] = []
        self._closed = False

    async def run(self, item: object) -> R:
        """Run the job on one item; waits for a free slot."""
        # The slot is given back when the answer arrives (or the worker is replaced), not
        # when this call returns: a cancelled caller's item occupies its worker until then.
        await self._slots.acquire()
        try:
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            self._start_missing()
        except BaseException:
            self._slots.release()
            raise
        worker = min(self._all, key=lambda w: len(w.sent))
        sent = _Sent(item, asyncio.get_running_loop().create_future())
        self._send(worker, sent)
        ok, value = await sent.answer
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        return value  # type: ignore[return-value]  # what the job returned

    async def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """Stop the workers within about `grace_s` + KILL_WAIT_S: idle ones are asked to
        exit, busy ones are killed at once (their items are abandoned, never half done:
        the owner records an answer, and none came), stragglers are killed at `grace_s`."""
        self._closed = True
        workers, self._all = self._all, []
        busy = [worker for worker in workers if worker.sent]
        for worker in workers:
            self._forget(worker)
            self._settle(worker.sent, RuntimeError("the worker pool closed"))
        # One thread waits on every worker at once, bounded: the loop is never blocked.
        await asyncio.to_thread(_stop_all, workers, busy, grace_s)

    async def __aenter__(self) -> Self:
        # Start-up costs and failures show at start, not at first use.
        self._start_missing()
        await asyncio.gather(*(w.started for w in self._all))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _start_missing(self) -> None:
        """Start workers up to `workers`: at start, and after one could not start."""
        while len(self._all) < self.workers:
            self._start_worker()

    def _send(self, worker: _Worker, sent: _Sent) -> None:
        if not worker.sent and worker.ready:
            self._arm(worker)  # it was idle: this item's clock starts now
        worker.sent.append(sent)
        # A dead worker's pipe refuses the item; its EOF reports the death and the item is
        # sent again to the worker that replaces it.
        with contextlib.suppress(OSError):
            worker.conn.send(sent.item)

    def _arm(self, worker: _Worker) -> None:
        """Start the time limit of the item the worker is (about to be) on."""
        if worker.deadline is not None:
            worker.deadline.cancel()
        loop = asyncio.get_running_loop()
        worker.deadline = loop.call_later(self._time_limit_s, self._overran, worker)

    def _answered(self, worker: _Worker) -> None:
        """The worker's pipe is readable: an answer, "ready", or EOF when it died."""
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            self._died(worker)
            return
        except Exception as error:  # an answer that does not unpickle: whose was it?
            self._retire(worker, blame=error)
            return
        if not worker.ready:
            worker.ready = message == "ready"
            if not worker.started.done():
                worker.started.set_result(None)
            if worker.sent:
                self._arm(worker)  # the clock of its first item starts once it can work
            return
        sent = worker.sent.popleft()
        self._slots.release()
        if not sent.answer.done():  # a cancelled caller's answer is dropped here
            sent.answer.set_result(message)
        if worker.sent:
            self._arm(worker)
        elif worker.deadline is not None:
            worker.deadline.cancel()
            worker.deadline = None

    def _overran(self, worker: _Worker) -> None:
        self._retire(worker, blame=WorkerTimedOut(self._time_limit_s))

    def _died(self, worker: _Worker) -> None:
        """EOF from a worker: once its exit status is in, blame the item it was on."""
        self._forget(worker)

        def reaped(status: str) -> None:
            if worker.ready and status == SELF_TIMED_OUT:  # its own alarm (_serve)
                self._retire(worker, blame=WorkerTimedOut(self_limit(self._time_limit_s)))
            elif worker.ready:
                self._retire(worker, blame=WorkerCrashed(status))
            else:
                # A broken setup, not a bad file: every item sent to it fails, and no worker
                # is started in its place until the next run() asks (no restart loop).
                broken = RuntimeError(f"worker {self._name} could not start ({status})")
                self._retire(worker, all_fail=broken)

        _when_reaped(worker, reaped)

    def _retire(
        self,
        worker: _Worker,
        *,
        blame: BaseException | None = None,
        all_fail: BaseException | None = None,
    ) -> None:
        """Stop and kill a worker. The item it was on gets `blame`; the items queued behind
        it go to a new worker (or, with `all_fail`, every item gets that error)."""
        self._forget(worker)
        if not worker.started.done():
            worker.started.set_result(None)
        if worker not in self._all:  # closed meanwhile: its items are settled already
            return
        self._all.remove(worker)
        _kill(worker)
        queued = list(worker.sent)
        worker.sent.clear()
        if all_fail is not None:
            self._settle(queued, all_fail)
            return
        if queued:
            blamed = queued.pop(0)
            self._slots.release()
            if not blamed.answer.done() and blame is not None:
                blamed.answer.set_exception(blame)
        # Futures are settled or re-sent before anything that can fail below.
        try:
            replacement = self._start_worker()
        except Exception as error:
            self._settle(queued, RuntimeError(f"worker {self._name} could not start: {error}"))
            return
        for sent in queued:
            self._send(replacement, sent)

    def _settle(self, items: Iterable[_Sent], error: BaseException) -> None:
        """Fail items that will get no answer, giving back their slots."""
        for sent in items:
            self._slots.release()
            if not sent.answer.done():
                sent.answer.set_exception(error)

    def _forget(self, worker: _Worker) -> None:
        """Stop listening to a worker."""
        if worker.deadline is not None:
            worker.deadline.cancel()
            worker.deadline = None
        with contextlib.suppress(ValueError, OSError):  # its pipe may be closed already
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())

    def _start_worker(self) -> _Worker:
        """Start one worker process with its end of a new pipe, and listen to it."""
        parent_end, child_end = _CONTEXT.Pipe()
        process = _CONTEXT.Process(
            target=_serve,
            args=(
                child_end,
                self._job,
                self._settings,
                os.getpid(),
                self_limit(self._time_limit_s),
            ),
            name=self._name,
            daemon=True,
        )
        process.start()
        # Only the child holds its end now, so its death shows here as EOF.
        child_end.close()
        loop = asyncio.get_running_loop()
        worker = _Worker(process, parent_end, loop.create_future())
        self._all.append(worker)
        loop.add_reader(parent_end.fileno(), self._answered, worker)
        return worker


class ExaminerPool(WorkerPool[Examination]):
    """Probe and hash files in worker processes; a lost worker becomes a file's report."""

    def __init__(
        self,
        workers: int,
        settings: ProbeSettings,
        time_limit_s: float,
        *,
        job: Callable[[str, ProbeSettings], Examination] = examine,
    ) -> None:
        super().__init__(workers, job, settings, time_limit_s, name="videolib-examiner")

    async def examine(self, path: str) -> Examination:
        """Examine one file. Raises only what the job itself raised, or RuntimeError when
        workers cannot start (a broken setup, not a bad file)."""
        try:
            return await self.run(path)
        except WorkerCrashed as crash:
            return _failed(path, f"prober crashed ({crash.status})", "corrupt", "crashed")
        except WorkerTimedOut as timeout:
            error = f"prober timed out after {timeout.time_limit_s:g} s"
            return _failed(path, error, "unreadable", "timed out")


def _failed(path: str, error: str, invalid_reason: str, lost_worker: str) -> Examination:
    """The report for a file the worker could not finish, fingerprinted so that it is
    skipped until it changes (or its retry is due: shared/decisions.py)."""
    try:
        stat = os.stat(path)
    except OSError:
        size, mtime_ns = None, None
    else:
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
    return Examination(
        path, size, mtime_ns, error=error, invalid_reason=invalid_reason, lost_worker=lost_worker
    )


def _describe_exit(code: int | None) -> str:
    """ "exit code N" or "signal SIGSEGV" for a worker that died."""
    if code is None:
        return "pipe closed"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:  # a signal without a name (real-time ones)
            return f"signal {-code}"
    return f"exit code {code}"


def _when_reaped(worker: _Worker, then: Callable[[str], None]) -> None:
    """Call `then(status)` once the worker's exit status is in, without blocking the loop."""
    loop = asyncio.get_running_loop()
    sentinel = worker.process.sentinel

    def check() -> None:
        code = worker.process.exitcode  # waitpid(WNOHANG): never blocks
        if code is None:
            loop.call_later(_REAP_RETRY_S, check)
            return
        then(_describe_exit(code))

    def readable() -> None:
        loop.remove_reader(sentinel)
        check()

    loop.add_reader(sentinel, readable)


def _kill(worker: _Worker) -> None:
    """Kill a worker process; it is reaped when it has gone, without blocking."""
    with contextlib.suppress(ProcessLookupError, ValueError):  # gone, or closed already
        worker.process.kill()
    worker.conn.close()
    if worker.process.exitcode is None:
        _when_reaped(worker, lambda _status: None)


def _stop_all(workers: list[_Worker], busy: list[_Worker], grace_s: float) -> None:
    """Kill busy workers, ask idle ones to exit, kill what is left after `grace_s`
    (blocking, bounded: run in a thread)."""
    for worker in workers:
        if worker in busy:
            # Its queued items would run first: the stop message waits behind them.
            _signal_kill(worker)
        else:
            with contextlib.suppress(OSError):  # already dead
                worker.conn.send(None)
    left = _wait_exited(workers, grace_s)
    for worker in left:
        _signal_kill(worker)
    _wait_exited(left, KILL_WAIT_S)
    for worker in workers:
        worker.conn.close()


def _signal_kill(worker: _Worker) -> None:
    with contextlib.suppress(ProcessLookupError, ValueError):  # gone, or closed already
        worker.process.kill()


def _wait_exited(workers: list[_Worker], timeout_s: float) -> list[_Worker]:
    """Wait for all of them together, at most `timeout_s`; returns those still running."""
    deadline = time.monotonic() + timeout_s
    running = [worker for worker in workers if worker.process.exitcode is None]
    while running and (left_s := deadline - time.monotonic()) > 0:
        readable = multiprocessing.connection.wait([w.process.sentinel for w in running], left_s)
        # exitcode reaps (waitpid WNOHANG); a readable sentinel can lead it by a moment.
        running = [worker for worker in running if worker.process.exitcode is None]
        if readable and running:
            time.sleep(_REAP_RETRY_S)
    return running
