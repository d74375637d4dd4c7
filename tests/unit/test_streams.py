"""streams.py: which video stream describes a file and how long its content runs."""

from __future__ import annotations

import pytest

from videolib.shared.media.streams import (
    MATROSKA,
    Span,
    VideoCandidate,
    choose_video,
    content_duration,
    duration_to_packet_end,
)

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"


def _video(
    index: int,
    width: int = 320,
    height: int = 240,
    *,
    default: bool = False,
    cover: bool = False,
    bit_rate: int | None = None,
) -> VideoCandidate:
    return VideoCandidate(index, width, height, default, cover, bit_rate)


@pytest.mark.parametrize(
    ("candidates", "chosen"),
    [
        ([], None),
        ([_video(0, 600, 600, cover=True)], None),  # a cover alone is not a video
        ([_video(0)], 0),
        # The default wins, wherever it is and however small.
        ([_video(0, 1920, 1080), _video(1, 320, 240, default=True)], 1),
        ([_video(0, default=True), _video(1, 1920, 1080)], 0),
        # Cover art never, first or last, default or larger.
        ([_video(0, 600, 600, cover=True, default=True), _video(1)], 1),
        ([_video(0), _video(1, 3000, 3000, cover=True)], 0),
        # No default: the most pixels, then the higher bitrate, then the first.
        ([_video(0, 160, 120), _video(1, 320, 240)], 1),
        ([_video(0, bit_rate=1000), _video(1, bit_rate=5000)], 1),
        ([_video(0, bit_rate=None), _video(1, bit_rate=1)], 1),
        ([_video(0), _video(1)], 0),
        # Two defaults (mp4: every enabled track): the larger of them.
        ([_video(0, 160, 120, default=True), _video(1, 640, 480, default=True)], 1),
        ([_video(0, 640, 480, default=True), _video(1, 160, 120, default=True)], 0),
    ],
)
def test_choose_video(candidates: list[VideoCandidate], chosen: int | None) -> None:
    found = choose_video(candidates)
    assert (found.index if found else None) == chosen


@pytest.mark.parametrize(
    ("container", "start", "header", "spans", "expected"),
    [
        # Ordinary: from zero, the streams' spans and the header agree.
        (MP4, 0.0, 12.5, [Span(0.0, 12.5), Span(0.0, 12.48)], 12.5),
        # mp4 at -output_ts_offset 3600: ffprobe 5.1's header says 3602, the stream 2.
        (MP4, 3600.0, 3602.0, [Span(3600.0, 2.0)], 2.0),
        (MP4, 3600.0, 2.0, [Span(3600.0, 2.0)], 2.0),  # FFmpeg 8's header
        # mpeg-ts cut from a recording: audio starts before video, ends after.
        ("mpegts", 3601.4, 2.0, [Span(3601.4, 2.0), Span(3601.3, 2.2)], 2.2),
        # A stream without a start of its own starts with the container.
        (MP4, None, None, [Span(None, 2.6)], 2.6),
        # Matroska: no stream durations, Duration is where the segment ends.
        (MATROSKA, 3600.0, 3602.0, [Span(3600.0, None)], 2.0),
        (MATROSKA, 0.0, 5.0, [Span(0.0, None)], 5.0),
        (MATROSKA, -0.007, 5.0, [Span(-0.007, None)], 5.0),  # Opus pre-skip: not a lead
        # flv: the header's onMetaData duration is the length already.
        ("flv", 3600.0, 2.0, [Span(3600.0, None)], 2.0),
        # Nothing known (a live WebM): the caller reads the last packet.
        (MATROSKA, 0.0, None, [Span(0.0, None)], None),
        # A zero duration is not known.
        ("avi", 0.0, 4.0, [Span(0.0, 0.0)], 4.0),
    ],
)
def test_content_duration(
    container: str,
    start: float | None,
    header: float | None,
    spans: list[Span],
    expected: float | None,
) -> None:
    found = content_duration(container, start, header, spans)
    assert found == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0.0, 3.0, 3.0),
        (None, 3.0, 3.0),
        (-0.007, 620.074, 620.081),  # Opus pre-skip before zero
        (3600.0, 3602.0, 2.0),
        (0.0, None, None),  # no packet had a time
        (5.0, 4.0, 0.0),  # never negative
    ],
)
def test_duration_to_packet_end(
    start: float | None, end: float | None, expected: float | None
) -> None:
    found = duration_to_packet_end(start, end)
    assert found == (None if expected is None else pytest.approx(expected))
