"""Which video stream describes a file, and how long its content runs (pure).

Both probe backends read the same per-stream facts (the fields of FFmpeg's AVStream and
AVCodecParameters) and leave the choices to these functions, so that the defaults of
Debian's ffprobe 5.1 and PyAV's bundled FFmpeg 8 cannot leak into the metadata. Where the
two read a fact differently (an mp4's format duration counts an initial empty edit in 5.1
and not in 8), the rule here does not use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# FFmpeg's demuxer name for Matroska and WebM.
MATROSKA = "matroska,webm"


@dataclass(frozen=True, slots=True)
class VideoCandidate:
    """One video stream as read from the container, before the choice."""

    index: int
    width: int  # coded
    height: int
    default: bool  # the default disposition; mp4's tkhd "enabled" flag reads as default
    attached_pic: bool  # cover art: a picture, not the video
    bit_rate: int | None


@dataclass(frozen=True, slots=True)
class Span:
    """When an audio or video stream starts and how long it runs, in seconds."""

    start: float | None
    duration: float | None


def choose_video(candidates: Sequence[VideoCandidate]) -> VideoCandidate | None:
    """The stream that describes the file: default first, then most pixels, then bitrate.

    Cover art is never chosen, wherever it sits (mp4 `covr` and Matroska attachments read
    as attached pictures). Ties go to the first stream, as a player picks.
    """
    pictures = [c for c in candidates if not c.attached_pic]
    if not pictures:
        return None
    return max(
        pictures,
        key=lambda c: (c.default, c.width * c.height, c.bit_rate or 0, -c.index),
    )


def content_duration(
    container: str | None,
    header_start: float | None,
    header_duration: float | None,
    spans: Sequence[Span],
) -> float | None:
    """Seconds from the first timestamp to the end, whatever the first timestamp is.

    From the streams' own start and duration when they have them (mp4, mpeg-ts, avi): the
    last end minus the first start, so a clip cut at 3600 s of a recording is its length,
    not 3600 s more. Otherwise the container's duration; Matroska's counts segment ticks
    from zero (its Duration element is where the segment ends, FFmpeg reads it as is), so
    the start is taken off. None when nothing says: the caller reads the last packet.
    """
    # A stream without a start of its own starts with the container.
    fallback_start = header_start or 0.0
    known = [
        (fallback_start if s.start is None else s.start, s.duration)
        for s in spans
        if s.duration is not None and s.duration > 0
    ]
    if known:
        return max(start + duration for start, duration in known) - min(s for s, _ in known)
    if header_duration is None:
        return None
    if container == MATROSKA and header_start is not None and header_start > 0:
        return max(0.0, header_duration - header_start)
    return header_duration


def duration_to_packet_end(header_start: float | None, packet_end: float | None) -> float | None:
    """The duration of a file whose header has none: from its start to its last packet's end."""
    if packet_end is None:
        return None
    return max(0.0, packet_end - (header_start or 0.0))
