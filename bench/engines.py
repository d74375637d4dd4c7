"""Job engines side by side: procrastinate (psycopg 3) and PgQueuer (asyncpg) on our workload.

    python bench/engines.py                  # both engines, 2,000 jobs per throughput run
    python bench/engines.py --jobs 500 --engines procrastinate

Runs an embedded PostgreSQL (one database per engine) and real worker processes
(`python bench/engines.py worker ENGINE DSN CONCURRENCY`). Each job prints a line
"<event> <job number> <seconds since it was deferred>" that this process reads, so no
measurement touches the database beyond the engine's own statements. Figures:
- round trip: one empty job deferred and awaited at a time, through an idle worker (mean ms);
- creation -> start p50, idle worker (ms);
- throughput of many empty jobs with 1 and with 2 worker processes (jobs/s);
- kill -9 of a worker in the middle of a job: how long until another worker starts it again,
  and how many times it ran in all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videolib.shared.db.embedded import embedded_postgres  # noqa: E402

#: How long a worker may stay silent (no heartbeat) before its jobs count as stalled.
STALLED_AFTER_S = 5.0


# --- the worker side: one process, one engine ------------------------------------------------


def _say(event: str, number: int, sent: float) -> None:
    print(f"{event} {number} {time.time() - sent:.6f}", flush=True)


async def _job(number: int, sent: float, sleep: float) -> None:
    _say("start", number, sent)
    if sleep:
        await asyncio.sleep(sleep)
    _say("done", number, sent)


def procrastinate_app(dsn: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name="bench", queue="bench")
    async def bench(number: int, sent: float, sleep: float = 0.0) -> None:
        await _job(number, sent, sleep)

    return app


async def procrastinate_worker(dsn: str, concurrency: int) -> None:
    app = procrastinate_app(dsn)
    async with app.open_async():

        async def recover() -> None:
            # procrastinate leaves stalled jobs to the application (its how-to "Retry
            # stalled jobs"): a loop in every worker retries the jobs of silent workers.
            while True:
                stalled = await app.job_manager.get_stalled_jobs(
                    seconds_since_heartbeat=STALLED_AFTER_S
                )
                for job in stalled:
                    await app.job_manager.retry_job(job)
                await asyncio.sleep(0.5)

        recovery = asyncio.create_task(recover())
        print("ready 0 0", flush=True)
        await app.run_worker_async(
            queues=["bench"],
            concurrency=concurrency,
            update_heartbeat_interval=1.0,
            stalled_worker_timeout=STALLED_AFTER_S,
        )
        recovery.cancel()


async def pgqueuer_worker(dsn: str, concurrency: int) -> None:
    import asyncpg
    from pgqueuer import PgQueuer

    connection = await asyncpg.connect(dsn)
    pgq = PgQueuer.from_asyncpg_connection(connection)

    @pgq.entrypoint("bench")
    async def bench(job: Any) -> None:
        arguments = json.loads(job.payload)
        await _job(arguments["number"], arguments["sent"], arguments.get("sleep", 0.0))

    print("ready 0 0", flush=True)
    await pgq.run(
        dequeue_timeout=timedelta(seconds=1),
        batch_size=max(concurrency, 1),
        max_concurrent_tasks=max(2 * concurrency, 2),
        heartbeat_timeout=timedelta(seconds=STALLED_AFTER_S),
    )


# --- the measuring side ------------------------------------------------------------------------


class Worker:
    """A worker subprocess whose job lines are read into an asyncio queue."""

    def __init__(self, engine: str, dsn: str, concurrency: int = 1) -> None:
        self.engine, self.dsn, self.concurrency = engine, dsn, concurrency
        self.lines: asyncio.Queue[tuple[str, int, float]] = asyncio.Queue()

    async def start(self) -> Worker:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "worker",
            self.engine,
            self.dsn,
            str(self.concurrency),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._reader = asyncio.create_task(self._read())
        event, _, _ = await asyncio.wait_for(self.lines.get(), 60)
        assert event == "ready", event
        await asyncio.sleep(1.0)  # its listener and first fetch are up
        return self

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            parts = raw.decode().split()
            if len(parts) == 3:
                await self.lines.put((parts[0], int(parts[1]), float(parts[2])))

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.returncode is None:
            self.process.send_signal(sig)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reader.cancel()


Defer = Callable[[list[dict[str, Any]]], Awaitable[None]]


async def procrastinate_client(dsn: str) -> tuple[Defer, Callable[[], Awaitable[None]]]:
    app = procrastinate_app(dsn)
    await app.open_async()
    await app.schema_manager.apply_schema_async()
    task = app.tasks["bench"]

    async def defer(jobs: list[dict[str, Any]]) -> None:
        if len(jobs) == 1:
            await task.defer_async(**jobs[0])
        else:
            await task.batch_defer_async(*jobs)

    return defer, app.close_async


async def pgqueuer_client(dsn: str) -> tuple[Defer, Callable[[], Awaitable[None]]]:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    connection = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(connection))
    await queries.install()

    async def defer(jobs: list[dict[str, Any]]) -> None:
        payloads: list[bytes | None] = [json.dumps(job).encode() for job in jobs]
        await queries.enqueue(["bench"] * len(jobs), payloads, [0] * len(jobs))

    return defer, connection.close


CLIENTS = {"procrastinate": procrastinate_client, "pgqueuer": pgqueuer_client}


async def wait_for(worker: Worker, event: str, number: int, timeout: float = 60) -> float:
    async with asyncio.timeout(timeout):
        while True:
            seen, n, seconds = await worker.lines.get()
            if seen == event and n == number:
                return seconds


async def round_trips(defer: Defer, worker: Worker, count: int) -> dict[str, float]:
    starts, trips = [], []
    for number in range(count):
        await defer([{"number": number, "sent": time.time()}])
        starts.append(await wait_for(worker, "start", number))
        trips.append(await wait_for(worker, "done", number))
    return {
        "round_trip_ms_mean": 1000 * statistics.fmean(trips),
        "start_latency_ms_p50": 1000 * statistics.median(starts),
        "start_latency_ms_p95": 1000 * statistics.quantiles(starts, n=20)[-1],
    }


async def throughput(defer: Defer, workers: list[Worker], count: int, base: int) -> float:
    sent = time.time()
    jobs = [{"number": base + n, "sent": sent} for n in range(count)]
    began = time.monotonic()
    for chunk in range(0, count, 500):
        await defer(jobs[chunk : chunk + 500])
    done = 0
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def pump(worker: Worker) -> None:
        while True:
            event, _, _ = await worker.lines.get()
            await queue.put(event)

    pumps = [asyncio.create_task(pump(w)) for w in workers]
    async with asyncio.timeout(600):
        while done < count:
            if await queue.get() == "done":
                done += 1
    elapsed = time.monotonic() - began
    for p in pumps:
        p.cancel()
    return count / elapsed


async def kill_recovery(engine: str, dsn: str, defer: Defer) -> dict[str, float | int]:
    victim = await Worker(engine, dsn).start()
    survivor = await Worker(engine, dsn).start()
    number = 10_000_000
    await defer([{"number": number, "sent": time.time(), "sleep": 3.0}])
    starts: list[tuple[str, float]] = []

    async def watch(worker: Worker, name: str) -> None:
        while True:
            event, n, _ = await worker.lines.get()
            if event == "start" and n == number:
                starts.append((name, time.monotonic()))

    watchers = [
        asyncio.create_task(watch(victim, "victim")),
        asyncio.create_task(watch(survivor, "survivor")),
    ]
    async with asyncio.timeout(60):
        while not starts:
            await asyncio.sleep(0.01)
    first = starts[0][0]
    killed = victim if first == "victim" else survivor
    other = survivor if killed is victim else victim
    killed_at = time.monotonic()
    killed.process.kill()
    await killed.process.wait()
    result: dict[str, float | int] = {}
    try:
        async with asyncio.timeout(120):
            while len(starts) < 2:
                await asyncio.sleep(0.05)
        result["recovered_after_s"] = starts[1][1] - killed_at
    except TimeoutError:
        result["recovered_after_s"] = float("nan")
    await asyncio.sleep(STALLED_AFTER_S * 2)  # a third run would show here
    result["executions"] = len(starts)
    for w in watchers:
        w.cancel()
    await other.stop()
    killed._reader.cancel()
    return result


async def measure(engine: str, dsn: str, jobs: int, trips: int) -> dict[str, Any]:
    defer, close = await CLIENTS[engine](dsn)
    figures: dict[str, Any] = {"engine": engine}
    try:
        worker = await Worker(engine, dsn).start()
        figures.update(await round_trips(defer, worker, trips))
        figures["jobs_per_s_1_worker"] = await throughput(defer, [worker], jobs, 1_000_000)
        second = await Worker(engine, dsn).start()
        figures["jobs_per_s_2_workers"] = await throughput(defer, [worker, second], jobs, 2_000_000)
        await asyncio.gather(worker.stop(), second.stop())
        figures.update(await kill_recovery(engine, dsn, defer))
    finally:
        await close()
    return figures


async def bench(args: argparse.Namespace) -> None:
    state = Path(tempfile.mkdtemp(prefix="videolib-bench-engines-"))
    with embedded_postgres(state) as url:
        import asyncpg

        admin = url.set(drivername="postgresql", database="postgres")
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        for engine in args.engines:
            await connection.execute(f'DROP DATABASE IF EXISTS "bench_{engine}"')
            await connection.execute(f'CREATE DATABASE "bench_{engine}"')
        await connection.close()
        for engine in args.engines:
            dsn = url.set(drivername="postgresql", database=f"bench_{engine}").render_as_string(
                hide_password=False
            )
            figures = await measure(engine, dsn, args.jobs, args.trips)
            print(json.dumps(figures, indent=None), flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        engine, dsn, concurrency = sys.argv[2], sys.argv[3], int(sys.argv[4])
        runner = procrastinate_worker if engine == "procrastinate" else pgqueuer_worker
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(runner(dsn, concurrency))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=["procrastinate", "pgqueuer"])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per throughput run")
    parser.add_argument("--trips", type=int, default=200, help="one-at-a-time round trips")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
