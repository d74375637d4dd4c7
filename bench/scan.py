"""Scan benchmark: cold scan, warm rescan and hashing speed, through the CLI's code path.

    python bench/scan.py 2000                 # 2,000 distinct ~1 MB videos, cold + warm
    python bench/scan.py 2000 --warm 100000   # also a warm rescan of 100,000 recorded files

Uses DATABASE_URL when set, else an embedded PostgreSQL in a temporary folder. Prints
files/s for each phase, the hashing throughput against hashlib's raw speed, and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.http_load import cpu_seconds, postgres_cpu  # noqa: E402
from tests.media import make_video  # noqa: E402
from videolib.shared.config import Config, load_config  # noqa: E402
from videolib.shared.db.records import ExaminedFile  # noqa: E402
from videolib.shared.db.repository import VideoRepository, ping  # noqa: E402
from videolib.shared.ingest import ScanResult, scan  # noqa: E402
from videolib.shared.library import Library  # noqa: E402
from videolib.shared.media.hashing import sha256_file  # noqa: E402
from videolib.shared.media.names import DIRECTORY_TYPES  # noqa: E402
from videolib.shared.runtime import examiner_pool, open_database  # noqa: E402

BASE_VIDEOS = 8  # distinct encodes; the N files are copies made unique by a trailer


def build_library(root: Path, count: int, target_bytes: int) -> int:
    """N distinct valid videos of about ``target_bytes`` under videos/; returns bytes."""
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True, exist_ok=True)
    seeds = []
    probe = make_video(root / "probe.mp4", width=320, height=240, seconds=1.0, noise=True)
    bytes_per_second = probe.stat().st_size
    probe.unlink()
    seconds = max(0.2, target_bytes / bytes_per_second)
    for n in range(BASE_VIDEOS):
        path = root / f"seed-{n}.mp4"
        make_video(
            path, width=320, height=240, seconds=seconds + n / 10, audio=n % 2 == 0, noise=True
        )
        seeds.append(path.read_bytes())
        path.unlink()
    total = 0
    for i in range(count):
        folder = root / "videos" / f"batch-{i // 500:03d}"
        folder.mkdir(exist_ok=True)
        # Bytes after the last box are ignored by demuxers; they make every hash distinct.
        data = seeds[i % BASE_VIDEOS] + f"videolib-bench-{i:08d}".encode()
        (folder / f"clip-{i:06d}.mp4").write_bytes(data)
        total += len(data)
    return total


async def seed_warm_records(root: Path, count: int, repository: VideoRepository) -> None:
    """Tiny files with matching records, so a rescan finds them all unchanged."""
    folder = root / "highlights"
    examined = []
    for i in range(count):
        sub = folder / f"f{i // 1000:04d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"w{i:07d}.mp4"
        path.write_bytes(b"x")
        stat = path.stat()
        stored = f"highlights/f{i // 1000:04d}/w{i:07d}.mp4"
        examined.append(
            ExaminedFile(
                stored, path.name, "highlights", stat.st_size, stat.st_mtime_ns, "0" * 64, None
            )
        )
    await repository.write_examined(examined)


@dataclass(frozen=True, slots=True)
class CpuPerFile:
    """CPU milliseconds per file of each party to a scan: independent of what else runs."""

    scanner: float
    workers: float  # the pool's processes together, started before the clock
    postgres: float

    def line(self) -> str:
        total = self.scanner + self.workers + self.postgres
        cores = os.cpu_count() or 1
        return (
            f"CPU/file: scanning process {self.scanner:.2f} ms, workers {self.workers:.2f} ms, "
            f"PostgreSQL {self.postgres:.2f} ms; at most {cores / total * 1000:,.0f} files/s "
            f"on {cores} idle cores"
        )


async def timed_scan(config: Config, types: list[str]) -> tuple[ScanResult, float, CpuPerFile]:
    async with open_database(config) as engine, examiner_pool(config) as pool:
        repository = VideoRepository(engine)
        # A long-running process has its connection and its workers up already.
        await ping(engine)
        await asyncio.gather(*(pool.examine(__file__) for _ in range(pool.workers)))
        workers = {pid: cpu_seconds(pid) for pid in child_pids()}
        scanner, postgres = time.process_time(), postgres_cpu()
        started = time.perf_counter()
        result = await scan(
            types, library=Library.from_config(config), repository=repository, pool=pool
        )
        seconds = time.perf_counter() - started
        scanner, after = time.process_time() - scanner, postgres_cpu()
        worked = sum(cpu_seconds(pid) - before for pid, before in workers.items())
    files = max(1, result.scanned) / 1000
    in_postgres = sum(after[pid] - postgres.get(pid, 0.0) for pid in after)
    return result, seconds, CpuPerFile(scanner / files, worked / files, in_postgres / files)


def child_pids() -> list[int]:
    """This process's children (the pool's workers), from every thread's list."""
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        pids += [int(pid) for pid in (task / "children").read_text().split()]
    return pids


def hashing_figures(folder: Path, size: int = 512 * 1024 * 1024) -> tuple[float, float]:
    """MB/s of hashlib over bytes in memory, and of sha256_file over a cached file."""
    data = os.urandom(1024 * 1024) * (size // (1024 * 1024))
    path = folder / "hash.bin"
    path.write_bytes(data)
    started = time.perf_counter()
    hashlib.sha256(data).hexdigest()
    raw = size / (time.perf_counter() - started) / 1e6
    sha256_file(path)  # page cache warm
    started = time.perf_counter()
    sha256_file(path)
    ours = size / (time.perf_counter() - started) / 1e6
    path.unlink()
    return raw, ours


def peak_rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", type=int, nargs="?", default=2000)
    parser.add_argument("--size-kb", type=int, default=1024, help="target size of each file")
    parser.add_argument("--warm", type=int, default=0, help="also rescan this many recorded files")
    parser.add_argument("--backend", default="pyav", choices=("pyav", "ffprobe"))
    parser.add_argument("--workers", type=int, default=0, help="probe workers (0: config's)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="videolib-bench-"))
    try:
        root = work / "library"
        started = time.perf_counter()
        total_bytes = build_library(root, args.files, args.size_kb * 1024)
        # Written back before timing: the kernel flushing the benchmark's own setup (GBs of
        # dirty pages) competes with the scan for CPU. The files stay in the page cache.
        os.sync()
        print(
            f"built {args.files} files, {total_bytes / 1e6:.0f} MB, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        env = {k: v for k, v in os.environ.items() if k == "DATABASE_URL"}
        env.update(MEDIA_LIBRARY_PATH=str(root), VIDEOLIB_STATE_DIR=str(work / "state"))
        config = load_config(None, env).replace("probe", backend=args.backend)
        if args.workers:
            config = config.replace("probe", workers=args.workers)
        print(f"backend={args.backend} workers={config.probe_workers} cores={os.cpu_count()}")

        cold, seconds, cpu = await timed_scan(config, ["videos"])
        assert cold.created == args.files and cold.failed == 0, cold.errors[:5]
        print(
            f"cold scan: {args.files} files in {seconds:.2f} s = "
            f"{args.files / seconds:,.0f} files/s, {total_bytes / seconds / 1e6:,.0f} MB/s"
            f"\n{cpu.line()}"
        )
        warm, seconds, _ = await timed_scan(config, ["videos"])
        assert warm.skipped == args.files
        print(
            f"warm rescan: {args.files} files in {seconds:.3f} s = "
            f"{args.files / seconds:,.0f} files/s"
        )

        if args.warm:
            async with open_database(config) as engine:
                await seed_warm_records(root, args.warm, VideoRepository(engine))
            warm, seconds, _ = await timed_scan(config, ["highlights"])
            assert warm.skipped == args.warm, warm.as_dict()
            print(
                f"warm rescan: {args.warm} files in {seconds:.3f} s = "
                f"{args.warm / seconds:,.0f} files/s"
            )

        own, children = peak_rss_mb()
        print(f"peak RSS (scans): scanning process {own:.0f} MB, largest worker {children:.0f} MB")
        raw, ours = hashing_figures(work)
        print(
            f"hashing: hashlib {raw:,.0f} MB/s, sha256_file {ours:,.0f} MB/s "
            f"({ours / raw:.0%} of raw)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
