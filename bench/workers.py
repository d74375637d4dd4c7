"""Worker benchmark: thumbnail backfill with 1 then 2 `videolib worker` processes, and the
engine's own cost per job (an empty job's round trip, creation -> start with an idle worker).

    python bench/workers.py                 # 2,000 videos
    python bench/workers.py --videos 300    # a quicker look

Runs an embedded PostgreSQL, a temporary library of copies of a few generated clips (rows
inserted directly: the scan is bench/scan.py's subject) and real worker processes. The
backfill time is from the deferral of every job until the last thumbnail is recorded, with
the workers already started and idle. Targets (ISSUE13): 2 workers >= 1.8x of 1, empty job
<= 2 ms, creation -> start p50 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import delete, func, insert, select, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from bench import engines  # noqa: E402  (the engine's own figures)
from tests.media import make_video  # noqa: E402
from videolib.shared.db import migrate  # noqa: E402
from videolib.shared.db.embedded import embedded_postgres  # noqa: E402
from videolib.shared.db.engine import open_engine  # noqa: E402
from videolib.shared.db.schema import thumbnails, videos  # noqa: E402
from videolib.shared.jobs.defer import defer_thumbnails  # noqa: E402
from videolib.shared.library_marker import new_library_id, write_marker  # noqa: E402
from videolib.shared.media.names import DIRECTORY_TYPES  # noqa: E402

SEEDS = 4


def make_library(root: Path, count: int) -> list[str]:
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True, exist_ok=True)
    write_marker(root, new_library_id())
    seeds = [
        make_video(root / f"seed{n}.mp4", width=320, height=180, seconds=1 + n / 4)
        for n in range(SEEDS)
    ]
    stored = []
    for number in range(count):
        name = f"videos/{number // 500:03}/clip{number:05}.mp4"
        (root / name).parent.mkdir(exist_ok=True)
        os.link(seeds[number % SEEDS], root / name)
        stored.append(name)
    return stored


class Workers:
    """`videolib worker --queue thumbnails` processes, started and waited for ready."""

    def __init__(self, count: int, env: dict[str, str], logs: Path) -> None:
        command = [sys.executable, "-m", "videolib.shared.commands.cli", "worker"]
        self.logs = [logs / f"worker{n}.log" for n in range(count)]
        self.processes: list[subprocess.Popen[bytes]] = []
        for log in self.logs:
            with log.open("wb") as output:
                self.processes.append(
                    subprocess.Popen(
                        [*command, "--queue", "thumbnails", "--metrics-port", "0"],
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

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def backfill(
    engine: AsyncEngine, ids: list[uuid.UUID], env: dict[str, str], logs: Path, count: int
) -> float:
    """Thumbnails of every video with `count` worker processes; returns videos/s."""
    async with engine.begin() as connection:
        await connection.execute(delete(thumbnails))
        await connection.execute(update(videos).values(thumbnail_path=None))
    workers = Workers(count, env, logs)
    try:
        workers.wait_ready()
        began = time.monotonic()
        await defer_thumbnails(engine, ids)
        while True:
            async with engine.connect() as connection:
                done = await connection.scalar(
                    select(func.count())
                    .select_from(videos)
                    .where(videos.c.thumbnail_path.is_not(None))
                )
            if done == len(ids):
                break
            await asyncio.sleep(0.2)
        return len(ids) / (time.monotonic() - began)
    finally:
        workers.stop()


async def bench(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="videolib-bench-workers-"))
    try:
        with embedded_postgres(home / "state") as url:
            root = home / "library"
            stored = make_library(root, args.videos)
            async with open_engine(url, pool_size=4) as engine:
                await migrate.upgrade(engine)
                async with engine.begin() as connection:
                    rows = [
                        {"path": p, "filename": p.rsplit("/", 1)[-1], "directory_type": "videos"}
                        for p in stored
                    ]
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
                figures: dict[str, float] = {"videos": float(args.videos)}
                for count in (1, 2):
                    figures[f"thumbnails_per_s_{count}_worker"] = await backfill(
                        engine, ids, env, home, count
                    )
                figures["speedup_2_over_1"] = (
                    figures["thumbnails_per_s_2_worker"] / figures["thumbnails_per_s_1_worker"]
                )
            # The engine's own cost, in a database of its own (bench/engines.py's measure).
            other = url.set(drivername="postgresql", database="postgres")
            bare = other.render_as_string(hide_password=False)
            defer, close = await engines.pgqueuer_client(bare)
            try:
                worker = await engines.Worker("pgqueuer", bare).start()
                figures.update(await engines.round_trips(defer, worker, args.trips))
                await worker.stop()
            finally:
                await close()
            print(json.dumps(figures), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--trips", type=int, default=200, help="empty jobs, one at a time")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
