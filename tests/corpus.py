"""The extended test corpus: real-world shapes of video files, generated with PyAV.

Shapes that phones, cameras, broadcasters, browsers and editors write (issue 12): HEVC 8
and 10 bit, fragmented and CMAF mp4, ProRes, MPEG-2 in program and transport streams,
VP9 with alpha, AV1, 1080i, variable frame rate, a single frame, a two-hour clip and a
timecode track. Each is tiny and flat grey, so that the whole corpus builds in about a
second; the two-hour clip is one frame a second of 160x90, which x264 codes in a blink.
tests/media.py has the everyday shapes; this module the ones a library meets less often.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from videolib.shared.demo import AUDIO_RATE, encode, write_silence

# FFmpeg's AV1 encoders, the fastest first; PyAV's wheels have had one or another.
AV1_ENCODERS = ("libsvtav1", "libaom-av1", "librav1e")
# Options that make each encoder fast at these sizes, and quiet where it can be told to.
_ENCODER_OPTIONS: dict[str, dict[str, str]] = {
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=none"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
    "libsvtav1": {"preset": "12"},
    "libaom-av1": {"cpu-used": "8", "usage": "realtime"},
    "librav1e": {"speed": "10"},
    "prores_ks": {"profile": "2"},  # 422, what a camera or an editor exports
}
# mp4 writes HEVC as `hev1` unless told; Apple's devices write (and only play) `hvc1`.
_HVC1 = "hvc1"
# Interlaced, the top field first: 1080i as European broadcast and AVCHD camcorders write it.
_X264_INTERLACED = {"x264-params": "interlaced=1:tff=1"}
# CMAF (ISO/IEC 23000-19): fragmented, with the `cmfc` brand; one track per file.
_CMAF_FLAGS = {"movflags": "cmaf+frag_keyframe+empty_moov+default_base_moof"}
# What a live packager or a browser's MediaSource feed writes: fragments, empty moov.
_FRAGMENTED_FLAGS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


@dataclass(frozen=True)
class Shape:
    """One file of the corpus: how to encode it, and into which container."""

    name: str  # file name; its suffix is only a name, `muxer` decides the container
    muxer: str
    encoder: str
    width: int = 320
    height: int = 240
    pix_fmt: str = "yuv420p"
    fps: int = 10
    frames: int = 10
    audio: str | None = None  # the audio encoder, None for a silent file
    options: dict[str, str] = field(default_factory=dict)  # the video encoder's
    muxer_options: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)  # the container's tags
    #: Frame timestamps in milliseconds, for variable frame rate; None: 1/fps apart.
    pts_ms: tuple[int, ...] | None = None
    sample_aspect_ratio: Fraction | None = None  # anamorphic pixels, in the bitstream
    rotation: int = 0  # clockwise degrees, written as a display matrix

    @property
    def seconds(self) -> float:
        """How long the video runs: to the end of its last frame."""
        if self.pts_ms is None:
            return self.frames / self.fps
        return (self.pts_ms[-1] + (self.pts_ms[-1] - self.pts_ms[-2])) / 1000


# A phone's variable frame rate: 30 fps, 10 fps for a second in the dark, 30 again; 1.99 s.
_VFR_MS = tuple(itertools.accumulate([0] + [33] * 15 + [100] * 10 + [33] * 14))
_PAL: dict[str, Any] = {"width": 720, "height": 576, "fps": 25, "frames": 25}


def av1_encoder() -> str | None:
    """The first AV1 encoder PyAV's FFmpeg has, None when it has none."""
    return next((name for name in AV1_ENCODERS if name in av.codecs_available), None)


def shapes() -> dict[str, Shape]:
    """The corpus by case name; the AV1 cases only where PyAV has an AV1 encoder."""
    x265 = "libx265"
    cases = {
        "hevc_8bit_mp4": Shape("hevc8.mp4", "mp4", x265, audio="aac"),
        # An iPhone's HDR clip: 10-bit HEVC, held upright (coded landscape, turned 90).
        "hevc_10bit_mp4": Shape(
            "hevc10.mp4", "mp4", x265, pix_fmt="yuv420p10le", audio="aac", rotation=90
        ),
        "hevc_8bit_mkv": Shape("hevc8.mkv", "matroska", x265, audio="libopus"),
        "hevc_10bit_mkv": Shape("hevc10.mkv", "matroska", x265, pix_fmt="yuv420p10le"),
        "fragmented_mp4": Shape(
            "fragmented.mp4", "mp4", "libx264", audio="aac", muxer_options=_FRAGMENTED_FLAGS
        ),
        "cmaf_video_track": Shape(
            "cmaf.mp4", "mp4", "libx264", frames=20, muxer_options=_CMAF_FLAGS
        ),
        "prores_mov": Shape(
            "prores.mov", "mov", "prores_ks", pix_fmt="yuv422p10le", audio="pcm_s16le"
        ),
        # A PAL DVD at 4:3 and a DVB recording at 16:9: both anamorphic 720x576, at
        # 25 fps (MPEG-2 knows no 10).
        "mpeg2_ps": Shape(
            "mpeg2.mpg", "vob", "mpeg2video", **_PAL, audio="mp2",
            sample_aspect_ratio=Fraction(16, 15),
        ),
        "mpeg2_ts": Shape(
            "mpeg2.ts", "mpegts", "mpeg2video", **_PAL, audio="mp2",
            sample_aspect_ratio=Fraction(64, 45),
        ),
        "vp9_alpha_webm": Shape(
            "alpha.webm", "webm", "libvpx-vp9", width=160, height=120, pix_fmt="yuva420p"
        ),
        # AVCHD: a camcorder's 1080i H.264 with AC-3 in a Blu-ray transport stream.
        "h264_1080i_m2ts": Shape(
            "camcorder.m2ts", "mpegts", "libx264", width=1920, height=1080, fps=25,
            frames=25, audio="ac3", options=_X264_INTERLACED,
            muxer_options={"mpegts_m2ts_mode": "1"},  # 192-byte packets, as Blu-ray's
        ),
        "variable_frame_rate": Shape(
            "vfr.mp4", "mp4", "libx264", fps=30, frames=40, audio="aac", pts_ms=_VFR_MS
        ),
        "one_frame": Shape("one-frame.mp4", "mp4", "libx264", frames=1),
        # A time-lapse or surveillance recording: two hours at one frame a second.
        "two_hours_1fps": Shape(
            "two-hours.mp4", "mp4", "libx264", width=160, height=90, fps=1, frames=7200
        ),
        # A camera's or an editor's mov: FFmpeg writes a `tmcd` track for this tag.
        "timecode_mov": Shape(
            "timecode.mov", "mov", "libx264", fps=25, frames=25, audio="aac",
            metadata={"timecode": "01:00:00:00"},
        ),
    }  # fmt: skip
    encoder = av1_encoder()
    if encoder is not None:
        cases["av1_mp4"] = Shape("av1.mp4", "mp4", encoder, audio="libopus")
        cases["av1_webm"] = Shape("av1.webm", "webm", encoder, audio="libopus")
    return cases


def make_extended_corpus(directory: Path) -> dict[str, Path]:
    """Write every shape into `directory`; the paths by case name."""
    directory.mkdir(parents=True, exist_ok=True)
    return {case: write_shape(directory / shape.name, shape) for case, shape in shapes().items()}


def write_shape(path: Path, shape: Shape) -> Path:
    """Encode one shape into `path`."""
    options = {**_ENCODER_OPTIONS.get(shape.encoder, {}), **shape.options}
    with av.open(os.fspath(path), "w", format=shape.muxer, options=shape.muxer_options) as out:
        out.metadata.update(shape.metadata)
        video: av.video.VideoStream = out.add_stream(  # type: ignore[assignment]
            shape.encoder, rate=shape.fps, options=options
        )
        video.width, video.height, video.pix_fmt = shape.width, shape.height, shape.pix_fmt
        if shape.encoder == "libx265" and shape.muxer == "mp4":
            video.codec_tag = _HVC1
        if shape.sample_aspect_ratio is not None:
            video.codec_context.sample_aspect_ratio = shape.sample_aspect_ratio
        if shape.rotation:
            video.set_display_rotation(-shape.rotation)  # FFmpeg's angle is counter-clockwise
        if shape.pts_ms is not None:
            video.time_base = video.codec_context.time_base = Fraction(1, 1000)
        sound = _add_audio(out, shape.audio) if shape.audio else None
        for frame in _frames(shape):
            encode(out, video, frame)
        encode(out, video, None)
        if sound is not None:
            write_silence(out, sound, shape.seconds)
    return path


def _add_audio(out: av.container.OutputContainer, encoder: str) -> av.audio.AudioStream:
    return out.add_stream(encoder, rate=AUDIO_RATE, layout="mono")  # type: ignore[return-value]


def _frames(shape: Shape) -> Iterator[av.VideoFrame]:
    """Flat grey frames, timed 1/fps apart or at `pts_ms`; one buffer reused, as x264 copies."""
    picture = flat_frame(shape.width, shape.height, shape.pix_fmt, luma=128)
    for index in range(shape.frames):
        if shape.pts_ms is not None:
            picture.pts, picture.time_base = shape.pts_ms[index], Fraction(1, 1000)
        else:
            picture.pts = index
        yield picture


def flat_frame(width: int, height: int, pix_fmt: str, *, luma: int) -> av.VideoFrame:
    """A frame of one grey level (`luma` on 8 bits); chroma and alpha neutral and opaque."""
    frame = av.VideoFrame(width, height, pix_fmt)
    deep = "p10" in pix_fmt  # 10 bits in little-endian 16-bit words
    for index, plane in enumerate(frame.planes):
        level = luma if index == 0 else 255 if index == 3 else 128
        sample = (level << 2).to_bytes(2, "little") if deep else bytes([level])
        plane.update(sample * (plane.buffer_size // len(sample)))
    return frame


# --- files that start far from zero, for the thumbnail's seek --------------------------


def make_offset_clip(
    path: Path, *, muxer: str, start_seconds: int, seconds: int = 10, fps: int = 10
) -> Path:
    """An H.264 clip whose timestamps start at `start_seconds` (FFmpeg's -output_ts_offset).

    What a stream cut from a recording looks like. Each second has its own grey level,
    `second_luma(n)`, and a keyframe, so a thumbnail tells which second it was taken at.
    """
    options = {**_ENCODER_OPTIONS["libx264"], "g": str(fps)}
    with av.open(
        os.fspath(path), "w", format=muxer, options={"output_ts_offset": str(start_seconds)}
    ) as out:
        video = out.add_stream("libx264", rate=fps, options=options)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        sound = _add_audio(out, "aac")
        for index in range(seconds * fps):
            frame = flat_frame(320, 240, "yuv420p", luma=second_luma(index // fps))
            frame.pts = index
            encode(out, video, frame)
        encode(out, video, None)
        write_silence(out, sound, seconds)
    return path


def second_luma(second: int) -> int:
    """The grey level of second `second` of an offset clip: 20 levels apart, from 30."""
    return 30 + 20 * second
