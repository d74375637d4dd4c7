"""Real-world file shapes the probe must get right, generated with PyAV (ISSUE12 item 1).

Each maker writes one shape that phones, cameras, browsers or an interrupted copy
produce: timestamps far from zero, several video tracks, cover art, anamorphic pixels, a
live WebM without duration, a faststart mp4 cut short. Kept apart from tests/media.py,
whose corpus is the plain cases.
"""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from pathlib import Path

import av

from videolib.shared.demo import encode

_FAST = {
    "h264": {"preset": "ultrafast"},
    "vp8": {"deadline": "realtime", "cpu-used": "8"},
    "vp9": {"deadline": "realtime", "cpu-used": "8"},
}


def _muxer(path: Path) -> str:
    return {".mkv": "matroska", ".ts": "mpegts"}.get(path.suffix, path.suffix.lstrip("."))


def _grey(width: int, height: int, pts: int, *, noise: bool = False) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(os.urandom(plane.buffer_size) if noise else bytes([128]) * plane.buffer_size)
    frame.pts = pts
    return frame


def _add_video(
    container: av.container.OutputContainer,
    width: int,
    height: int,
    *,
    fps: int = 10,
    codec: str = "h264",
) -> av.video.VideoStream:
    stream: av.video.VideoStream = container.add_stream(  # type: ignore[assignment]
        codec, rate=fps, options=_FAST.get(codec, {})
    )
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    return stream


def make_offset_clip(path: Path, *, start_seconds: int = 3600, seconds: int = 2) -> Path:
    """A clip whose timestamps start at `start_seconds`, as `-output_ts_offset` or a cut
    from a long recording leaves them."""
    fps = 10
    with av.open(os.fspath(path), "w", format=_muxer(path)) as container:
        video = _add_video(container, 320, 240, fps=fps)
        for index in range(seconds * fps):
            encode(container, video, _grey(320, 240, start_seconds * fps + index))
        encode(container, video, None)
    return path


def make_two_video_tracks(
    path: Path,
    *,
    sizes: tuple[tuple[int, int], tuple[int, int]],
    default: int,
) -> Path:
    """Two video tracks of the given sizes, only track `default` (0 or 1) marked default."""
    with av.open(os.fspath(path), "w", format=_muxer(path)) as container:
        tracks = [_add_video(container, width, height) for width, height in sizes]
        for index, track in enumerate(tracks):
            track.disposition = (
                av.stream.Disposition.default if index == default else av.stream.Disposition(0)
            )
        for pts in range(10):
            for track, (width, height) in zip(tracks, sizes, strict=True):
                encode(container, track, _grey(width, height, pts))
        for track in tracks:
            encode(container, track, None)
    return path


def make_mp4_with_cover(path: Path, *, cover_first: bool) -> Path:
    """A 320x240 mp4 with a 600x600 cover (`covr`), larger than the video.

    FFmpeg makes the cover's stream where it reads `udta`; its muxer writes that after
    the traks, so `cover_first` moves it before them, as some taggers do: stream 0.
    """
    with av.open(os.fspath(path), "w", format="mp4") as container:
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 600, 600, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        video = _add_video(container, 320, 240)
        picture = av.VideoFrame(600, 600, "yuvj420p")
        for plane in picture.planes:
            plane.update(bytes([100]) * plane.buffer_size)
        picture.pts = 0
        encode(container, cover, picture)
        encode(container, cover, None)
        for pts in range(10):
            encode(container, video, _grey(320, 240, pts))
        encode(container, video, None)
    if cover_first:
        _move_udta_first(path)
    return path


def _move_udta_first(path: Path) -> None:
    """Rewrite the moov with its udta just after mvhd; moov is last, so no offset moves."""
    data = path.read_bytes()
    *_, (kind, moov_start, moov_end) = _boxes(data, 0, len(data))
    assert kind == b"moov" and moov_end == len(data), "moov must be the last box"
    children = [data[start:end] for _, start, end in _boxes(data, moov_start + 8, moov_end)]
    first = [box for box in children if box[4:8] in (b"mvhd", b"udta")]
    rest = [box for box in children if box[4:8] not in (b"mvhd", b"udta")]
    assert [box[4:8] for box in first] == [b"mvhd", b"udta"]
    path.write_bytes(data[: moov_start + 8] + b"".join(first + rest))


def make_mkv_with_cover(path: Path) -> Path:
    """A 320x240 Matroska clip with a 600x600 JPEG attached as cover.jpg (mkvmerge's way)."""
    with av.open(os.fspath(path), "w", format="matroska") as container:
        container.add_attachment("cover.jpg", "image/jpeg", _jpeg(600, 600))
        video = _add_video(container, 320, 240)
        for pts in range(10):
            encode(container, video, _grey(320, 240, pts))
        encode(container, video, None)
    return path


def _jpeg(width: int, height: int) -> bytes:
    """One grey JPEG picture."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 1)
    picture = av.VideoFrame(width, height, "yuvj420p")
    for plane in picture.planes:
        plane.update(bytes([100]) * plane.buffer_size)
    packets = [*codec.encode(picture), *codec.encode(None)]
    return b"".join(bytes(packet) for packet in packets)


def make_anamorphic(path: Path, *, size: tuple[int, int], sample_aspect: Fraction) -> Path:
    """A clip of coded `size` whose pixels are `sample_aspect` wide (DVD PAL 16:9: 64:45)."""
    width, height = size
    with av.open(os.fspath(path), "w", format=_muxer(path)) as container:
        video = _add_video(container, width, height, fps=2)
        video.codec_context.sample_aspect_ratio = sample_aspect
        for pts in range(2):
            encode(container, video, _grey(width, height, pts))
        encode(container, video, None)
    return path


def make_live_webm(path: Path, *, seconds: int = 3) -> Path:
    """A WebM written live, as a browser's MediaRecorder does: no Duration, no Cues."""
    fps = 10
    with av.open(os.fspath(path), "w", format="webm", options={"live": "1"}) as container:
        video = _add_video(container, 160, 120, fps=fps, codec="vp8")
        for pts in range(seconds * fps):
            encode(container, video, _grey(160, 120, pts))
        encode(container, video, None)
    return path


def make_cut_faststart_mp4(path: Path, *, cut_bytes: int) -> Path:
    """A faststart mp4 (moov before mdat) with its last `cut_bytes` lost, as an
    interrupted copy renamed into place leaves it: the header is whole."""
    with av.open(
        os.fspath(path), "w", format="mp4", options={"movflags": "+faststart"}
    ) as container:
        video = _add_video(container, 320, 240)
        for pts in range(20):
            encode(container, video, _grey(320, 240, pts, noise=True))
        encode(container, video, None)
    data = path.read_bytes()
    kinds = [kind for kind, _, _ in _boxes(data, 0, len(data))]
    assert kinds[-1] == b"mdat" and kinds.index(b"moov") < len(kinds) - 1, kinds
    path.write_bytes(data[: len(data) - cut_bytes])
    return path


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, first byte, end) of each box between `start` and `end`, 32-bit sizes only."""
    found, position = [], start
    while position + 8 <= end:
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        found.append((kind, position, position + size))
        position += size
    return found
