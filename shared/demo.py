"""A demo library: a dozen small generated clips of varied shapes (`videolib run --demo`).

So that a newcomer's first page shows something: a phone clip (portrait by its rotation),
4K, square, portrait HD, no audio, other containers, one corrupt file and one duplicate
pair. Generated with PyAV (the default probe backend's library), a second or two in all:
tiny durations, one or two frames a second, a 4K clip of two frames. Each clip is written
under a hidden name and renamed into place, so the daemon sees whole files only; a clip
already there is left alone, so a second `--demo` adds nothing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import av

from videolib.shared.library import Library

AUDIO_RATE = 48000
_AUDIO_CODEC = {".webm": "libopus"}
_VIDEO_OPTIONS = {"h264": {"preset": "ultrafast"}, "vp9": {"deadline": "realtime", "cpu-used": "8"}}


@dataclass(frozen=True)
class DemoClip:
    """One clip of the demo library, at a library-relative path."""

    path: str
    width: int = 640
    height: int = 360
    frames: int = 4
    fps: int = 2
    codec: str = "h264"
    audio: bool = True
    #: Clockwise degrees, as a phone records portrait: coded landscape, shown portrait.
    rotation: int = 0
    #: (Y, U, V) of the picture, so that the thumbnails tell the clips apart.
    colour: tuple[int, int, int] = (128, 128, 128)
    #: Cut to a third of its bytes: its index (written last) is lost.
    corrupt: bool = False
    #: A byte-for-byte copy of the clip at this path (a duplicate pair).
    copy_of: str | None = None


DEMO_CLIPS: tuple[DemoClip, ...] = (
    DemoClip("studios/harbour-at-dawn.mp4", 1920, 1080, colour=(150, 112, 140)),
    DemoClip("videos/phone-clip.mp4", 1920, 1080, rotation=90, colour=(170, 136, 108)),
    DemoClip("highlights/aerial-4k.mp4", 3840, 2160, frames=2, colour=(110, 144, 116)),
    DemoClip("curated/square-loop.mp4", 720, 720, colour=(90, 116, 156)),
    DemoClip("videos/portrait-story.mp4", 720, 1280, colour=(200, 120, 132)),
    DemoClip("gifs/silent-loop.mp4", 480, 270, audio=False, colour=(60, 156, 124)),
    DemoClip("playback/interview.mkv", 1280, 720, colour=(120, 108, 120)),
    DemoClip("compilations/reel.webm", 320, 180, codec="vp9", colour=(180, 100, 148)),
    DemoClip("private/archive.mov", 640, 480, audio=False, colour=(80, 128, 128)),
    DemoClip("videos/broken-upload.mp4", 640, 360, frames=8, corrupt=True),
    DemoClip("studios/rooftop-take.mp4", 1280, 720, colour=(140, 104, 112)),
    DemoClip("videos/rooftop-take-copy.mp4", copy_of="studios/rooftop-take.mp4"),
)


def add_demo_clips(library: Library, clips: tuple[DemoClip, ...] = DEMO_CLIPS) -> list[str]:
    """Write the clips that are not in the library yet; return their paths."""
    added = []
    for clip in clips:
        destination = library.absolute(clip.path)
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        hidden = destination.with_name(f".{destination.name}.demo")  # ignored by the daemon
        if clip.copy_of is not None:
            shutil.copyfile(library.absolute(clip.copy_of), hidden)
        else:
            write_clip(hidden, clip)
        os.replace(hidden, destination)
        added.append(clip.path)
    return added


def write_clip(path: Path, clip: DemoClip) -> None:
    """Encode `clip` into `path` (the container of the clip's own suffix)."""
    suffix = Path(clip.path).suffix.lower()
    muxer = {".mkv": "matroska"}.get(suffix, suffix.lstrip("."))
    with av.open(os.fspath(path), "w", format=muxer) as container:
        video: av.video.VideoStream = container.add_stream(  # type: ignore[assignment]
            clip.codec, rate=clip.fps, options=_VIDEO_OPTIONS.get(clip.codec, {})
        )
        video.width, video.height, video.pix_fmt = clip.width, clip.height, "yuv420p"
        if clip.rotation:
            video.set_display_rotation(-clip.rotation)  # FFmpeg's angle is counter-clockwise
        sound: av.audio.AudioStream | None = None
        if clip.audio:  # every stream before the first packet: the header is written then
            sound = container.add_stream(  # type: ignore[assignment]
                _AUDIO_CODEC.get(suffix, "aac"), rate=AUDIO_RATE, layout="mono"
            )
        for index in range(clip.frames):
            encode(container, video, _picture(clip, index))
        encode(container, video, None)
        if sound is not None:
            write_silence(container, sound, clip.frames / clip.fps)
    if clip.corrupt:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])


def _picture(clip: DemoClip, index: int) -> av.VideoFrame:
    """The clip's colour with a lighter band that moves down a little each frame."""
    frame = av.VideoFrame(clip.width, clip.height, "yuv420p")
    luma, blue, red = clip.colour
    y_plane, u_plane, v_plane = frame.planes
    band_top = (clip.height // 3 + index * clip.height // 12) % clip.height
    band = range(band_top, band_top + clip.height // 6)
    rows = [
        bytes([min(235, luma + 70) if row in band else luma]) * y_plane.line_size
        for row in range(y_plane.height)
    ]
    y_plane.update(b"".join(rows))
    u_plane.update(bytes([blue]) * u_plane.buffer_size)
    v_plane.update(bytes([red]) * v_plane.buffer_size)
    frame.pts = index
    return frame


def write_silence(
    container: av.container.OutputContainer, stream: av.audio.AudioStream, seconds: float
) -> None:
    """Silence for `seconds`, in frames of the encoder's size."""
    context = stream.codec_context
    per_frame = context.frame_size or 1024
    total = int(seconds * AUDIO_RATE)
    for start in range(0, total, per_frame):
        frame = av.AudioFrame(
            format=context.format.name, layout="mono", samples=min(per_frame, total - start)
        )
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        encode(container, stream, frame)
    encode(container, stream, None)


def encode(
    container: av.container.OutputContainer,
    stream: av.video.VideoStream | av.audio.AudioStream,
    frame: av.VideoFrame | av.AudioFrame | None,
) -> None:
    """Encode a frame (None flushes) and write its packets."""
    for packet in stream.encode(frame):  # type: ignore[arg-type]
        container.mux(packet)
