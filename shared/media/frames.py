"""Grab one frame of a video as a JPEG thumbnail, with PyAV (FFmpeg's libraries).

No Pillow: the frame is turned and scaled by an FFmpeg filter graph and encoded by FFmpeg's
mjpeg encoder. Runs in a worker process (shared/media/workers.py), so everything that goes in
or out is picklable and no exception crosses back: failures come back as `FrameResult.error`.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from videolib.shared.media import classify, streams
from videolib.shared.media.probe import picture_stream

#: Where in the video the frame is taken, as a share of its duration.
POSITION = 0.10
# FFmpeg's mjpeg quality scale: 2 (best) to 31; 4 is sharp at thumbnail size, ~15 KB.
_JPEG_QUALITY = 4
# A frame that cannot be found within this many packets after the seek is not coming.
_MAX_FRAMES = 300
# A seek in a file without an index (MPEG-TS, MPEG-PS) lands on a packet, not a keyframe:
# when no frame decodes after it, seek again this much earlier, doubling, back to the start.
_STEP_BACK_SECONDS = 1.0
# FFmpeg's AV_TIME_BASE: the container's start and duration are in microseconds.
_AV_TIME_BASE = Fraction(1, 1_000_000)


@dataclass(frozen=True, slots=True)
class FrameResult:
    """A written thumbnail's size, or why none was written."""

    width: int = 0
    height: int = 0
    error: str | None = None


def rotation_filters(rotation: int) -> list[tuple[str, str]]:
    """The FFmpeg filters that show a picture upright, for a clockwise display rotation."""
    return {
        0: [],
        90: [("transpose", "clock")],
        180: [("hflip", ""), ("vflip", "")],
        270: [("transpose", "cclock")],
    }[classify.normalise_rotation(rotation)]


def write_thumbnail(source: str, target: str, width: int) -> FrameResult:
    """Write a JPEG of the frame at ~10 % of `source`, `width` px wide, upright; atomically.

    Never raises for a bad file: the reason is in the result.
    """
    return _write_jpeg_at(source, target, POSITION, width)


def write_frame_at(source: str, target: str, position: float, width: int) -> FrameResult:
    """Write a JPEG of the frame at `position` (a share of the duration, 0 to 1) of `source`,
    `width` px wide, upright; atomically. For the page's strip of frames of a file that does
    not play in a browser. Never raises for a bad file: the reason is in the result.
    """
    if not 0.0 <= position <= 1.0:
        return FrameResult(error=f"position {position!r} is not between 0 and 1")
    return _write_jpeg_at(source, target, position, width)


def grab_frame(source_and_target: tuple[str, str], width: int) -> FrameResult:
    """`write_thumbnail` as a worker-pool job (shared/media/workers.py): item, settings."""
    source, target = source_and_target
    return write_thumbnail(source, target, width)


def seek_seconds(start: float, duration: float, share: float) -> float:
    """Where to take the frame, on the stream's clock: `share` of the content past its start.

    A stream cut from a recording starts far from zero (an FLV or TS at 3600 s): counted
    from zero, the position falls before its first frame, and the grab took that frame.
    """
    return start + share * max(0.0, duration)


def thumbnail_size(
    coded: tuple[int, int], sample_aspect_ratio: Fraction | None, rotation: int, width: int
) -> tuple[int, int]:
    """The thumbnail's size: `width` wide, the shape a player shows, the height even.

    Shown as a player does (SPEC: Data model): the width scaled by the sample aspect ratio
    (a DVD's 720x576 at 16:15 is 768x576), then turned. Even for 4:2:0 chroma, rounded
    half up as FFmpeg's `scale=W:-2`.
    """
    coded_width, coded_height = coded
    shown_width = coded_width * (sample_aspect_ratio or 1)
    shown: tuple[Fraction | int, Fraction | int] = (shown_width, coded_height)
    if classify.normalise_rotation(rotation) in (90, 270):
        shown = (coded_height, shown_width)
    halves = Fraction(width) * shown[1] / shown[0] / 2
    return width, max(2, math.floor(halves + Fraction(1, 2)) * 2)


def _write_jpeg_at(source: str, target: str, position: float, width: int) -> FrameResult:
    """The frame at `position` (a share of the content) as a JPEG in `target`, atomically."""
    try:
        data, size = _jpeg_at(source, position, width)
        _write_atomically(Path(target), data)
    except (av.error.FFmpegError, OSError, ValueError, EOFError, StopIteration) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return FrameResult(error=reason)
    return FrameResult(*size)


def _jpeg_at(source: str, position: float, width: int) -> tuple[bytes, tuple[int, int]]:
    with av.open(source, metadata_errors="ignore") as container:
        stream = picture_stream(container)
        if stream is None:
            raise ValueError("no video stream")
        stream.codec_context.thread_count = 1  # one process per worker already
        start, duration = _content_span(container, stream)
        frame = _frame_at(container, stream, start, seek_seconds(start, duration, position))
        # VideoFrame.rotation is FFmpeg's display-matrix angle, counter-clockwise.
        clockwise = classify.normalise_rotation(-float(frame.rotation))
        size = thumbnail_size((frame.width, frame.height), _aspect(stream), clockwise, width)
        picture = _upright_and_scaled(stream, frame, clockwise, size)
        return _encode_jpeg(picture), (picture.width, picture.height)


def _content_span(container: Any, stream: Any) -> tuple[float, float]:
    """(start, duration) of the picture in seconds, on the stream's own clock.

    The start is the stream's own where it has one (mp4, TS), else the container's; the
    duration is the probe's rule (streams.content_duration) over the picture's stream alone.
    """
    header_start = _seconds(container.start_time, _AV_TIME_BASE)
    start = _seconds(stream.start_time, stream.time_base)
    if start is None:
        start = header_start or 0.0
    duration = streams.content_duration(
        container.format.name,
        header_start,
        _seconds(container.duration, _AV_TIME_BASE),
        [streams.Span(start, _seconds(stream.duration, stream.time_base))],
    )
    return start, duration or 0.0


def _seconds(timestamp: int | None, time_base: Fraction | None) -> float | None:
    if timestamp is None or time_base is None:
        return None
    return float(timestamp * time_base)


def _aspect(stream: Any) -> Fraction | None:
    """The sample aspect ratio: the container's (mkv, mp4 `pasp`), else the bitstream's."""
    for ratio in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if ratio:  # FFmpeg's 0/1 is "not known", read by PyAV as 0 or None
            return Fraction(ratio)
    return None


def _frame_at(container: Any, stream: Any, start: float, seconds: float) -> av.VideoFrame:
    """The first frame at or after `seconds` (the last one before it if none follows)."""
    back = 0.0
    while True:
        seek_to = max(start, seconds - back)
        found = _first_frame_from(container, stream, seek_to, seconds)
        if found is not None or seek_to <= start:
            break
        back = back * 2 or _STEP_BACK_SECONDS
    if found is None:
        raise ValueError("no decodable frame")
    return found


def _first_frame_from(
    container: Any, stream: Any, seek_to: float, seconds: float
) -> av.VideoFrame | None:
    """Seek to `seek_to`, then decode up to the first frame at or after `seconds`."""
    if seek_to > 0 and stream.time_base is not None:
        container.seek(int(seek_to / stream.time_base), stream=stream, backward=True)
    else:
        # Zero is before any start: the first frame. (A program stream sought to its own
        # start time can land past the first keyframe.)
        container.seek(0, stream=stream)
    found: av.VideoFrame | None = None
    for count, frame in enumerate(container.decode(stream)):
        found = frame
        if frame.time is None or frame.time >= seconds or count >= _MAX_FRAMES:
            break
    return found


def _upright_and_scaled(
    stream: Any, frame: av.VideoFrame, rotation: int, size: tuple[int, int]
) -> Any:
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(template=stream)]
    for name, arguments in rotation_filters(rotation):
        nodes.append(graph.add(name, arguments))
    nodes.append(graph.add("scale", f"{size[0]}:{size[1]}"))
    nodes.append(graph.add("setsar", "1"))  # square pixels, as browsers show a JPEG's
    nodes.append(graph.add("format", "yuvj420p"))
    nodes.append(graph.add("buffersink"))
    for upstream, downstream in itertools.pairwise(nodes):
        upstream.link_to(downstream)
    graph.configure()
    graph.push(frame)
    return graph.pull()


def _encode_jpeg(picture: Any) -> bytes:
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = picture.width, picture.height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.qmin = encoder.qmax = _JPEG_QUALITY
    packets = encoder.encode(picture) + encoder.encode(None)
    data = b"".join(bytes(packet) for packet in packets)
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("the JPEG encoder wrote no image")
    return data


def _write_atomically(target: Path, data: bytes) -> None:
    """Temp file in the same folder, then rename: a reader never sees half a JPEG."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
