"""Daemon benchmark: event-to-visible latency, burst throughput, RSS while watching many files.

    python bench/daemon.py                         # 200 drops, 5,000 burst, 100,000 watched
    python bench/daemon.py --watch-files 20000     # a smaller watch set (RSS extrapolated)
    python bench/daemon.py --reconcile-rss 100000 400000   # a pass's peak RSS by library size
    python bench/daemon.py --daemon-log /tmp/daemon.log    # to see what kept the slowest drops
    python bench/daemon.py --under-backfill 300 --drops 200  # drop-to-listed while a worker
                                                 # backfills thumbnails and fingerprints

Runs a real `videolib daemon` process with the default settle settings against an embedded
PostgreSQL (or DATABASE_URL) and a temporary library. Latency is from the close of the
dropped file until its record is queryable with its hash.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import asyncpg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.media import make_video  # noqa: E402
from videolib.shared.config import asyncpg_url  # noqa: E402
from videolib.shared.db import migrate  # noqa: E402
from videolib.shared.db.embedded import embedded_postgres  # noqa: E402
from videolib.shared.db.engine import open_engine  # noqa: E402
from videolib.shared.db.records import ExaminedFile  # noqa: E402
from videolib.shared.db.repository import VideoRepository  # noqa: E402
from videolib.shared.media.names import DIRECTORY_TYPES  # noqa: E402

SEEDS = 4


def seeds(folder: Path) -> list[bytes]:
    """A few small distinct videos; copies are made unique with a trailer after the last box."""
    out = []
    for n in range(SEEDS):
        path = make_video(folder / f"seed{n}.mp4", width=160, height=120, seconds=0.5 + n / 10)
        out.append(path.read_bytes())
        path.unlink()
    return out


def drop(path: Path, data: bytes) -> float:
    """Write a file in one go; returns the time of its close."""
    with path.open("wb") as file:
        file.write(data)
    return time.monotonic()


class Daemon:
    """A `videolib daemon` subprocess; its metrics port is read from its ready log line."""

    started: ClassVar[list[subprocess.Popen[str]]] = []  # killed at exit if the bench fails

    def __init__(self, env: dict[str, str], log: Path | None = None) -> None:
        self.log = log  # where its log lines go once it is ready (None: nowhere)
        command = [sys.executable, "-m", "videolib.shared.commands.cli", "daemon"]
        self.process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        Daemon.started.append(self.process)
        self.metrics_port = 0

    def wait_ready(self, timeout: float = 600) -> None:
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        for line in self.process.stderr:
            if '"daemon_ready"' in line:
                self.metrics_port = json.loads(line)["metrics_port"]
                break
            if time.monotonic() > deadline:
                raise TimeoutError("daemon not ready")
        # Keep draining stderr so the daemon never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(self.process.stderr,), daemon=True).start()

    def _drain(self, stream: IO[str]) -> None:
        with self.log.open("a") if self.log else open(os.devnull, "w") as out:
            for line in stream:
                out.write(f"{time.monotonic():.3f} {line}")

    def metric(self, name: str) -> float:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0

    def rss_mb(self) -> tuple[float, float]:
        """(daemon, its worker processes together) resident set sizes in MB."""
        own = _rss_kb(self.process.pid)
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return own / 1024, sum(_rss_kb(k) for k in kids) / 1024

    def peak_rss_mb(self) -> float:
        """The daemon's own peak resident set size so far (VmHWM), in MB."""
        return _rss_kb(self.process.pid, "VmHWM") / 1024

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


async def visible(db: asyncpg.Connection, paths: list[str]) -> set[str]:
    rows = await db.fetch(
        "SELECT path FROM videos WHERE path = ANY($1::text[]) AND file_hash IS NOT NULL", paths
    )
    return {row["path"] for row in rows}


@dataclass(frozen=True, slots=True)
class DropLatency:
    """Seconds from the close of each dropped file until its record was queryable."""

    dropped: int
    waits: tuple[float, ...]  # sorted, of the drops seen in time
    #: The three slowest: (stored path, monotonic time of its close, wait), to find in a log.
    slowest: tuple[tuple[str, float, float], ...] = ()

    @property
    def p50(self) -> float:
        return statistics.median(self.waits) if self.waits else float("nan")

    @property
    def p99(self) -> float:
        return self.waits[max(0, round(len(self.waits) * 0.99) - 1)] if self.waits else float("nan")

    def line(self) -> str:
        most = self.waits[-1] if self.waits else float("nan")
        slowest = ", ".join(f"{p} closed at {at:.3f} +{w:.3f} s" for p, at, w in self.slowest)
        return (
            f"latency: {len(self.waits)}/{self.dropped} drops visible; p50 {self.p50:.3f} s, "
            f"p99 {self.p99:.3f} s, max {most:.3f} s (polled every 100 ms while dropping)"
            f"\n  slowest (monotonic clock, as in --daemon-log): {slowest}"
        )


async def watched(db: asyncpg.Connection, folder: Path, data: bytes) -> None:
    """Return once a file dropped into `folder` is recorded: the folder's watch is in place."""
    drop(folder / "watched.mp4", data + b"watched")
    stored = f"{folder.parent.name}/{folder.name}/watched.mp4"
    deadline = time.monotonic() + 60
    while not await visible(db, [stored]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stored} was not recorded within 60 s")
        await asyncio.sleep(0.05)


async def latency(db: asyncpg.Connection, root: Path, data: list[bytes], count: int) -> DropLatency:
    """Drop `count` videos into videos/latency/, 10 a second, and time each to its record.

    The clock starts once the folder is watched: a file dropped into a folder created a
    moment before can land ahead of the folder's watch, and is then found by the daemon's
    walk of the new folder and taken by the stillness rule (`daemon.settle_seconds`, 2 s),
    as it must be without a close event. That is a new folder's figure, not a drop's.
    """
    folder = root / "videos" / "latency"
    folder.mkdir()
    await watched(db, folder, data[0])
    closed: dict[str, float] = {}
    seen: dict[str, float] = {}
    for i in range(count):
        name = f"l{i:04d}.mp4"
        closed[f"videos/latency/{name}"] = drop(folder / name, data[i % SEEDS] + b"%d" % i)
        await asyncio.sleep(0.1)  # 10 drops a second
        for path in await visible(db, [p for p in closed if p not in seen]):
            seen[path] = time.monotonic()
    deadline = time.monotonic() + 60
    while len(seen) < count and time.monotonic() < deadline:
        for path in await visible(db, [p for p in closed if p not in seen]):
            seen[path] = time.monotonic()
        await asyncio.sleep(0.01)
    waits = sorted((seen[p] - closed[p], p) for p in seen)
    slowest = tuple((p, closed[p], wait) for wait, p in reversed(waits[-3:]))
    return DropLatency(count, tuple(wait for wait, _ in waits), slowest)


async def burst(db: asyncpg.Connection, root: Path, data: list[bytes], count: int) -> None:
    folders = [root / "videos" / f"burst{n:02d}" for n in range(count // 250 + 1)]
    for folder in folders:
        folder.mkdir()
    await asyncio.sleep(0.5)  # the new folders' watches are in place
    started = time.monotonic()
    for i in range(count):
        drop(folders[i // 250] / f"b{i:05d}.mp4", data[i % SEEDS] + b"burst%d" % i)
    written = time.monotonic() - started
    done = 0
    while done < count and time.monotonic() - started < 600:
        await asyncio.sleep(0.2)
        done = await db.fetchval(
            "SELECT count(*) FROM videos WHERE path LIKE 'videos/burst%' AND file_hash IS NOT NULL"
        )
    seconds = time.monotonic() - started
    print(
        f"burst: {done}/{count} drops (written in {written:.1f} s) visible in {seconds:.1f} s "
        f"= {done / seconds:,.0f} files/s end to end"
    )


async def seed_watched(url: str, root: Path, files: int, folders: int) -> None:
    """Tiny fake files under highlights/, already recorded, so a pass skips them unread."""
    per_folder = max(1, files // folders)
    async with open_engine(asyncpg_url(url), pool_size=2) as engine:
        repository = VideoRepository(engine)
        batch: list[ExaminedFile] = []
        for i in range(files):
            folder = root / "highlights" / f"d{i // per_folder:05d}"
            if i % per_folder == 0:
                folder.mkdir(parents=True)
            path = folder / f"w{i:06d}.mp4"
            path.write_bytes(b"x")
            stat = path.stat()
            stored = f"highlights/{folder.name}/{path.name}"
            batch.append(
                ExaminedFile(stored, path.name, "highlights", 1, stat.st_mtime_ns, "0" * 64, None)
            )
            if len(batch) == 5000:
                await repository.write_examined(batch)
                batch = []
        await repository.write_examined(batch)


async def watch_rss(env: dict[str, str], url: str, root: Path, files: int, folders: int) -> None:
    started = time.monotonic()
    await seed_watched(url, root, files, folders)
    seconds = time.monotonic() - started
    print(f"seeded {files:,} recorded files in {folders:,} folders in {seconds:.0f} s")
    daemon = Daemon(env)
    await asyncio.to_thread(daemon.wait_ready)
    while daemon.metric("videolib_daemon_reconcile_last_success_timestamp_seconds") == 0:
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)
    own, workers = daemon.rss_mb()
    reconcile = daemon.metric("videolib_daemon_reconcile_seconds_sum")
    print(
        f"watching {files:,} files in {folders:,} folders: daemon RSS {own:.0f} MB "
        f"(+ {workers:.0f} MB in its probe workers); first reconcile {reconcile:.1f} s"
    )
    assert daemon.stop() == 0


# -- drop-to-listed while a worker backfills (issue 13: unchanged within 10 %) ---------------

#: Drops per block; blocks alternate between the worker running and the worker frozen.
BACKFILL_BLOCK = 20
MADE = "SELECT count(*) FROM videos WHERE thumbnail_path IS NOT NULL"
PRINTED = "SELECT count(*) FROM video_fingerprints"


def seed_backfill(root: Path, count: int) -> None:
    """Distinct clips for the daemon's first pass to ingest: their thumbnails and
    fingerprints are the worker's backfill."""
    from bench.workers import distinct_clip

    folder = root / "videos" / "backfill"
    folder.mkdir(parents=True)
    for number in range(count):
        distinct_clip(folder / f"f{number:05d}.mp4", number, seconds=2.0)


async def wait_ingested(db: asyncpg.Connection, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    query = (
        "SELECT count(*) FROM videos WHERE path LIKE 'videos/backfill/%' AND file_hash IS NOT NULL"
    )
    while await db.fetchval(query) < count:
        if time.monotonic() > deadline:
            raise TimeoutError("the backfill's videos were not ingested")
        await asyncio.sleep(0.2)


class FrozenWorker:
    """A `videolib worker` whose process tree is frozen (SIGSTOP) and thawed (SIGCONT)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        command = [sys.executable, "-m", "videolib.shared.commands.cli", "worker"]
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [*command, "--concurrency", "1", "--metrics-port", "0"],
                env=env,
                stdout=output,
                stderr=output,
            )
        Daemon.started.append(self.process)  # type: ignore[arg-type]

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while "worker_ready" not in self.log.read_text():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not start: {self.log}")
            time.sleep(0.2)

    def signal(self, number: int) -> None:
        import psutil

        root = psutil.Process(self.process.pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(number)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)
        self.process.terminate()
        self.process.wait(30)


async def latency_under_backfill(
    db: asyncpg.Connection, root: Path, data: list[bytes], count: int, worker: FrozenWorker
) -> dict[str, float]:
    """Drops, 10 a second, in blocks of BACKFILL_BLOCK: the worker runs during one block and
    is frozen during the next. Both halves share the machine's other load, so the ratio of
    their p50s is the backfill's cost to a drop."""
    folder = root / "videos" / "latency"
    folder.mkdir()
    await watched(db, folder, data[0])
    made, printed = await db.fetchval(MADE), await db.fetchval(PRINTED)
    closed: dict[str, float] = {}
    busy: dict[str, bool] = {}
    seen: dict[str, float] = {}
    for i in range(count):
        if i % BACKFILL_BLOCK == 0:
            running = (i // BACKFILL_BLOCK) % 2 == 0
            worker.signal(signal.SIGCONT if running else signal.SIGSTOP)
        name = f"l{i:04d}.mp4"
        stored = f"videos/latency/{name}"
        closed[stored] = drop(folder / name, data[i % SEEDS] + b"%d" % i)
        busy[stored] = running
        await asyncio.sleep(0.1)
        for path in await visible(db, [p for p in closed if p not in seen]):
            seen[path] = time.monotonic()
    deadline = time.monotonic() + 60
    while len(seen) < count and time.monotonic() < deadline:
        for path in await visible(db, [p for p in closed if p not in seen]):
            seen[path] = time.monotonic()
        await asyncio.sleep(0.01)
    worker.signal(signal.SIGCONT)
    waits = {flag: [seen[p] - closed[p] for p in seen if busy[p] is flag] for flag in (True, False)}
    left = await db.fetchval("SELECT count(*) FROM pgqueuer WHERE entrypoint LIKE 'make_%'")
    made = await db.fetchval(MADE) - made
    printed = await db.fetchval(PRINTED) - printed
    figures = {
        "drops_seen": float(len(seen)),
        "drop_to_listed_p50_s_backfill": statistics.median(waits[True]),
        "drop_to_listed_p50_s_idle": statistics.median(waits[False]),
        "drop_to_listed_max_s_backfill": max(waits[True]),
        "drop_to_listed_max_s_idle": max(waits[False]),
        "backfill_jobs_left_at_end": float(left),  # > 0: the backfill ran throughout
        "thumbnails_made_meanwhile": float(made),  # > 0: it was working
        "fingerprints_made_meanwhile": float(printed),
    }
    figures["p50_ratio_backfill_over_idle"] = (
        figures["drop_to_listed_p50_s_backfill"] / figures["drop_to_listed_p50_s_idle"]
    )
    return figures


# -- a reconciliation's peak memory by library size (issue 10 item 10) --------------------

#: Files per folder in the RSS library: a pass holds one folder's listing at a time.
RSS_PER_FOLDER = 100
#: The larger library's pass may peak at most this many times the smaller's.
RSS_GROWTH_LIMIT = 1.3


async def seed_empty(url: str, root: Path, start: int, stop: int) -> None:
    """Empty files under videos/ (no disk blocks), recorded as they are: a pass skips them."""
    async with open_engine(asyncpg_url(url), pool_size=2) as engine:
        repository = VideoRepository(engine)
        batch: list[ExaminedFile] = []
        for i in range(start, stop):
            folder = root / "videos" / f"d{i // RSS_PER_FOLDER:05d}"
            if i % RSS_PER_FOLDER == 0:
                folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"r{i:07d}.mp4"
            path.touch()
            stored = f"videos/{folder.name}/{path.name}"
            mtime_ns = path.stat().st_mtime_ns
            batch.append(ExaminedFile(stored, path.name, "videos", 0, mtime_ns, "0" * 64, None))
            if len(batch) == 5000:
                await repository.write_examined(batch)
                batch = []
        if batch:
            await repository.write_examined(batch)


def reconcile_peak_kb(env: dict[str, str]) -> tuple[int, int, float]:
    """One reconcile pass in a fresh process: (RSS before, peak RSS, seconds)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--reconcile-child"]
    quiet = {**env, "VIDEOLIB_LOG_LEVEL": "warning"}
    done = subprocess.run(command, env=quiet, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the reconcile child failed:\n{done.stderr}")
    before, peak, seconds = done.stdout.strip().splitlines()[-1].split()
    return int(before), int(peak), float(seconds)


async def reconcile_child() -> None:
    """Run in the child: open what the daemon opens, then one pass; print the RSS figures."""
    from videolib.daemon.metrics import DaemonMetrics
    from videolib.daemon.reconcile import reconcile
    from videolib.shared.config import load_config
    from videolib.shared.db.repository import DirectoryLocks
    from videolib.shared.library import Library
    from videolib.shared.runtime import examiner_pool

    config = load_config(None)
    async with (
        open_engine(config.sqlalchemy_url(), pool_size=4) as engine,
        examiner_pool(config) as pool,
    ):
        repository, locks = VideoRepository(engine), DirectoryLocks(engine)
        await repository.fingerprints(["videos/warm-up"])  # connect before the baseline
        before = _status_kb("VmRSS")
        started = time.monotonic()
        result = await reconcile(
            Library.from_config(config), repository, locks, pool, DaemonMetrics()
        )
        seconds = time.monotonic() - started
    assert result is not None and result.failed == 0 and result.created == 0, result
    print(before, _status_kb("VmHWM"), f"{seconds:.2f}")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


async def reconcile_rss(env: dict[str, str], url: str, root: Path, sizes: list[int]) -> None:
    peaks = []
    seeded = 0
    for size in sorted(sizes):
        started = time.monotonic()
        await seed_empty(url, root, seeded, size)
        seeded = size
        print(f"seeded {size:,} recorded files in {time.monotonic() - started:.0f} s")
        before, peak, seconds = reconcile_peak_kb(env)
        peaks.append(peak)
        print(
            f"reconcile of {size:,} unchanged files: peak RSS {peak / 1024:.0f} MB "
            f"(at start {before / 1024:.0f} MB), {seconds:.1f} s"
        )
    growth = peaks[-1] / peaks[0]
    print(f"peak RSS {sizes[-1]:,} / {sizes[0]:,} files = {growth:.2f} (limit {RSS_GROWTH_LIMIT})")
    assert growth <= RSS_GROWTH_LIMIT, f"a pass's memory grows with the library: {growth:.2f}"


async def under_backfill(
    env: dict[str, str], url: str, work: Path, root: Path, data: list[bytes], args: Any
) -> None:
    seed_backfill(root, args.under_backfill)
    db = await asyncpg.connect(url)
    daemon = Daemon(env, args.daemon_log)
    await asyncio.to_thread(daemon.wait_ready)
    await wait_ingested(db, args.under_backfill)  # the daemon deferred their jobs
    log = args.daemon_log.with_suffix(".worker.log") if args.daemon_log else work / "worker.log"
    worker = FrozenWorker(env, log)
    await asyncio.to_thread(worker.wait_ready)
    # Its media processes start with its first jobs: time drops once both kinds have run.
    deadline = time.monotonic() + 300
    while await db.fetchval(MADE) < 1 or await db.fetchval(PRINTED) < 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker made no thumbnail and fingerprint: {log}")
        await asyncio.sleep(0.2)
    try:
        figures = await latency_under_backfill(db, root, data, args.drops, worker)
    finally:
        worker.stop()
    print(json.dumps(figures))
    assert daemon.stop() == 0
    await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drops", type=int, default=200)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--watch-files", type=int, default=100_000)
    parser.add_argument("--watch-folders", type=int, default=10_000)
    parser.add_argument(
        "--reconcile-rss",
        type=int,
        nargs="+",
        metavar="FILES",
        help="only measure a reconcile pass's peak RSS at these library sizes",
    )
    parser.add_argument(
        "--daemon-log", type=Path, help="append the latency daemon's log lines here, timed"
    )
    parser.add_argument(
        "--under-backfill",
        type=int,
        metavar="VIDEOS",
        help="only the drop latency, while a worker backfills this many videos (ratio)",
    )
    parser.add_argument("--reconcile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reconcile_child:
        await reconcile_child()
        return

    work = Path(tempfile.mkdtemp(prefix="videolib-bench-daemon-"))
    given = os.environ.get("DATABASE_URL")
    server: AbstractContextManager[object] = (
        nullcontext(given) if given else embedded_postgres(work / "state")
    )
    try:
        with server as found:
            url = given or found.set(drivername="postgresql").render_as_string(  # type: ignore[attr-defined]
                hide_password=False
            )
            async with open_engine(asyncpg_url(url), pool_size=1) as engine:
                await migrate.upgrade(engine)
            root = work / "library"
            for directory_type in DIRECTORY_TYPES:
                (root / directory_type).mkdir(parents=True)
            data = seeds(work)
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "MEDIA_LIBRARY_PATH": str(root),
                "VIDEOLIB_STATE_DIR": str(work / "run"),  # thumbnails, journal: not in ./var
            }
            settings = work / "daemon.toml"
            settings.write_text("[daemon]\nmetrics_port = 0\n")  # default settle settings
            env["VIDEOLIB_CONFIG"] = str(settings)
            print(f"cores={os.cpu_count()} (a shared machine: figures are indicative)")
            if args.reconcile_rss:
                await reconcile_rss(env, url, root, args.reconcile_rss)
                return
            if args.under_backfill:
                await under_backfill(env, url, work, root, data, args)
                return
            db = await asyncpg.connect(url)
            daemon = Daemon(env, args.daemon_log)
            await asyncio.to_thread(daemon.wait_ready)
            print((await latency(db, root, data, args.drops)).line())
            await burst(db, root, data, args.burst)
            print(f"daemon RSS after the burst: {daemon.rss_mb()[0]:.0f} MB")
            assert daemon.stop() == 0
            await db.close()
            await watch_rss(env, url, root, args.watch_files, args.watch_folders)
    finally:
        for process in Daemon.started:
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
