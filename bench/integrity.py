"""Integrity benchmark: the verification rate achieved against the configured one.

    python bench/integrity.py                       # 300 MB in 30 files at 20 and 50 MB/s
    python bench/integrity.py --mb 600 --rates 10,100
    python bench/integrity.py --workers 1,2 --shared-rate 10   # cycles shared by processes

Runs one worker process's verification (shared/jobs/integrity_jobs.py: the planner, then
ChunkVerifier over each range, as the engine's jobs run them; the rate is per process) over
recorded files on a real PostgreSQL (DATABASE_URL when set, else an embedded one in a
temporary folder), and prints for each rate: the achieved MB/s and its ratio to the
configured one (target: within 10 %), the event loop's worst lateness while hashing (the
reads run in this process; compare the idle loop's own lateness), and the CPU used, as a
share of one core. A last run with no effective limit shows the headroom. The files were
just written, so they are read from the page cache: this measures the pacing and the
hashing, not the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videolib.shared.config import Config, load_config  # noqa: E402
from videolib.shared.db import migrate  # noqa: E402
from videolib.shared.db.engine import database_url, open_engine  # noqa: E402
from videolib.shared.db.records import ExaminedFile  # noqa: E402
from videolib.shared.db.repository import IntegrityRepository, VideoRepository  # noqa: E402
from videolib.shared.db.schema import settings  # noqa: E402
from videolib.shared.integrity.budget import Window  # noqa: E402
from videolib.shared.jobs.integrity_jobs import (  # noqa: E402
    ChunkVerifier,
    defer_chunks,
    local_now,
    plan,
)
from videolib.shared.jobs.resources import WorkerResources  # noqa: E402
from videolib.shared.media.names import DIRECTORY_TYPES  # noqa: E402
from videolib.shared.runtime import open_database  # noqa: E402

UNLIMITED_MB_S = 1_000_000.0


def build_files(root: Path, files: int, total_mb: int) -> list[ExaminedFile]:
    """Files of random bytes under videos/, and the records that say what they hold."""
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True, exist_ok=True)
    size = total_mb * 1_000_000 // files
    examined = []
    for i in range(files):
        path = root / "videos" / f"clip-{i:04d}.mp4"
        data = os.urandom(size)
        path.write_bytes(data)
        stat = path.stat()
        examined.append(
            ExaminedFile(
                f"videos/{path.name}",
                path.name,
                "videos",
                stat.st_size,
                stat.st_mtime_ns,
                hashlib.sha256(data).hexdigest(),
                None,
            )
        )
    return examined


async def one_cycle(config: Config, rate_mb_s: float) -> tuple[float, float, float, float]:
    """Verify every file once at `rate_mb_s`: (MB/s achieved, s, worst loop lag s, CPU share)."""
    config = config.replace("integrity", rate_mb_per_second=rate_mb_s, cycle_interval_hours=0.0)
    async with open_database(config) as engine:
        await _forget_cycles(engine)
        repository = IntegrityRepository(engine)
        keys = await plan(repository, config.integrity, local_now())
        verifier = ChunkVerifier(WorkerResources(config, engine), Window.always())
        lag = [0.0]
        ticker = asyncio.create_task(_watch_lag(lag))
        cpu_before, started = time.process_time(), time.time()
        for key in keys:
            await verifier.run(key)
        ticker.cancel()
        state = await repository.state()
        finished = state.last_full_cycle_at.timestamp() if state.last_full_cycle_at else None
        registry = verifier.metrics.registry
        read = registry.get_sample_value("videolib_worker_integrity_verified_bytes_total")
        assert finished and read, "the cycle did not finish"
        seconds = finished - started
        cpu = time.process_time() - cpu_before
        return read / seconds / 1e6, seconds, lag[0], cpu / seconds


async def shared_cycle(
    config: Config, work: Path, workers: int, rate_mb_s: float, total_bytes: int
) -> tuple[float, float]:
    """One cycle verified by `workers` worker processes: (MB/s of all together, seconds)."""
    settings = work / f"worker-{workers}.toml"
    settings.write_text(
        '[worker]\nmetrics_port = 0\nqueues = "integrity"\n'
        f"[integrity]\nrate_mb_per_second = {rate_mb_s}\n"
    )
    env = {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": config.database.url,
        "MEDIA_LIBRARY_PATH": str(config.library_root),
        "VIDEOLIB_STATE_DIR": str(work / "state"),
        "VIDEOLIB_LOG_LEVEL": "info",
        "VIDEOLIB_LOG_FORMAT": "json",
    }
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "worker"]
    async with open_database(config) as engine:
        await _forget_cycles(engine)
        repository = IntegrityRepository(engine)
        keys = await plan(
            repository,
            config.replace("integrity", cycle_interval_hours=0.0).integrity,
            local_now(),
            max_files=1,  # many small ranges: every worker has some until the end
        )
        logs = [work / f"worker-{workers}-{n}.log" for n in range(workers)]
        outputs = [log.open("wb") for log in logs]
        processes = [subprocess.Popen(command, env=env, stderr=o, stdout=o) for o in outputs]
        try:
            # The workers' start is not the cycle's time: wait until each is ready.
            while not all(b"worker_ready" in log.read_bytes() for log in logs):
                await asyncio.sleep(0.1)
            started = time.time()
            await defer_chunks(engine, keys)
            while (await repository.state()).last_full_cycle_at is None:
                await asyncio.sleep(0.05)
            seconds = time.time() - started
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)
            for output in outputs:
                output.close()
    return total_bytes / seconds / 1e6, seconds


async def _forget_cycles(engine: AsyncEngine) -> None:
    """A cycle from the start, as if none had run."""
    async with engine.begin() as connection:
        await connection.execute(delete(settings).where(settings.c.key.like("integrity.%")))


async def _watch_lag(worst: list[float], period_s: float = 0.01) -> None:
    """The event loop's worst lateness on a 10 ms timer: what hashing costs the daemon."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + period_s
        await asyncio.sleep(period_s)
        worst[0] = max(worst[0], loop.time() - due)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mb", type=int, default=300, help="total size of the files, MB")
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--rates", default="20,50", help="configured MB/s, comma-separated")
    parser.add_argument(
        "--workers", default="", help="worker process counts for a shared cycle, e.g. 1,2"
    )
    parser.add_argument("--shared-rate", type=float, default=10.0, help="MB/s per worker")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="videolib-bench-integrity-"))
    try:
        root = work / "library"
        examined = build_files(root, args.files, args.mb)
        os.sync()
        env = {k: v for k, v in os.environ.items() if k == "DATABASE_URL"}
        env.update(MEDIA_LIBRARY_PATH=str(root), VIDEOLIB_STATE_DIR=str(work / "state"))
        config = load_config(None, env)
        with database_url(config) as url:  # one server for this process and the workers
            plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
            config = config.replace("database", url=plain)
            async with open_engine(url, 2) as engine:
                await migrate.upgrade(engine)
                await VideoRepository(engine).write_examined(examined)
            await _run(config, args, work, sum(e.size or 0 for e in examined))
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _run(config: Config, args: argparse.Namespace, work: Path, total_bytes: int) -> None:
    """The runs: each rate in this process, then the shared cycles."""
    print(f"{args.files} files, {args.mb} MB, cores={os.cpu_count()}")
    idle = [0.0]
    ticker = asyncio.create_task(_watch_lag(idle))
    await asyncio.sleep(3.0)
    ticker.cancel()
    print(f"idle: worst loop lag {idle[0] * 1000:.1f} ms over 3 s (the machine's own noise)")
    for rate in [float(r) for r in args.rates.split(",")] + [UNLIMITED_MB_S]:
        achieved, seconds, lag, cpu = await one_cycle(config, rate)
        label = "unlimited" if rate == UNLIMITED_MB_S else f"{rate:g} MB/s"
        ratio = "" if rate == UNLIMITED_MB_S else f" = {achieved / rate:.3f} of configured"
        print(
            f"rate {label}: achieved {achieved:.2f} MB/s in {seconds:.1f} s{ratio}; "
            f"worst loop lag {lag * 1000:.1f} ms; CPU {cpu * 100:.0f}% of one core"
        )
    one = None
    for workers in [int(n) for n in args.workers.split(",") if n.strip()]:
        achieved, seconds = await shared_cycle(config, work, workers, args.shared_rate, total_bytes)
        one = one or achieved
        print(
            f"{workers} worker process(es) at {args.shared_rate:g} MB/s each: "
            f"{achieved:.2f} MB/s in all, cycle {seconds:.1f} s = {achieved / one:.2f} x one"
        )


if __name__ == "__main__":
    asyncio.run(main())
