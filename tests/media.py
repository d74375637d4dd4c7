"""Generate real video files with PyAV, so that no binary fixture lives in git.

Small and fast: tiny pictures, few frames, blank content unless `noise` is asked for.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import av
import numpy as np

from videolib.shared.demo import AUDIO_RATE, encode, write_silence

# Audio codec per container: what each muxer accepts.
_AUDIO_CODEC = {".webm": "libopus", ".avi": "libmp3lame"}
# Encoder options that keep generation fast; libvpx is slow at its default settings.
_VIDEO_OPTIONS = {
    "h264": {"preset": "ultrafast"},
    "vp9": {"deadline": "realtime", "cpu-used": "8"},
}


def make_video(
    path: Path,
    *,
    width: int = 320,
    height: int = 240,
    seconds: float = 1.0,
    fps: int = 10,
    codec: str = "h264",
    audio: bool = True,
    rotation: int = 0,
    noise: bool = False,
) -> Path:
    """Write a video; the container is the suffix's. `rotation` is clockwise degrees.

    The rotation is written as a display matrix (mp4, mov, m4v, mkv), which ffprobe and
    PyAV both read back; FFmpeg's matrix angle is counter-clockwise, hence the minus.
    `noise` fills frames with random bytes, for files of a realistic size.
    """
    frames = max(1, round(seconds * fps))
    with av.open(os.fspath(path), "w", format=_muxer_for(path)) as container:
        video: av.video.VideoStream = container.add_stream(  # type: ignore[assignment]
            codec, rate=fps, options=_VIDEO_OPTIONS.get(codec, {})
        )
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if rotation:
            video.set_display_rotation(-rotation)
        sound = _add_audio(container, path) if audio else None
        for index in range(frames):
            encode(container, video, _picture(width, height, index, noise))
        if sound is not None:
            write_silence(container, sound, frames / fps)
        encode(container, video, None)
    return path


def _muxer_for(path: Path) -> str:
    """The FFmpeg muxer name for a file suffix, in any letter case."""
    suffix = path.suffix.lower()
    return {".mkv": "matroska", ".m4v": "mp4"}.get(suffix, suffix.lstrip("."))


def _add_audio(container: av.container.OutputContainer, path: Path) -> av.audio.AudioStream:
    """A mono audio stream of the codec the container accepts."""
    codec = _AUDIO_CODEC.get(path.suffix.lower(), "aac")
    return container.add_stream(codec, rate=AUDIO_RATE, layout="mono")  # type: ignore[return-value]


def _picture(width: int, height: int, index: int, noise: bool) -> av.VideoFrame:
    """One frame: grey (or noise) with its index as timestamp."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(os.urandom(plane.buffer_size) if noise else bytes([128]) * plane.buffer_size)
    frame.pts = index
    return frame


def make_corpus(directory: Path) -> dict[str, Path]:
    """A set of small videos covering the classification rules, by case name."""
    directory.mkdir(parents=True, exist_ok=True)
    cases: dict[str, tuple[str, dict[str, object]]] = {
        "landscape_fhd": ("landscape_fhd.mp4", {"width": 1920, "height": 1080, "fps": 2}),
        "phone_rotated": (
            "phone.mp4",
            {"width": 1920, "height": 1080, "fps": 2, "rotation": 90},
        ),
        "square": ("square.mp4", {"width": 480, "height": 480}),
        "sd": ("sd.mp4", {"width": 640, "height": 480}),
        "hd": ("hd.mp4", {"width": 1280, "height": 720, "fps": 2}),
        "portrait_hd": ("portrait_hd.mp4", {"width": 720, "height": 1280, "fps": 2}),
        "uhd": ("uhd.mp4", {"width": 3840, "height": 2160, "seconds": 1.0, "fps": 1}),
        "no_audio": ("silent.mp4", {"audio": False}),
        "short_2_4": ("short.mp4", {"seconds": 2.4, "audio": False}),
        "long_2_6": ("long.mp4", {"seconds": 2.6, "audio": False}),
        "mkv": ("clip.mkv", {}),
        "webm_vp9": ("clip.webm", {"codec": "vp9", "width": 160, "height": 120}),
        "mov": ("clip.mov", {}),
        "flv": ("clip.flv", {}),
        "avi_mpeg4": ("clip.avi", {"codec": "mpeg4"}),
        "m4v": ("clip.m4v", {}),
        "uppercase": ("UPPER.MP4", {}),
    }
    return {
        case: make_video(directory / name, **options)  # type: ignore[arg-type]
        for case, (name, options) in cases.items()
    }


def make_truncated_mp4(path: Path) -> Path:
    """An mp4 cut in its first third: the index (moov, written last) is lost."""
    whole = make_video(path.with_name(f"whole-{path.name}"), noise=True)
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[: len(data) // 3])
    return path


def make_text_file_named(path: Path) -> Path:
    """A text file under a video name (e.g. notes.mkv)."""
    path.write_text("not a video, just text under a video name\n" * 20)
    return path


def make_empty_file(path: Path) -> Path:
    """A zero-byte file under a video name."""
    path.write_bytes(b"")
    return path


def make_scene_video(
    path: Path,
    *,
    seed: int,
    seconds: int = 12,
    width: int = 320,
    height: int = 180,
    fps: int = 5,
    skip_seconds: float = 0.0,
    mirrored: bool = False,
    black_intro: int = 0,
    keyframe_every: int | None = None,
) -> Path:
    """A scene of discs moving over a colour ramp, different for every `seed`.

    For near-duplicate tests: the same seed gives the same pictures, from `skip_seconds`
    on (a trimmed copy), left to right when `mirrored`, after `black_intro` black seconds;
    a keyframe every `keyframe_every` frames exactly (a web encode's GOP) when given.
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    first, second = rng.integers(0, 256, size=(2, 3))
    ramp = (xs / width)[..., None]
    field = (first * (1 - ramp) + second * ramp).astype(np.uint8)
    # In shares of the picture's width and height, so that a copy of another size shows
    # the same scene: (x, y, dx and dy per second, diameter, colour).
    shapes = [
        (
            *rng.uniform(0, 1, size=2),
            *rng.uniform(-0.06, 0.06, size=2),
            rng.uniform(0.1, 0.3),
            rng.integers(0, 256, size=3),
        )
        for _ in range(5)
    ]
    black = np.zeros((height, width, 3), dtype=np.uint8)
    with av.open(os.fspath(path), "w", format=_muxer_for(path)) as container:
        options = dict(_VIDEO_OPTIONS["h264"])
        if keyframe_every:
            options |= {"g": str(keyframe_every), "keyint_min": str(keyframe_every)}
            options["sc_threshold"] = "0"  # no keyframe at a scene cut either
        video: av.video.VideoStream = container.add_stream("h264", rate=fps, options=options)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        intro = [black] * (black_intro * fps)
        start = round(skip_seconds * fps)
        scene = (
            _scene(field, shapes, index / fps, xs, ys) for index in range(start, seconds * fps)
        )
        for index, picture in enumerate(itertools.chain(intro, scene)):
            rgb = np.ascontiguousarray(picture[:, ::-1] if mirrored else picture)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            encode(container, video, frame)
        encode(container, video, None)
    return path


def _scene(
    field: np.ndarray, shapes: list[tuple[Any, ...]], when: float, xs: np.ndarray, ys: np.ndarray
) -> np.ndarray:
    picture = field.copy()
    height, width = field.shape[:2]
    for x, y, dx, dy, size, colour in shapes:
        cx, cy = (x + dx * when) % 1 * width, (y + dy * when) % 1 * height
        picture[((xs - cx) / width) ** 2 + ((ys - cy) / width) ** 2 <= size**2 / 4] = colour
    return picture
