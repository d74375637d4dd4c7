"""Worker benchmark: the thumbnail + fingerprint backfill with 1 then 2 `videolib worker`
processes, and the engine's own cost per job through our worker loop (an empty job's round
trip, creation -> start with an idle worker).

    python bench/workers.py                        # 2,000 videos, one round of 1 and 2
    python bench/workers.py --videos 200 --rounds 2 --trips 100   # a quicker look
    python bench/workers.py --videos 200 --baseline-python ../main/.venv/bin/python

Runs an embedded PostgreSQL, a temporary library of distinct generated clips (rows inserted
directly, valid and hashed: the scan is bench/scan.py's subject) and real worker processes.

Backfill: every video needs a thumbnail and a fingerprint (2 jobs per video). Each worker runs
with `--concurrency 1`, so it runs one job at a time, in one media process at a time; the
comparison is 1 such process against 2 on the machine's cores. The time runs from the
deferral of every job until the last thumbnail and fingerprint are recorded, with the workers
started and idle. Beside the rate, each run reports the CPU it took, split into the worker
processes, their media processes and PostgreSQL (psutil), and the cores that adds up to:
on a shared machine the wall clock is noisy, and one worker that already keeps both cores
busy cannot be doubled by a second. CPU per video is steadier, but not load-free: a worker
whose jobs are all picked re-polls the queue (shared/jobs/worker.py: REPOLL_INTERVAL), so
its own and PostgreSQL's share grows with the wall time a video takes.

Engine overhead: an empty task kind run by our own `JobWorker` (shared/jobs/worker.py, a
subprocess of this script), deferred through shared/jobs/defer.py, one job at a time; the
same trips are interleaved with PgQueuer's bare loop (bench/engines.py's worker) on a
database of its own, so the wrapper's share is a ratio of one run.

Targets (ISSUE13): 2 workers >= 1.8x of 1, empty job <= 2 ms, creation -> start p50
<= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import av  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402
from sqlalchemy import delete, func, insert, select, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from bench import engines  # noqa: E402  (PgQueuer's bare loop, for comparison)
from videolib.shared.db import migrate  # noqa: E402
from videolib.shared.db.embedded import embedded_postgres  # noqa: E402
from videolib.shared.db.engine import open_engine  # noqa: E402
from videolib.shared.db.schema import (  # noqa: E402
    fingerprint_attempts,
    thumbnails,
    video_fingerprints,
    videos,
)
from videolib.shared.jobs.defer import defer, defer_fingerprints, defer_thumbnails  # noqa: E402
from videolib.shared.library_marker import new_library_id, write_marker  # noqa: E402
from videolib.shared.media.names import DIRECTORY_TYPES  # noqa: E402

#: The empty task kind of the overhead measure: not in the registry, only this script runs it.
EMPTY_KIND = "bench_empty"
EMPTY_QUEUE = "bench"
BACKFILL_QUEUES = ("thumbnails", "fingerprints")


# --- the library ---------------------------------------------------------------------------


def distinct_clip(
    path: Path, number: int, seconds: float, fps: int = 5, size: tuple[int, int] = (320, 180)
) -> Path:
    """An H.264 clip of a random block pattern of its own, moving one block a frame.

    Every clip differs (its pHash too): copies of a few seeds would all be near-duplicates of
    each other, and the fingerprint job would spend its time on groups of hundreds.
    """
    (width, height), block = size, 20
    rng = np.random.default_rng(number)
    blocks = rng.integers(16, 235, size=(height // block, width // block), dtype=np.uint8)
    ones = np.ones((block, block), dtype=np.uint8)
    with av.open(os.fspath(path), "w") as container:
        stream = container.add_stream("h264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(max(1, round(seconds * fps))):
            grey = np.ascontiguousarray(np.kron(np.roll(blocks, index, axis=1), ones))
            frame = av.VideoFrame.from_ndarray(grey, format="gray").reformat(format="yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_library(
    root: Path, count: int, seconds: float, fps: int = 5, size: tuple[int, int] = (320, 180)
) -> list[str]:
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True, exist_ok=True)
    write_marker(root, new_library_id())
    stored = []
    for number in range(count):
        name = f"videos/{number // 500:03}/clip{number:05}.mp4"
        (root / name).parent.mkdir(exist_ok=True)
        distinct_clip(root / name, number, seconds, fps, size)
        stored.append(name)
    return stored


def _size(text: str) -> tuple[int, int]:
    """`--size`'s WIDTHxHEIGHT, both multiples of 20 (the pattern's block)."""
    width, _, height = text.partition("x")
    if not (width.isdigit() and height.isdigit()) or int(width) % 20 or int(height) % 20:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, multiples of 20")
    return int(width), int(height)


# --- CPU accounting ------------------------------------------------------------------------


def tree_cpu(pid: int) -> tuple[float, float]:
    """(the process's own CPU seconds, its descendants' together), reaped children counted."""
    try:
        root = psutil.Process(pid)
        own = root.cpu_times()
        children = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    kids = own.children_user + own.children_system
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = child.cpu_times()
            kids += times.user + times.system + times.children_user + times.children_system
    return own.user + own.system, kids


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


@dataclass
class CpuSample:
    workers: float
    media: float
    postgres: float

    def minus(self, other: CpuSample) -> CpuSample:
        return CpuSample(
            self.workers - other.workers, self.media - other.media, self.postgres - other.postgres
        )

    @property
    def total(self) -> float:
        return self.workers + self.media + self.postgres


# --- the backfill --------------------------------------------------------------------------


class Workers:
    """`videolib worker --concurrency 1` processes, started and waited for ready."""

    def __init__(self, count: int, env: dict[str, str], logs: Path, python: str) -> None:
        command = [python, "-m", "videolib.shared.commands.cli", "worker"]
        queues = [arg for queue in BACKFILL_QUEUES for arg in ("--queue", queue)]
        self.logs = [logs / f"worker{count}-{n}.log" for n in range(count)]
        self.processes: list[subprocess.Popen[bytes]] = []
        for log in self.logs:
            with log.open("wb") as output:
                self.processes.append(
                    subprocess.Popen(
                        [*command, *queues, "--concurrency", "1", "--metrics-port", "0"],
                        env=env,
                        stdout=output,
                        stderr=output,
                    )
                )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not all("worker_ready" in log.read_text() for log in self.logs):
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start: " + str(self.logs))
            time.sleep(0.2)

    def cpu(self) -> tuple[float, float]:
        """(the worker processes' CPU seconds, their media processes'), summed."""
        samples = [tree_cpu(process.pid) for process in self.processes]
        return sum(s[0] for s in samples), sum(s[1] for s in samples)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _done(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        made = await connection.scalar(
            select(func.count()).select_from(videos).where(videos.c.thumbnail_path.is_not(None))
        )
        printed = await connection.scalar(select(func.count()).select_from(video_fingerprints))
    return int(made or 0), int(printed or 0)


async def backfill(
    engine: AsyncEngine,
    ids: list[uuid.UUID],
    env: dict[str, str],
    home: Path,
    count: int,
    python: str = sys.executable,
) -> dict[str, float]:
    """Thumbnails and fingerprints of every video with `count` worker processes."""
    async with engine.begin() as connection:
        await connection.execute(delete(thumbnails))
        await connection.execute(delete(video_fingerprints))
        await connection.execute(delete(fingerprint_attempts))
        await connection.execute(update(videos).values(thumbnail_path=None))
    pgdata = home / "state" / "pgdata"
    workers = Workers(count, env, home, python)
    try:
        workers.wait_ready()
        before = CpuSample(*workers.cpu(), sum(tree_cpu(postmaster_pid(pgdata))))
        began = time.monotonic()
        await defer_thumbnails(engine, ids)
        await defer_fingerprints(engine, ids)
        while await _done(engine) != (len(ids), len(ids)):
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - began
        used = CpuSample(*workers.cpu(), sum(tree_cpu(postmaster_pid(pgdata)))).minus(before)
    finally:
        workers.stop()
    per_video = 1000 / len(ids)
    return {
        "videos_per_s": len(ids) / elapsed,
        "cores_used": used.total / elapsed,
        "cpu_ms_per_video_worker": used.workers * per_video,
        "cpu_ms_per_video_media": used.media * per_video,
        "cpu_ms_per_video_postgres": used.postgres * per_video,
    }


# --- the engine's overhead: an empty job through our worker loop ------------------------------


def _say(event: str, number: int, sent: float) -> None:
    print(f"{event} {number} {time.time() - sent:.6f}", flush=True)


async def _empty(_resources: Any, call: Any) -> None:
    _say("start", call.payload["number"], call.payload["sent"])
    _say("done", call.payload["number"], call.payload["sent"])


async def empty_worker() -> None:
    """`bench/workers.py empty-worker`: our JobWorker running only the empty kind."""
    from videolib.shared.config import load_config
    from videolib.shared.jobs.kinds import TaskKind
    from videolib.shared.jobs.worker import JobWorker, stop_on_signals
    from videolib.shared.runtime import open_database

    config = load_config(None)
    stop = asyncio.Event()
    with stop_on_signals(stop):
        async with open_database(config, pool_size=3) as engine:
            worker = JobWorker(config, engine, queues=(EMPTY_QUEUE,))
            worker.kinds = (TaskKind(EMPTY_KIND, EMPTY_QUEUE, _empty),)
            running = asyncio.create_task(worker.run(stop))
            await worker.ready.wait()
            print("ready 0 0", flush=True)
            await running


class OurWorker(engines.Worker):
    """engines.Worker's line reader over `bench/workers.py empty-worker`."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("ours", "")
        self.env = env

    async def start(self) -> OurWorker:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "empty-worker",
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._reader = asyncio.create_task(self._read())
        event, _, _ = await asyncio.wait_for(self.lines.get(), 120)
        assert event == "ready", event
        await asyncio.sleep(1.0)  # its listener and first fetch are up
        return self


async def interleaved_trips(
    engine: AsyncEngine,
    ours: engines.Worker,
    bare_defer: engines.Defer,
    bare: engines.Worker,
    count: int,
) -> dict[str, float]:
    """One empty job at a time, alternately through our worker and through bare PgQueuer."""
    trips: dict[str, list[float]] = {"ours": [], "bare": []}
    starts: dict[str, list[float]] = {"ours": [], "bare": []}
    defers: dict[str, list[float]] = {"ours": [], "bare": []}
    for number in range(count):
        sent = time.time()
        await defer(engine, EMPTY_KIND, [({"number": number, "sent": sent}, None)])
        defers["ours"].append(time.time() - sent)
        starts["ours"].append(await engines.wait_for(ours, "start", number))
        trips["ours"].append(await engines.wait_for(ours, "done", number))
        sent = time.time()
        await bare_defer([{"number": number, "sent": sent}])
        defers["bare"].append(time.time() - sent)
        starts["bare"].append(await engines.wait_for(bare, "start", number))
        trips["bare"].append(await engines.wait_for(bare, "done", number))
    figures = {}
    for name in trips:
        # The creator's own INSERT and COMMIT (its WAL flush), and what follows it.
        figures[f"{name}_defer_ms_p50"] = 1000 * statistics.median(defers[name])
        after = [trip - sent for trip, sent in zip(trips[name], defers[name], strict=True)]
        figures[f"{name}_after_defer_ms_p50"] = 1000 * statistics.median(after)
        figures[f"{name}_round_trip_ms_mean"] = 1000 * statistics.fmean(trips[name])
        figures[f"{name}_round_trip_ms_p50"] = 1000 * statistics.median(trips[name])
        figures[f"{name}_start_latency_ms_p50"] = 1000 * statistics.median(starts[name])
        figures[f"{name}_start_latency_ms_p95"] = (
            1000 * statistics.quantiles(starts[name], n=20)[-1]
        )
    figures["ours_over_bare_round_trip_p50"] = (
        figures["ours_round_trip_ms_p50"] / figures["bare_round_trip_ms_p50"]
    )
    return figures


# --- the run -------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="videolib-bench-workers-"))
    try:
        with embedded_postgres(home / "state") as url:
            root = home / "library"
            stored = make_library(root, args.videos, args.seconds, args.fps, args.size)
            async with open_engine(url, pool_size=4) as engine:
                await migrate.upgrade(engine)
                async with engine.begin() as connection:
                    rows: list[dict[str, Any]] = [
                        {
                            "path": p,
                            "filename": p.rsplit("/", 1)[-1],
                            "directory_type": "videos",
                            "file_hash": f"{n:064x}",
                            "duration_seconds": round(args.seconds),
                        }
                        for n, p in enumerate(stored)
                    ]
                    if rows:
                        await connection.execute(insert(videos), rows)
                    ids = list(await connection.scalars(select(videos.c.id)))
                dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
                env = {
                    **os.environ,
                    "DATABASE_URL": dsn,
                    "MEDIA_LIBRARY_PATH": str(root),
                    "VIDEOLIB_STATE_DIR": str(home / "state"),
                    "VIDEOLIB_LOG_LEVEL": "info",
                }
                figures: dict[str, Any] = {
                    "videos": args.videos,
                    "clip_seconds": args.seconds,
                    "clip_fps": args.fps,
                    "clip_size": "x".join(map(str, args.size)),
                    "cores": os.cpu_count(),
                }
                # Another install's workers (--baseline-python), alternated with ours.
                pythons = {"": sys.executable}
                if args.baseline_python:
                    pythons["baseline_"] = args.baseline_python
                runs: dict[tuple[str, int], list[dict[str, float]]] = {}
                for _ in range(args.rounds if args.videos else 0):
                    for label, python in pythons.items():
                        for count in (1, 2):
                            result = await backfill(engine, ids, env, home, count, python)
                            runs.setdefault((label, count), []).append(result)
                for (label, count), results in runs.items():
                    for key in results[0]:
                        mean = statistics.fmean(r[key] for r in results)
                        figures[f"{label}{key}_{count}_worker"] = mean
                for label in pythons if runs else ():
                    figures[f"{label}speedup_2_over_1"] = (
                        figures[f"{label}videos_per_s_2_worker"]
                        / figures[f"{label}videos_per_s_1_worker"]
                    )
                figures.update(await overhead(engine, url, env, args.trips))
            print(json.dumps(figures), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def overhead(
    engine: AsyncEngine, url: Any, env: dict[str, str], trips: int
) -> dict[str, float]:
    # Bare PgQueuer in a database of its own (its NOTIFY channel is per database).
    bare_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    bare_defer, close = await engines.pgqueuer_client(bare_dsn)
    bare = await engines.Worker("pgqueuer", bare_dsn).start()
    ours = await OurWorker(env).start()
    try:
        return await interleaved_trips(engine, ours, bare_defer, bare, trips)
    finally:
        await asyncio.gather(ours.stop(), bare.stop())
        await close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "empty-worker":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(empty_worker())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2000, help="0: the overhead alone")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each clip")
    parser.add_argument("--fps", type=int, default=5, help="frames a second of each clip")
    parser.add_argument(
        "--size", type=_size, default=(320, 180), help="WIDTHxHEIGHT of each clip (320x180)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of 1 then 2 workers")
    parser.add_argument("--trips", type=int, default=200, help="empty jobs, one at a time")
    parser.add_argument(
        "--baseline-python",
        metavar="PYTHON",
        help="also run the backfill with the workers of another install (its venv's python)",
    )
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
