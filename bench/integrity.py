"""Integrity benchmark: the verification rate achieved against the configured one.

    python bench/integrity.py                       # 300 MB in 30 files at 20 and 50 MB/s
    python bench/integrity.py --mb 600 --rates 10,100

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
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videolib.shared.config import Config, load_config  # noqa: E402
from videolib.shared.db.records import ExaminedFile  # noqa: E402
from videolib.shared.db.repository import IntegrityRepository, VideoRepository  # noqa: E402
from videolib.shared.db.schema import settings  # noqa: E402
from videolib.shared.integrity.budget import Window  # noqa: E402
from videolib.shared.jobs.integrity_jobs import ChunkVerifier, local_now, plan  # noqa: E402
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
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="videolib-bench-integrity-"))
    try:
        root = work / "library"
        examined = build_files(root, args.files, args.mb)
        os.sync()
        env = {k: v for k, v in os.environ.items() if k == "DATABASE_URL"}
        env.update(MEDIA_LIBRARY_PATH=str(root), VIDEOLIB_STATE_DIR=str(work / "state"))
        config = load_config(None, env)
        async with open_database(config) as engine:
            await VideoRepository(engine).write_examined(examined)
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
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
