"""The frame grab's pure decisions: where to seek, and the thumbnail's size."""

from __future__ import annotations

from fractions import Fraction

import pytest

from videolib.shared.media.frames import seek_seconds, thumbnail_size


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


@pytest.mark.parametrize(
    ("coded", "sar", "rotation", "width", "expected"),
    [
        ((320, 240), None, 0, 160, (160, 120)),
        ((1920, 1080), Fraction(1), 0, 320, (320, 180)),
        ((640, 360), None, 90, 320, (320, 568)),  # as FFmpeg's scale=320:-2 rounds 568.9
        ((640, 360), None, 270, 320, (320, 568)),
        ((640, 360), None, 180, 320, (320, 180)),
        ((720, 576), Fraction(16, 15), 0, 160, (160, 120)),  # a 4:3 DVD is 768x576
        ((720, 576), Fraction(64, 45), 0, 160, (160, 90)),  # a 16:9 DVB recording
        ((1440, 1080), Fraction(4, 3), 0, 320, (320, 180)),  # HDV
        ((720, 576), Fraction(64, 45), 90, 160, (160, 284)),  # turned after it is widened
        ((100, 2), None, 0, 160, (160, 4)),  # 3.2 rounds to the even 4
        ((4000, 10), None, 0, 160, (160, 2)),  # never less than one chroma row
    ],
)
def test_thumbnail_size_is_the_shown_shape(
    coded: tuple[int, int],
    sar: Fraction | None,
    rotation: int,
    width: int,
    expected: tuple[int, int],
) -> None:
    assert thumbnail_size(coded, sar, rotation, width) == expected
