"""Stash's video pHash, so that fingerprints can be exchanged with Stash's ecosystem.

Stash (pkg/hash/videophash/phash.go) takes 25 frames at `0.05 * d + i * 0.9 * d / 25`
(i = 0..24: from 5 % to 91.4 % of the duration d), each grabbed by the ffmpeg CLI as
`-ss t -i FILE -frames:v 1 -vf scale=160:-2 -c:v bmp`, tiles them 5 x 5 on one canvas
(row-major), and hashes the canvas with goimagehash's `PerceptionHash` (ported bit for bit
in goimagehash.py). Here the frames are read and scaled by PyAV with the same FFmpeg
filters: upright (the CLI's autorotate), `scale=160:-2` with swscale's bicubic (the CLI's
default flags), converted to BGR (the BMP encoder's format) by the same swscale call.

Measured against Stash's own pipeline (bench/stash_reference/: the ffmpeg CLI as Stash runs
it, Debian's 5.1, then imaging and goimagehash in Go), the hash is equal, bit for bit, on every
clip tried: h264 with and without B-frames and long GOPs, MPEG-4 in AVI, VP9, rotated, 360p to
1080p. What can still differ, unavoidably:
- Which FFmpeg. PyAV bundles its own libswscale; Stash uses the system's ffmpeg. A release
  whose scaler rounds differently moves a few pixels by a level, and rarely a bit of the hash
  (none seen between FFmpeg 5.1 and PyAV's).
- Files the CLI cannot seek in. Where the seek lands on no keyframe before the time (an
  MPEG-TS with a far start time and one keyframe), ffmpeg 5.1 grabs no frame and Stash has no
  pHash; here the frame is looked for from the start, so such a file has one.
Two details matter and were measured: the frames are converted to bgr24 as the CLI does for
its BMP encoder (swscale's rgb24 path rounds differently: 2 bits off on a B-frame clip), and
each is the first frame at or after its time (the keyframe before it instead is 26 to 36 bits
off, as far as two distinct videos).
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any, Protocol

import av
import av.error
import numpy as np

from videolib.shared.media import classify, goimagehash
from videolib.shared.media.frames import rotation_filters
from videolib.shared.media.probe import picture_stream

#: Stash's sprite: 5 x 5 frames, each 160 px wide (phash.go: screenshotSize, columns, rows).
COLUMNS = ROWS = 5
FRAME_WIDTH = 160
#: A frame that cannot be found within this many decoded frames after the seek is not coming.
_MAX_FRAMES = 600


def frame_offsets(duration: float) -> list[float]:
    """The 25 times, in seconds from the start, that Stash grabs (phash.go generateSprite)."""
    count = COLUMNS * ROWS
    offset, step = 0.05 * duration, (0.9 * duration) / count
    return [offset + index * step for index in range(count)]


def stash_duration(duration_us: int) -> float:
    """Stash's `FileDuration`: ffprobe's format duration rounded to 1/100 s (ffprobe.go),
    with Go's math.Round (half away from zero)."""
    hundredths = duration_us / 1_000_000 * 100
    whole = math.floor(hundredths)
    return (whole + (1 if hundredths - whole >= 0.5 else 0)) / 100


def seek_microseconds(seconds: float) -> int:
    """What the CLI's `-ss` becomes: Go's shortest decimal of the float (fmt.Sprint), cut
    to whole microseconds as FFmpeg's av_parse_time reads it."""
    return int(Decimal(repr(seconds)).scaleb(6).to_integral_value(rounding=ROUND_DOWN))


def first_kept_pts(microseconds: int, time_base: Fraction) -> int:
    """The first pts the CLI's accurate seek keeps, in the stream's time base (FFmpeg's
    av_rescale_q: to the nearest, halves away from zero)."""
    exact = Fraction(microseconds, 1_000_000) / time_base
    return math.floor(exact + Fraction(1, 2))


def tile(frames: list[goimagehash.RGB]) -> goimagehash.RGB:
    """phash.go combineImages: the frames row-major on a canvas sized by the first one."""
    height, width = frames[0].shape[:2]
    canvas = np.zeros((height * ROWS, width * COLUMNS, 3), dtype=np.uint8)
    for index, frame in enumerate(frames):
        x, y = width * (index % COLUMNS), height * (index // ROWS)
        # imaging.Paste clips a frame that does not fit (never: all frames share one size).
        part = frame[: canvas.shape[0] - y, : canvas.shape[1] - x]
        canvas[y : y + part.shape[0], x : x + part.shape[1]] = part
    return canvas


def video_phash(path: str) -> int:
    """The Stash pHash of a video file, as a signed 64-bit integer (PostgreSQL bigint).

    Raises ValueError or av.error.FFmpegError for a file without 25 decodable frames.
    """
    return phash_of(read_frames(path))


def phash_of(frames: list[goimagehash.RGB]) -> int:
    """The pHash of Stash's 25 frames (tiled), as a signed 64-bit integer."""
    return goimagehash.to_signed(goimagehash.perception_hash(tile(frames)))


def read_frames(path: str) -> list[goimagehash.RGB]:
    """Stash's 25 frames of a video, upright, 160 px wide, as RGB arrays."""
    with av.open(path, metadata_errors="ignore") as container:
        stream = _video_stream(container)
        stream.codec_context.thread_count = 1  # one process per worker already
        return StashFrames(path, container, stream).finish()


class StashFrames:
    """Stash's 25 frames of `stream`: taken from a decoding pass where it shows them
    (`add`, frame_hashes.hash_seconds), the rest read by seeking (`finish`).

    Each is the first frame at or after its time, whether found on the way through every
    frame from the start or by a seek to the keyframe before it: the same frame, decoded
    the same. A frame the pass cannot give (the stream ends first, or the pass stops early)
    is read as before, by _FrameReader. `add` never raises: a frame that cannot be scaled
    is the pHash's failure (`error`), not the pass's.
    """

    def __init__(self, path: str, container: Any, stream: Any) -> None:
        if stream.time_base is None:
            raise ValueError("the video stream has no time base")
        if container.duration is None or container.duration <= 0:
            raise ValueError("no duration: cannot place the pHash frames")
        self._path, self._container, self._stream = path, container, stream
        # -ss counts from the container's start time (FFmpeg's ffmpeg_demux.c adds it).
        start_us = container.start_time or 0
        self._targets = [
            first_kept_pts(start_us + seek_microseconds(seconds), stream.time_base)
            for seconds in frame_offsets(stash_duration(container.duration))
        ]
        self._frames: list[goimagehash.RGB] = []
        self._scaler = _Scaler(stream)
        self.error: str | None = None
        #: A frame without a pts came: where it belongs is the reader's (seeking) rule.
        self._left_to_seek = False
        #: The keyframes' pts, once the pass has read every packet; else None.
        self._keyframes: list[int] | None = None
        self._keyframes_seen: list[int] = []

    @property
    def done(self) -> bool:
        """Whether the pass has nothing more to give (it may stop, or skip frames)."""
        return (
            self.error is not None or self._left_to_seek or len(self._frames) == len(self._targets)
        )

    def demuxed(self, pts: int | None, keyframe: bool) -> None:
        """A packet the pass read: its keyframes spare the reader a second demuxer."""
        if keyframe and pts is not None:
            self._keyframes_seen.append(pts)

    def demuxed_all(self) -> None:
        """The pass read every packet: the keyframes seen are all of them."""
        self._keyframes = sorted(self._keyframes_seen)

    def needless(self, pts: int | None) -> bool:
        """Whether a packet's frame comes before the next frame wanted."""
        return self.done or (pts is not None and pts < self._targets[len(self._frames)])

    def add(self, frame: av.VideoFrame) -> None:
        """A frame of the pass, in presentation order: it is each wanted frame it reaches."""
        if frame.pts is None:
            self._left_to_seek = True
            return
        try:
            while not self.done and frame.pts >= self._targets[len(self._frames)]:
                self._frames.append(self._scaler.scaled(frame))
        except (av.error.FFmpegError, ValueError) as error:
            self.error = str(error) or type(error).__name__

    def finish(self) -> list[goimagehash.RGB]:
        """All 25 frames: the missing ones read by seeking. Raises what the reading does."""
        if self.error is not None:
            raise ValueError(self.error)
        if len(self._frames) == len(self._targets):
            return self._frames
        with contextlib.ExitStack() as opened:
            keyframes: _Keyframes
            if self._keyframes is not None:
                keyframes = _KeyframeList(self._keyframes)
            else:
                index = opened.enter_context(av.open(self._path, metadata_errors="ignore"))
                keyframes = _IndexSeek(index, self._stream.index)
            reader = _FrameReader(self._container, self._stream, keyframes)
            for target in self._targets[len(self._frames) :]:
                self._frames.append(self._scaler.scaled(reader.frame_at(target)))
        return self._frames


class _Keyframes(Protocol):
    def before(self, target: int) -> int | None:
        """The pts of the last keyframe at or before `target` (None: none, or not known)."""


class _KeyframeList:
    """The keyframes a pass read, every one of them: no second demuxer needed."""

    def __init__(self, keyframes: list[int]) -> None:
        self._keyframes = keyframes  # ascending

    def before(self, target: int) -> int | None:
        at = bisect.bisect_right(self._keyframes, target) - 1
        return self._keyframes[at] if at >= 0 else None


class _IndexSeek:
    """A second demuxer of the file: a seek to the target and one packet (no decoding)."""

    def __init__(self, index: Any, stream_index: int) -> None:
        self._index, self._stream = index, index.streams[stream_index]

    def before(self, target: int) -> int | None:
        self._index.seek(target, stream=self._stream, backward=True)
        packet = next(iter(self._index.demux(self._stream)), None)
        return None if packet is None else packet.pts


def _video_stream(container: Any) -> Any:
    # The probe's choice (default, then most pixels), as ffmpeg's own stream selection
    # that Stash's CLI relies on prefers the largest picture; never a cover.
    stream = picture_stream(container)
    if stream is None:
        raise ValueError("no video stream")
    return stream


class _FrameReader:
    """The first frame at or after each target pts (ascending), as the CLI's accurate seek
    gives it (`-ss` before `-i`); the last one when the stream ends before it.

    The frames are the CLI's; only the work differs. Where the keyframe before a target is
    at or before the frame last decoded, decoding goes on from there instead of seeking
    back to it (`keyframes` finds that keyframe: from the packets a pass read, or with a
    second demuxer, a seek and one packet, no decoding). Frames that nothing refers to
    (most B-frames) before the target are not decoded at all: no other frame depends on them.

    Where a seek lands on no keyframe before the target (an MPEG-TS seeks by bytes, and its
    keyframe can be a whole GOP back), nothing decodes: the frame is then looked for from
    the start. The ffmpeg CLI gives up there, so Stash has no pHash for such a file.
    """

    def __init__(self, container: Any, stream: Any, keyframes: _Keyframes) -> None:
        self._container, self._stream, self._keyframes = container, stream, keyframes
        self._context = stream.codec_context
        self._frames: Iterator[av.VideoFrame] | None = None
        self._target = 0
        self._last: av.VideoFrame | None = None  # the frame last decoded

    def frame_at(self, target: int) -> av.VideoFrame:
        self._target = target
        if not self._goes_on_to(target):
            self._seek(target)
        found = self._first_from(target)
        if found is None:
            self._seek(self._stream.start_time or 0)
            found = self._first_from(target)
        if found is None:
            seconds = float(target * self._stream.time_base)
            raise ValueError(f"no decodable frame at {seconds:.3f} s")
        return found

    def _goes_on_to(self, target: int) -> bool:
        """Whether decoding on costs no more than seeking: no keyframe lies between."""
        last = self._last
        if self._frames is None or last is None or last.pts is None or last.pts >= target:
            return False
        keyframe = self._keyframes.before(target)
        return keyframe is not None and keyframe <= last.pts

    def _seek(self, pts: int) -> None:
        self._context.flush_buffers()
        self._container.seek(pts, stream=self._stream, backward=True)
        self._frames, self._last = self._decoded(), None

    def _decoded(self) -> Iterator[av.VideoFrame]:
        for packet in self._container.demux(self._stream):
            before = packet.pts is not None and packet.pts < self._target
            self._context.skip_frame = "NONREF" if before else "DEFAULT"
            yield from packet.decode()

    def _first_from(self, target: int) -> av.VideoFrame | None:
        assert self._frames is not None
        found: av.VideoFrame | None = None
        for decoded, frame in enumerate(self._frames, start=1):
            found = self._last = frame
            if frame.pts is None or frame.pts >= target or decoded >= _MAX_FRAMES:
                return frame
        self._frames = None  # the stream ended
        return found


class _Scaler:
    """The frame upright, 160 px wide (height kept even), in RGB: the CLI's filter chain.

    One filter graph per rotation, not per frame: building one costs more than scaling a
    frame through it (4 ms, measured), and swscale gives the same pixels either way.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._graphs: dict[int, av.filter.Graph] = {}

    def scaled(self, frame: av.VideoFrame) -> goimagehash.RGB:
        # VideoFrame.rotation is FFmpeg's display-matrix angle, counter-clockwise.
        rotation = classify.normalise_rotation(-float(frame.rotation))
        graph = self._graphs.get(rotation)
        if graph is None:
            graph = self._graphs[rotation] = self._graph(rotation)
        graph.push(frame)
        picture: goimagehash.RGB = graph.pull().to_ndarray()  # type: ignore[assignment]
        return np.ascontiguousarray(picture[..., ::-1])  # bgr24

    def _graph(self, rotation: int) -> av.filter.Graph:
        graph = av.filter.Graph()
        nodes = [graph.add_buffer(template=self._stream)]
        for name, arguments in rotation_filters(rotation):
            nodes.append(graph.add(name, arguments))
        nodes.append(graph.add("scale", f"{FRAME_WIDTH}:-2:flags=bicubic"))
        # bgr24, as the CLI negotiates for its BMP encoder: swscale's YUV -> bgr24 path
        # rounds differently from its rgb24 one (up to 4 levels, measured): order matters.
        nodes.append(graph.add("format", "bgr24"))
        nodes.append(graph.add("buffersink"))
        for upstream, downstream in itertools.pairwise(nodes):
            upstream.link_to(downstream)
        graph.configure()
        return graph
