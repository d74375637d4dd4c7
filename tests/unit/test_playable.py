"""Which files a browser plays (shared/media/playable.py), case by case; and If-Range."""

from __future__ import annotations

import pytest

from videolib.api.streaming import if_range_allows_range
from videolib.shared.media.playable import (
    MATROSKA_FAMILY,
    MP4_FAMILY,
    Playability,
    PlaybackFacts,
    browser_playability,
    content_type,
)

SILENT = "plays without sound: browsers do not decode {}"


def undecoded(codec: str, where: str) -> Playability:
    return Playability(False, f"browsers do not decode {codec} video in {where}")


@pytest.mark.parametrize(
    ("container", "video", "audio", "expected"),
    [
        # What Chromium 156 played (tests/admin/test_playback.py checks a sample of these).
        (MP4_FAMILY, "h264", "aac", Playability(True)),
        (MP4_FAMILY, "h264", None, Playability(True)),
        (MP4_FAMILY, "h264", "mp3", Playability(True)),
        (MP4_FAMILY, "h264", "opus", Playability(True)),
        (MP4_FAMILY, "av1", "aac", Playability(True)),
        (MP4_FAMILY, "vp9", "aac", Playability(True)),
        (MATROSKA_FAMILY, "vp8", "opus", Playability(True)),
        (MATROSKA_FAMILY, "vp9", "vorbis", Playability(True)),
        (MATROSKA_FAMILY, "av1", "opus", Playability(True)),
        (MATROSKA_FAMILY, "h264", "aac", Playability(True)),  # .mkv plays since Chromium ~M120
        # Picture without sound: still playable, and the page says what is missing.
        (MP4_FAMILY, "h264", "ac3", Playability(True, SILENT.format("ac3"))),
        (MATROSKA_FAMILY, "vp9", "dts", Playability(True, SILENT.format("dts"))),
        # Codecs Chromium does not decode (HEVC only with hardware support).
        (MP4_FAMILY, "hevc", "aac", undecoded("hevc", "mp4/mov")),
        (MP4_FAMILY, "prores", "pcm_s16le", undecoded("prores", "mp4/mov")),
        (MP4_FAMILY, "mpeg4", "aac", undecoded("mpeg4", "mp4/mov")),
        (MATROSKA_FAMILY, "mpeg2video", "mp2", undecoded("mpeg2video", "Matroska/WebM")),
        (MP4_FAMILY, "vp8", None, undecoded("vp8", "mp4/mov")),
        # Containers Chromium has no demuxer for, whatever is inside.
        ("avi", "h264", "mp3", Playability(False, "browsers do not read the avi container")),
        ("flv", "h264", "aac", Playability(False, "browsers do not read the flv container")),
        (None, "h264", "aac", Playability(False, "browsers do not read the unknown container")),
        (MP4_FAMILY, None, "aac", Playability(False, "no video stream")),
    ],
)  # fmt: skip
def test_browser_playability(
    container: str | None, video: str | None, audio: str | None, expected: Playability
) -> None:
    assert browser_playability(PlaybackFacts(container, video, audio)) == expected


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("a.mp4", "video/mp4"),
        ("A.M4V", "video/mp4"),
        ("a.mov", "video/quicktime"),
        ("a.webm", "video/webm"),
        ("a.mkv", "video/x-matroska"),
        ("a.avi", "video/x-msvideo"),
        ("a.flv", "video/x-flv"),
        ("noextension", "application/octet-stream"),
    ],
)
def test_content_type(filename: str, expected: str) -> None:
    assert content_type(filename) == expected


@pytest.mark.parametrize(
    ("if_range", "allows"),
    [
        ('"17a-2b"', True),  # the current tag
        ('"17a-2c"', False),  # another file's
        ('W/"17a-2b"', False),  # weak never matches for If-Range (RFC 9110 §13.1.5)
        ('"17a-2b", "x"', False),  # not a list: one tag only
    ],
)
def test_if_range_allows_range(if_range: str, allows: bool) -> None:
    assert if_range_allows_range(if_range, '"17a-2b"') is allows
