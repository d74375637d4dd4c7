"""The clips of bench/near_duplicates.py: visually distinct sources and their transformed copies.

Sources cycle through eight generators, each with its own parameters per seed, so no two
share a test pattern: numpy-drawn scenes (moving shapes over a colour field), and FFmpeg's
lavfi sources through PyAV's filter graph: mandelbrot (a point and an angle each), life
and cellauto (rules, seeds, colours), gradients, perlin noise and sierpinski (an angle
each). Each is 960x540 (so "downscale to 480p" is one), 6 fps, 20-32 s, H.264 in mp4.

The copies are what a media library holds: a low-bitrate re-encode, a 480p downscale, a
remux to Matroska, the first 10 % trimmed, a 5 s black intro added, 10 % cropped, a caption
and a logo overlaid, a horizontal flip. The FFmpeg in PyAV's wheel has no drawtext (no
freetype), so the "text" is a caption bar of glyph-sized boxes drawn with drawbox.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

WIDTH, HEIGHT, FPS = 960, 540, 6
INTRO_SECONDS = 5
TRIM_SHARE = 0.10
CROP_SHARE = 0.10
TRANSFORMATIONS = (
    "reencode",
    "downscale",
    "container",
    "trim",
    "intro",
    "crop",
    "overlay",
    "flip",
)
_X264 = {"preset": "ultrafast"}


@dataclass(frozen=True, slots=True)
class Source:
    """One source clip: its generator and seed."""

    index: int
    kind: str
    seconds: int

    @property
    def name(self) -> str:
        return f"{self.index:03d}-{self.kind}"


KINDS = ("shapes", "mandelbrot", "life", "cellauto", "gradients", "perlin", "sierpinski", "shapes")


def sources(count: int, seconds: int | None = None) -> list[Source]:
    """`count` sources, the generators in turn, 20-32 s each (or `seconds`)."""
    return [
        Source(index, KINDS[index % len(KINDS)], seconds or 20 + (index * 7) % 13)
        for index in range(count)
    ]


def render_all(source: Source, directory: Path) -> dict[str, Path]:
    """The source's clip and its copies under `directory`, made once (cached by name)."""
    original = directory / f"{source.name}.mp4"
    if not original.exists():
        _write_atomically(original, lambda path: _render_source(source, path))
    copies = {"original": original}
    for transformation in TRANSFORMATIONS:
        suffix = ".mkv" if transformation == "container" else ".mp4"
        target = directory / f"{source.name}.{transformation}{suffix}"
        if not target.exists():
            _write_atomically(
                target, functools.partial(_derive, original, transformation=transformation)
            )
        copies[transformation] = target
    return copies


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    temporary = target.with_name(f".{target.stem}.{os.getpid()}{target.suffix}")
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _render_source(source: Source, path: Path) -> None:
    frames = source.seconds * FPS
    pictures = _shapes(source.index, frames) if source.kind == "shapes" else _lavfi(source, frames)
    with av.open(os.fspath(path), "w", format="mp4") as container:
        stream = _video_stream(container, WIDTH, HEIGHT)
        for index, frame in enumerate(pictures):
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            _encode(container, stream, frame)
        _encode(container, stream, None)


def _shapes(seed: int, frames: int) -> Iterator[av.VideoFrame]:
    """A two-colour field with a few rectangles and discs moving across it."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    angle = rng.uniform(0, np.pi)
    ramp = (np.cos(angle) * xs + np.sin(angle) * ys) / (WIDTH + HEIGHT)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    first, second = rng.integers(0, 256, size=(2, 3))
    field = (first[None, None, :] * (1 - ramp[..., None]) + second * ramp[..., None]).astype(
        np.uint8
    )
    count = int(rng.integers(4, 9))
    centres = rng.uniform([0, 0], [WIDTH, HEIGHT], size=(count, 2))
    speeds = rng.uniform(-60, 60, size=(count, 2)) / FPS
    sizes = rng.uniform(50, 200, size=(count, 2))
    colours = rng.integers(0, 256, size=(count, 3))
    discs = rng.random(count) < 0.5
    for index in range(frames):
        picture = field.copy()
        for shape in range(count):
            cx, cy = (centres[shape] + speeds[shape] * index) % [WIDTH, HEIGHT]
            w, h = sizes[shape]
            if discs[shape]:
                inside = ((xs - cx) / w) ** 2 + ((ys - cy) / h) ** 2 <= 0.25
                picture[inside] = colours[shape]
            else:
                x0, y0 = int(cx - w / 2), int(cy - h / 2)
                picture[max(0, y0) : y0 + int(h), max(0, x0) : x0 + int(w)] = colours[shape]
        yield av.VideoFrame.from_ndarray(picture, format="rgb24")


def _lavfi(source: Source, frames: int) -> Iterator[av.VideoFrame]:
    """A lavfi source at a quarter size, with its seed's parameters, scaled up in the graph."""
    rng = random.Random(source.index)
    turn = source.index // len(KINDS)  # this source is the turn-th of its kind
    name, arguments, scaling = _lavfi_source(source.kind, turn, rng)
    graph = av.filter.Graph()
    nodes = [graph.add(name, f"rate={FPS}:{arguments}")]
    if source.kind in ("mandelbrot", "sierpinski"):
        # Each turn at its own angle: a fractal is one picture, whatever the seed's zoom.
        nodes.append(graph.add("rotate", f"a={0.4 + turn * 0.7:.2f}:fillcolor=black"))
    nodes.append(graph.add("scale", f"{WIDTH}:{HEIGHT}:flags={scaling}"))
    if source.kind in ("cellauto", "perlin"):
        # One hue per seed, so that the grey or two-colour generators differ in colour too.
        nodes.append(graph.add("format", "yuv420p"))
        nodes.append(
            graph.add("colorchannelmixer", _colour_mix(rng)),
        )
    nodes.append(graph.add("format", "yuv420p"))
    nodes.append(graph.add("buffersink"))
    for upstream, downstream in itertools.pairwise(nodes):
        upstream.link_to(downstream)
    graph.configure()
    for _ in range(frames):
        yield _video(graph.pull())


_MANDELBROT_POINTS = (
    (-0.743643887037158704752191506114774, 0.131825904205311970493132056385139),
    (-0.7453, 0.1127),
    (-1.25066, 0.02012),
    (-0.1011, 0.9563),
    (0.001643721971153, -0.822467633298876),
    (-1.7693831791955, 0.0042368479187367),
    (-0.16, 1.0405),
    (0.2549, 0.0005),
)


def _lavfi_source(kind: str, turn: int, rng: random.Random) -> tuple[str, str, str]:
    """(filter, its arguments, scaling flags) for the turn-th source of a generator."""
    small = f"size={WIDTH // 4}x{HEIGHT // 4}"
    if kind == "mandelbrot":
        x, y = _MANDELBROT_POINTS[turn % len(_MANDELBROT_POINTS)]
        outer = rng.choice(("iteration_count", "normalized_iteration_count", "white"))
        start = rng.uniform(0.5, 3.0)
        return (
            "mandelbrot",
            f"{small}:start_x={x}:start_y={y}:start_scale={start}:end_scale={start / 50}"
            f":end_pts={rng.randint(150, 400)}:outer={outer}:maxiter={rng.randint(200, 900)}",
            "bicubic",
        )
    if kind == "life":
        # Big cells: a 24x13 board, so a cell is 40 px and the picture has shapes to hash.
        return (
            "life",
            f"size={rng.randint(16, 32)}x{rng.randint(9, 18)}:seed={rng.randint(0, 1 << 30)}"
            f":ratio={rng.uniform(0.3, 0.7):.2f}:mold={rng.choice((0, 10, 50))}"
            # Light cells on a dark board: a grey hash sees luma, not hue.
            f":life_color=#{_colour(rng, 160, 255)}:death_color=#{_colour(rng, 0, 90)}"
            f":mold_color=#{_colour(rng, 60, 160)}",
            "neighbor",
        )
    if kind == "cellauto":
        size = f"size={rng.randint(40, 80)}x{rng.randint(24, 45)}"
        rule = rng.choice((18, 22, 30, 45, 54, 60, 90, 105, 110, 150))
        return (
            "cellauto",
            f"{size}:rule={rule}"
            f":seed={rng.randint(0, 1 << 30)}:random_fill_ratio={rng.uniform(0.2, 0.8):.2f}",
            "neighbor",
        )
    if kind == "gradients":
        kinds = ("linear", "radial", "circular", "spiral", "square")
        return (
            "gradients",
            # A dark and a light colour first: a gradient a grey hash can see.
            f"{small}:seed={rng.randint(0, 1 << 30)}:nb_colors={rng.randint(2, 8)}"
            f":c0=0x{_colour(rng, 0, 80)}:c1=0x{_colour(rng, 170, 255)}"
            f":speed={rng.uniform(0.005, 0.03):.4f}:type={rng.choice(kinds)}",
            "bicubic",
        )
    if kind == "perlin":
        return (
            "perlin",
            f"{small}:seed={rng.randint(0, 1 << 30)}:octaves={rng.randint(1, 4)}"
            f":persistence={rng.uniform(0.3, 0.9):.2f}:xscale={rng.uniform(0.5, 3):.2f}"
            f":yscale={rng.uniform(0.5, 3):.2f}:tscale={rng.uniform(0.05, 0.3):.2f}",
            "bicubic",
        )
    if kind == "sierpinski":
        return (
            "sierpinski",
            f"{small}:seed={rng.randint(0, 1 << 30)}:jump={rng.randint(1, 4)}"
            f":type={('carpet', 'triangle')[turn % 2]}",
            "bicubic",
        )
    raise ValueError(f"unknown source kind {kind!r}")


def _colour(rng: random.Random, low: int, high: int) -> str:
    return "".join(f"{rng.randint(low, high):02x}" for _ in range(3))


def _colour_mix(rng: random.Random) -> str:
    weights = [rng.uniform(0, 1) for _ in range(3)]
    return ":".join(f"{channel}r={w:.2f}" for channel, w in zip("rgb", weights, strict=True))


def _derive(original: Path, target: Path, transformation: str) -> None:
    if transformation == "container":
        _remux(original, target)
        return
    filters = {
        "downscale": [("scale", "-2:480")],
        "crop": [("crop", f"iw*{1 - CROP_SHARE}:ih*{1 - CROP_SHARE}")],
        "flip": [("hflip", "")],
        "overlay": _caption_boxes(),
    }.get(transformation, [])
    with av.open(os.fspath(original)) as source:
        stream = source.streams.video[0]
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration and stream.time_base
            else 0.0
        )
        skip_until = duration * TRIM_SHARE if transformation == "trim" else 0.0
        pictures = _filtered(source, stream, filters, skip_until)
        first = next(pictures)  # its size is the copy's
        with av.open(os.fspath(target), "w", format="mp4") as output:
            video = _video_stream(output, first.width, first.height)
            if transformation == "reencode":
                video.bit_rate = 120_000
            intro = INTRO_SECONDS * FPS if transformation == "intro" else 0
            black = (_black(first.width, first.height) for _ in range(intro))
            for pts, picture in enumerate(itertools.chain(black, [first], pictures)):
                picture.pts, picture.time_base = pts, Fraction(1, FPS)
                _encode(output, video, picture)
            _encode(output, video, None)


def _filtered(
    source: Any, stream: Any, filters: list[tuple[str, str]], skip_until: float
) -> Iterator[av.VideoFrame]:
    """The decoded frames from `skip_until` on, through `filters`, in yuv420p of even size."""
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(template=stream)]
    nodes += [graph.add(name, arguments) for name, arguments in filters]
    nodes.append(graph.add("scale", "trunc(iw/2)*2:trunc(ih/2)*2"))
    nodes.append(graph.add("format", "yuv420p"))
    nodes.append(graph.add("buffersink"))
    for upstream, downstream in itertools.pairwise(nodes):
        upstream.link_to(downstream)
    graph.configure()
    for frame in source.decode(stream):
        if frame.time is not None and frame.time < skip_until:
            continue
        graph.push(frame)
        yield _video(graph.pull())


def _caption_boxes() -> list[tuple[str, str]]:
    """A subtitle line of white glyph-sized boxes, outlined, low in the picture; a corner logo."""
    rng = random.Random(7)
    boxes = []
    x = 0.2
    while x < 0.78:
        width = rng.uniform(0.01, 0.02)
        glyph = f"x=iw*{x:.3f}:y=ih*0.82:w=iw*{width:.3f}:h=ih*0.06"
        boxes.append(("drawbox", f"{glyph}:color=white:t=fill"))
        boxes.append(("drawbox", f"{glyph}:color=black:t=2"))
        x += width + rng.choice((0.005, 0.005, 0.005, 0.025))  # letters, then a space
    boxes.append(("drawbox", "x=iw*0.86:y=ih*0.05:w=iw*0.09:h=ih*0.08:color=yellow@0.7:t=fill"))
    return boxes


def _video(frame: av.VideoFrame | av.AudioFrame) -> av.VideoFrame:
    assert isinstance(frame, av.VideoFrame)  # a video graph's sink
    return frame


def _black(width: int, height: int) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, level in zip(frame.planes, (16, 128, 128), strict=True):
        plane.update(bytes([level]) * plane.buffer_size)
    return frame


def _remux(original: Path, target: Path) -> None:
    with av.open(os.fspath(original)) as source, av.open(os.fspath(target), "w", "matroska") as out:
        stream = source.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = copy
            out.mux(packet)


def _video_stream(container: Any, width: int, height: int) -> Any:
    stream = container.add_stream("libx264", rate=FPS, options=dict(_X264))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.thread_count = 1
    return stream


def _encode(container: Any, stream: Any, frame: av.VideoFrame | None) -> None:
    for packet in stream.encode(frame):
        container.mux(packet)
