"""Videos with moving pictures that differ by seed, for perceptual hashes.

tests/media.py makes grey or noise frames, which every perceptual hash sees as the same
picture. Here each seed gives its own colour field and shapes, moving over time, so that
two seeds are two distinct videos and a re-encode of one is still "the same" video.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from videolib.shared.demo import encode

_OPTIONS = {"libx264": {"preset": "ultrafast"}, "h264": {"preset": "ultrafast"}}


def scene(width: int, height: int, seed: int, seconds: float) -> np.ndarray:
    """One RGB picture of scene `seed` at time `seconds`."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = x / width, y / height
    base = rng.uniform(0, 1, size=(3, 3))
    phase = rng.uniform(0, 6.3, size=3)
    picture = np.empty((height, width, 3), dtype=np.float32)
    for channel in range(3):
        a, b, c = base[channel]
        picture[..., channel] = 127 + 120 * np.sin(
            6 * a * x + 6 * b * y + phase[channel] + (0.4 + c) * seconds
        )
    for _ in range(4):  # discs crossing the picture at their own speeds
        cx, cy, vx, vy = rng.uniform(0, 1, size=4)
        radius = rng.uniform(0.08, 0.2)
        colour = rng.uniform(0, 255, size=3)
        px, py = (cx + vx * seconds / 10) % 1, (cy + vy * seconds / 10) % 1
        inside = (x - px) ** 2 + ((y - py) * height / width) ** 2 < radius**2
        picture[inside] = colour
    return picture.clip(0, 255).astype(np.uint8)


def make_scene_video(
    path: Path,
    seed: int,
    *,
    width: int = 320,
    height: int = 180,
    seconds: float = 10.0,
    fps: int = 10,
    codec: str = "h264",
    bit_rate: int | None = None,
    gop: int | None = None,
    b_frames: int | None = None,
) -> Path:
    """Write scene `seed` as a video (the container is the suffix's).

    `b_frames` asks x264 for that many B-frames (its ultrafast preset has none)."""
    options = dict(_OPTIONS.get(codec, {}))
    if b_frames is not None:
        options["bf"] = str(b_frames)
    with av.open(os.fspath(path), "w") as container:
        stream: av.video.VideoStream = container.add_stream(  # type: ignore[assignment]
            codec, rate=fps, options=options
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        if gop is not None:
            stream.codec_context.gop_size = gop
        for index in range(max(1, round(seconds * fps))):
            frame = av.VideoFrame.from_ndarray(scene(width, height, seed, index / fps), "rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            encode(container, stream, frame)
        encode(container, stream, None)
    return path


def reencode(source: Path, target: Path, *, width: int, codec: str = "mpeg4") -> Path:
    """Decode `source` and write it again smaller and with another codec: a re-encode."""
    with av.open(os.fspath(source)) as reader, av.open(os.fspath(target), "w") as writer:
        original = reader.streams.video[0]
        height = round(original.height * width / original.width / 2) * 2
        stream: av.video.VideoStream = writer.add_stream(  # type: ignore[assignment]
            codec, rate=original.average_rate or 10
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, frame in enumerate(reader.decode(original)):
            picture = frame.to_ndarray(width=width, height=height, format="rgb24")
            scaled = av.VideoFrame.from_ndarray(picture, "rgb24").reformat(format="yuv420p")
            scaled.pts = index
            encode(writer, stream, scaled)
        encode(writer, stream, None)
    return target
