"""The frame grab's pure decisions: where to seek."""

from __future__ import annotations

import pytest

from videolib.shared.media.frames import seek_seconds


@pytest.mark.parametrize(
    ("start", "duration", "share", "expected"),
    [
        (0.0, 10.0, 0.1, 1.0),
        (3600.0, 2.0, 0.1, 3600.2),  # an FLV or TS cut from a recording
        (1.4, 10.0, 0.1, 2.4),  # an mpegts muxer's usual 1.4 s
        (0.0, 0.0, 0.1, 0.0),  # no duration known: the first frame
        (5.0, -1.0, 0.1, 5.0),  # nonsense from a header: never before the start
    ],
)
def test_seek_is_counted_from_the_start(
    start: float, duration: float, share: float, expected: float
) -> None:
    assert seek_seconds(start, duration, share) == pytest.approx(expected)
