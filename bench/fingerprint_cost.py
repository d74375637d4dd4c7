"""CPU per video of the fingerprint job against the thumbnail job (issue 12 §3 target: <= 2x).

Renders clips of typical lengths and sizes with FFmpeg's `testsrc2` (moving content, encoded
by x264 at its default GOP unless --gop says otherwise), then runs each job on every clip in
the project's worker pool (shared/media/workers.py) with the same worker count, and reports
the CPU time each item took in its worker (time.process_time, so a loaded machine's waiting
is not counted). The fingerprint is also split into its two parts: the Stash pHash (25 seeks)
and the per-second frame hashes (shared/media/frame_hashes.py).

    .venv/bin/python bench/fingerprint_cost.py            # 10 s, 1 min, 5 min at 720p/1080p
    .venv/bin/python bench/fingerprint_cost.py --quick    # 10 s and 1 min at 720p only

Measured 2026-12-01 (2 loaded cores, 1 worker, GOP 250), with the placeholder frame hashes
(every frame decoded): thumbnail 0.07-0.53 s, Stash pHash 0.4-3.3 s, frame hashes 0.4-12 s;
fingerprint / thumbnail 30.5x over the clips, the pHash alone 9.1x (5-7x per clip, and far
more where the thumbnail's frame happens to be a keyframe). The 2x target is not met: an exact
Stash pHash decodes from a keyframe to each of 25 times (on from the last frame where no
keyframe lies between), and a per-second sequence decodes about every frame; the thumbnail
decodes one GOP at most.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
from av.video.frame import PictureType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from videolib.shared.media.fingerprint import compute_fingerprint
from videolib.shared.media.frame_hashes import compute_frame_hashes
from videolib.shared.media.frames import grab_frame
from videolib.shared.media.stash_phash import video_phash
from videolib.shared.media.workers import WorkerPool

#: (seconds, width, height) of the clips: typical lengths, the common HD sizes.
FULL = [(10, 1280, 720), (10, 1920, 1080), (60, 1280, 720), (60, 1920, 1080), (300, 1280, 720)]
QUICK = [(10, 1280, 720), (60, 1280, 720)]
FPS = 25


def render(path: Path, seconds: int, width: int, height: int, gop: int | None) -> Path:
    """testsrc2 through x264 (veryfast), `gop` frames between keyframes (None: x264's 250)."""
    graph = av.filter.Graph()
    source = graph.add("testsrc2", f"size={width}x{height}:rate={FPS}:duration={seconds}")
    sink = graph.add("buffersink")
    source.link_to(sink)
    graph.configure()
    options = {"preset": "veryfast"} | ({"g": str(gop)} if gop else {})
    with av.open(os.fspath(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in itertools.count():
            try:
                frame = graph.vpull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            picture = frame.reformat(format="yuv420p")
            picture.pts = index
            # testsrc2 marks every frame a keyframe, which x264 would obey: let it choose.
            picture.pict_type = PictureType.NONE
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def timed(job: Callable[[str], object], path: str) -> float:
    started = time.process_time()
    job(path)
    return time.process_time() - started


def thumbnail_cpu(path: str, _settings: object) -> float:
    target = os.path.join(tempfile.gettempdir(), f"fingerprint-cost-{os.getpid()}.jpg")
    return timed(lambda source: grab_frame((source, target), 320), path)


def fingerprint_cpu(path: str, _settings: object) -> float:
    return timed(compute_fingerprint, path)


def phash_cpu(path: str, _settings: object) -> float:
    return timed(video_phash, path)


def frame_hashes_cpu(path: str, _settings: object) -> float:
    return timed(compute_frame_hashes, path)


JOBS: dict[str, Callable[[str, object], float]] = {
    "thumbnail": thumbnail_cpu,
    "fingerprint": fingerprint_cpu,
    "phash": phash_cpu,
    "frame_hashes": frame_hashes_cpu,
}


async def cpu_per_clip(
    job: Callable[[str, object], float], paths: list[str], workers: int
) -> list[float]:
    async with WorkerPool(workers, job, None, 3600.0, name="fingerprint-cost") as pool:
        return list(await asyncio.gather(*(pool.run(path) for path in paths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s and 1 min at 720p only")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (both jobs)")
    parser.add_argument("--gop", type=int, default=None, help="frames per GOP (x264: 250)")
    parser.add_argument("--keep", type=Path, default=None, help="render into (and reuse) here")
    arguments = parser.parse_args()
    folder = arguments.keep or Path(tempfile.mkdtemp(prefix="fingerprint-cost-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        clips = []
        for seconds, width, height in QUICK if arguments.quick else FULL:
            path = folder / f"{seconds}s-{height}p-gop{arguments.gop or 250}.mp4"
            if not path.exists():
                print(f"rendering {path.name}", file=sys.stderr, flush=True)
                render(path, seconds, width, height, arguments.gop)
            clips.append(str(path))
        cpu = {
            name: asyncio.run(cpu_per_clip(job, clips, arguments.workers))
            for name, job in JOBS.items()
        }
        print(f"CPU seconds per video, {arguments.workers} worker(s), GOP {arguments.gop or 250}")
        print(f"{'clip':<22}{'thumbnail':>10}{'phash':>9}{'frames':>9}{'total':>9}{'ratio':>8}")
        for index, clip in enumerate(clips):
            thumbnail, total = cpu["thumbnail"][index], cpu["fingerprint"][index]
            print(
                f"{Path(clip).name:<22}{thumbnail:>10.3f}{cpu['phash'][index]:>9.3f}"
                f"{cpu['frame_hashes'][index]:>9.3f}{total:>9.3f}{total / thumbnail:>7.1f}x"
            )
        ratio = sum(cpu["fingerprint"]) / sum(cpu["thumbnail"])
        phash_ratio = sum(cpu["phash"]) / sum(cpu["thumbnail"])
        print(f"fingerprint / thumbnail over all clips: {ratio:.1f}x (target <= 2x)")
        print(f"of which the Stash pHash alone: {phash_ratio:.1f}x")
    finally:
        if arguments.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
