"""Examine files in worker processes, with bounded concurrency, from asyncio.

A file that crashes or hangs the prober costs one worker, not the caller (SPEC: Daemon
behaviour). concurrent.futures.ProcessPoolExecutor cannot kill one hung worker and breaks
the whole pool when one dies, so this is a small pool of its own: one Process and one Pipe
per worker, the event loop woken by the pipe.

Each worker has up to DEPTH files queued in its pipe and works through them in order, so
it starts the next file the moment it sends an answer, without waiting for the event loop
to wake up and send one (a quarter of each worker's time was that wait). Answers come back
in the order the files went out, so the oldest unanswered file is the one a worker is on:
that file is the one blamed when the worker dies or overruns the time limit, and the files
queued behind it are sent again to the worker that replaces it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType

from videolib.shared.media.examine import Examination, ProbeSettings, examine

#: The job a worker runs per file; a top-level function, so that it pickles by name.
Job = Callable[[str, ProbeSettings], Examination]
#: Files queued per worker: the one it is on and the next.
DEPTH = 2

# forkserver, not fork: the caller runs an event loop and threads, which fork would copy
# half-way through. Preloading makes each new worker a cheap fork with PyAV imported.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["videolib.shared.media.examine"])


def _serve(conn: Connection, job: Job, settings: ProbeSettings) -> None:
    """Worker loop: receive a path, send back (True, Examination) or (False, exception)."""
    # Ctrl-C reaches the whole process group; shutdown is the parent's decision.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send("ready")  # tells a worker that started from one that died starting up
    while (path := conn.recv()) is not None:
        try:
            conn.send((True, job(path, settings)))
        except Exception as exc:  # a bug in the job: hand it to the caller
            conn.send((False, _portable(exc)))


def _portable(exc: Exception) -> Exception:
    """The exception itself if it survives pickling, else a RuntimeError that says it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


@dataclass(slots=True)
class _Sent:
    """A file sent to a worker, and where its answer goes."""

    path: str
    answer: asyncio.Future[tuple[bool, object]]


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    sent: collections.deque[_Sent] = field(default_factory=collections.deque)  # oldest first
    deadline: asyncio.TimerHandle | None = None  # the time limit of the oldest file


class ExaminerPool:
    """Runs `job(path, settings)` in `workers` processes, each on one file at a time."""

    def __init__(
        self,
        workers: int,
        settings: ProbeSettings,
        time_limit_s: float,
        *,
        job: Job = examine,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._settings, self._time_limit_s, self._job = settings, time_limit_s, job
        # Files sent and not yet answered, over all workers; a free slot means some worker
        # has fewer than DEPTH.
        self._slots = asyncio.Semaphore(workers * DEPTH)
        self._all: list[_Worker] = []
        self._closed = False

    async def examine(self, path: str) -> Examination:
        """Examine one file; waits for a free slot. Raises only what the job itself raised,
        or RuntimeError when workers cannot start (a broken setup, not a bad file)."""
        # The slot is given back when the answer arrives (or the worker is replaced), not
        # when this call returns: a cancelled caller's file occupies its worker until then.
        await self._slots.acquire()
        try:
            if self._closed:
                raise RuntimeError("the examiner pool is closed")
            self._start_missing()
        except BaseException:
            self._slots.release()
            raise
        worker = min(self._all, key=lambda w: len(w.sent))
        sent = _Sent(path, asyncio.get_running_loop().create_future())
        self._send(worker, sent)
        ok, value = await sent.answer
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        assert isinstance(value, Examination)
        return value

    async def close(self) -> None:
        """Stop the workers: ask each to finish, kill those that do not."""
        self._closed = True
        workers, self._all = self._all, []
        for worker in workers:
            self._forget(worker)
            self._settle(worker.sent, RuntimeError("the examiner pool closed"))
        await asyncio.to_thread(_stop_all, workers)

    async def __aenter__(self) -> ExaminerPool:
        self._start_missing()  # start-up costs and failures show at start, not first use
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
        if not worker.sent:
            self._arm(worker)  # it was idle: this file's clock starts now
        worker.sent.append(sent)
        # A dead worker's pipe refuses the path; its EOF reports the death and the file is
        # sent again to the worker that replaces it.
        with contextlib.suppress(OSError):
            worker.conn.send(sent.path)

    def _arm(self, worker: _Worker) -> None:
        """Start the time limit of the file the worker is (about to be) on."""
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
        error = f"prober timed out after {self._time_limit_s:g} s"
        self._retire(worker, blame=self._failure(worker, error, "unreadable"))

    def _died(self, worker: _Worker) -> None:
        status = self._describe_exit(worker)
        if worker.ready:
            failure = self._failure(worker, f"prober crashed ({status})", "corrupt")
            self._retire(worker, blame=failure)
        else:
            # A broken setup, not a bad file: every file sent to it fails, and no worker is
            # started in its place until the next examine() asks (no restart loop).
            broken = RuntimeError(f"examiner worker could not start ({status})")
            self._retire(worker, all_fail=broken)

    def _failure(self, worker: _Worker, error: str, invalid_reason: str) -> Examination | None:
        """The report for the file a worker was on when it had to go."""
        if not worker.sent:
            return None
        return self._failed(worker.sent[0].path, error, invalid_reason)

    def _retire(
        self,
        worker: _Worker,
        *,
        blame: Examination | BaseException | None = None,
        all_fail: BaseException | None = None,
    ) -> None:
        """Stop and kill a worker. The file it was on gets `blame`; the files queued behind
        it go to a new worker (or, with `all_fail`, every file gets that error)."""
        self._forget(worker)
        _kill(worker)
        self._all.remove(worker)
        queued = list(worker.sent)
        if all_fail is not None:
            self._settle(queued, all_fail)
            return
        if queued:
            blamed = queued.pop(0)
            self._slots.release()
            if not blamed.answer.done():
                if isinstance(blame, BaseException):
                    blamed.answer.set_exception(blame)
                else:
                    blamed.answer.set_result((True, blame))
        # Futures are settled or re-sent before anything that can fail below.
        try:
            replacement = self._start_worker()
        except Exception as error:
            self._settle(queued, RuntimeError(f"examiner worker could not start: {error}"))
            return
        for sent in queued:
            self._send(replacement, sent)

    def _settle(self, files: Iterable[_Sent], error: BaseException) -> None:
        """Fail files that will get no answer, giving back their slots."""
        for sent in files:
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
            args=(child_end, self._job, self._settings),
            name="videolib-examiner",
            daemon=True,
        )
        process.start()
        # Only the child holds its end now, so its death shows here as EOF.
        child_end.close()
        worker = _Worker(process, parent_end)
        self._all.append(worker)
        asyncio.get_running_loop().add_reader(parent_end.fileno(), self._answered, worker)
        return worker

    def _describe_exit(self, worker: _Worker) -> str:
        """ "exit code N" or "signal SIGSEGV" for a worker that died."""
        worker.process.join(timeout=1.0)
        code = worker.process.exitcode
        if code is None:
            return "pipe closed"
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:  # a signal without a name (real-time ones)
                return f"signal {-code}"
        return f"exit code {code}"

    def _failed(self, path: str, error: str, invalid_reason: str) -> Examination:
        """The report for a file the worker could not finish."""
        size, mtime_ns = _fingerprint(path)
        return Examination(path, size, mtime_ns, error=error, invalid_reason=invalid_reason)


def _fingerprint(path: str) -> tuple[int | None, int | None]:
    """(size, mtime_ns), so that a file that kills the prober is skipped until it changes."""
    try:
        stat = os.stat(path)
    except OSError:
        return None, None
    return stat.st_size, stat.st_mtime_ns


def _kill(worker: _Worker) -> None:
    """Kill a worker process and reap it."""
    worker.process.kill()
    worker.process.join(timeout=1.0)
    worker.conn.close()


def _stop_all(workers: list[_Worker]) -> None:
    """Ask idle workers to exit, then kill whatever is left (blocking: run in a thread)."""
    for worker in workers:
        with contextlib.suppress(OSError):  # already dead
            worker.conn.send(None)
    for worker in workers:
        worker.process.join(timeout=2.0)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=1.0)
        worker.conn.close()
