"""Which files a browser plays, and the Content-Type to serve them with (pure).

The table is what Debian's Chromium 156 (the admin page's test browser) was seen to play on
generated files: `video.play()` advancing `currentTime` with decoded video bytes, served
over HTTP with the Content-Type below (tests/admin/test_playback.py holds it to that).
Chromium ships FFmpeg's demuxers for mp4/mov and Matroska/WebM only, so AVI and FLV never
play whatever their codecs; HEVC decodes only with hardware support, which a headless
server-side browser and most desktops without a GPU driver lack, so it counts as unplayable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: FFmpeg's demuxer names for the two container families a browser reads.
MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
MATROSKA_FAMILY = "matroska,webm"

#: Video codecs (FFmpeg canonical names) whose pictures Chromium decodes, per container.
_VIDEO = {
    MP4_FAMILY: frozenset({"h264", "vp9", "av1"}),
    MATROSKA_FAMILY: frozenset({"h264", "vp8", "vp9", "av1"}),
}
#: Audio codecs Chromium decodes, per container; another one plays the picture in silence.
_AUDIO = {
    MP4_FAMILY: frozenset({"aac", "mp3", "opus", "flac", "pcm_s16le", "pcm_s16be"}),
    MATROSKA_FAMILY: frozenset({"aac", "mp3", "opus", "vorbis", "flac"}),
}

#: Content-Type per file extension (names.VIDEO_EXTENSIONS). Python's mimetypes would do
#: for most, but depends on the host's /etc/mime.types; this is the same on every host.
_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".flv": "video/x-flv",
}


@dataclass(frozen=True, slots=True)
class PlaybackFacts:
    """What decides whether a browser plays a file: its container and codecs."""

    container: str | None  # FFmpeg demuxer name, e.g. "matroska,webm"
    video_codec: str | None  # FFmpeg canonical codec name, e.g. "h264"; None: no picture
    audio_codec: str | None  # the first audio stream's codec; None: no sound


@dataclass(frozen=True, slots=True)
class Playability:
    """Whether the page can show the file in a <video>, and what is missing if not."""

    playable: bool
    #: Why it does not play, or what part of it does not (sound), for the admin to read.
    reason: str | None = None


def browser_playability(facts: PlaybackFacts) -> Playability:
    """Whether Chromium plays a file with these container and codecs."""
    container = facts.container or "unknown"
    videos = _VIDEO.get(container)
    if videos is None:
        return Playability(False, f"browsers do not read the {_short(container)} container")
    if facts.video_codec is None:
        return Playability(False, "no video stream")
    if facts.video_codec not in videos:
        where = _short(container)
        return Playability(False, f"browsers do not decode {facts.video_codec} video in {where}")
    if facts.audio_codec is not None and facts.audio_codec not in _AUDIO[container]:
        # The picture plays, which is what choosing between two copies needs.
        return Playability(True, f"plays without sound: browsers do not decode {facts.audio_codec}")
    return Playability(True)


def content_type(filename: str) -> str:
    """The Content-Type of a library file, from its extension."""
    extension = os.path.splitext(filename)[1].lower()
    return _CONTENT_TYPES.get(extension, "application/octet-stream")


def _short(container: str) -> str:
    """A readable container name: FFmpeg lists every alias ("mov,mp4,m4a,...")."""
    return {MP4_FAMILY: "mp4/mov", MATROSKA_FAMILY: "Matroska/WebM"}.get(container, container)
