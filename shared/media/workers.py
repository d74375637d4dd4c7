"""Examine files in worker processes, with bounded concurrency, from asyncio.

A file that crashes or hangs the prober costs one worker, not the caller (SPEC: Daemon
behaviour). concurrent.futures.ProcessPoolExecutor cannot kill one hung worker and breaks
the whole pool when one dies, so this is a small pool of its own: one Process and one Pipe
per worker, each worker handling one file at a time, the event loop woken by the pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType

from videolib.shared.media.examine import Examination, ProbeSettings, examine

#: The job a worker runs per file; a top-level function, so that it pickles by name.
Job = Callable[[str, ProbeSettings], Examination]

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
            conn.send((False, exc))


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    ready: bool = False


class ExaminerPool:
    """Runs `job(path, settings)` in `workers` processes, one file per worker at a time."""

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
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: list[_Worker] = []
        for _ in range(workers):
            self._idle.put_nowait(self._start_worker())

    async def examine(self, path: str) -> Examination:
        """Examine one file; waits for a free worker. Raises only what the job itself raised."""
        worker = await self._idle.get()
        try:
            if not worker.ready:
                await self._handshake(worker)
            ok, value = await self._run(worker, path)
        except TimeoutError:
            worker = self._replace(worker)
            return self._failed(
                path, f"prober timed out after {self._time_limit_s:g} s", "unreadable"
            )
        except (EOFError, OSError):
            exit_status = self._describe_exit(worker)
            worker = self._replace(worker)
            return self._failed(path, f"prober crashed ({exit_status})", "corrupt")
        except BaseException:
            # Cancelled mid-file: the worker's late answer would be read as the next
            # file's, so it cannot be reused.
            worker = self._replace(worker)
            raise
        finally:
            self._idle.put_nowait(worker)
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        assert isinstance(value, Examination)
        return value

    async def close(self) -> None:
        """Stop the workers: ask each to finish, kill those that do not."""
        workers, self._all = self._all, []
        await asyncio.to_thread(_stop_all, workers)

    async def __aenter__(self) -> ExaminerPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _handshake(self, worker: _Worker) -> None:
        """Await a new worker's "ready"; one that dies first is a broken setup, not a bad file."""
        try:
            await self._readable(worker)
            worker.ready = worker.conn.recv() == "ready"
        except (EOFError, OSError, TimeoutError):
            status = self._describe_exit(worker)
            raise RuntimeError(f"examiner worker could not start ({status})") from None

    async def _run(self, worker: _Worker, path: str) -> tuple[bool, object]:
        """Send a path and await the answer without blocking the loop."""
        worker.conn.send(path)
        await self._readable(worker)
        result: tuple[bool, object] = worker.conn.recv()
        return result

    async def _readable(self, worker: _Worker) -> None:
        """Wait, within the time limit, until the worker's pipe has an answer or EOF."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        fd = worker.conn.fileno()
        # Readable means an answer, or EOF when the worker died.
        loop.add_reader(fd, _settle, answered)
        try:
            async with asyncio.timeout(self._time_limit_s):
                await answered
        finally:
            loop.remove_reader(fd)

    def _start_worker(self) -> _Worker:
        """Start one worker process with its end of a new pipe."""
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
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        """Kill a worker that hung, died or was abandoned, and start another."""
        _kill(worker)
        self._all.remove(worker)
        return self._start_worker()

    def _describe_exit(self, worker: _Worker) -> str:
        """ "exit code N" or "signal SIGSEGV" for a worker that died."""
        worker.process.join(timeout=1.0)
        code = worker.process.exitcode
        if code is None:
            return "pipe closed"
        if code < 0:
            return f"signal {signal.Signals(-code).name}"
        return f"exit code {code}"

    def _failed(self, path: str, error: str, invalid_reason: str) -> Examination:
        """The report for a file the worker could not finish."""
        size, mtime_ns = _fingerprint(path)
        return Examination(path, size, mtime_ns, error=error, invalid_reason=invalid_reason)


def _settle(answered: asyncio.Future[None]) -> None:
    """Mark the answer ready, once (the fd stays readable until it is read)."""
    if not answered.done():
        answered.set_result(None)


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
