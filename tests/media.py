"""Generate real video files with PyAV, so that no binary fixture lives in git.

Small and fast: tiny pictures, few frames, blank content unless `noise` is asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

import av

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
