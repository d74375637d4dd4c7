"""classify.py: the derived fields of SPEC "Data model"."""

from __future__ import annotations

from fractions import Fraction

import pytest

from videolib.shared.media.classify import (
    displayed_size,
    normalise_rotation,
    orientation,
    quality,
    rounded_duration,
)


@pytest.mark.parametrize(
    ("degrees", "expected"),
    [
        (0, 0),
        (90, 90),
        (180, 180),
        (270, 270),
        (360, 0),
        (450, 90),
        (-90, 270),
        (-180, 180),
        (-270, 90),
        (89.6, 90),
        (-89.9, 270),
        (44, 0),
        (46, 90),
        (315.5, 0),
    ],
)
def test_normalise_rotation(degrees: float, expected: int) -> None:
    assert normalise_rotation(degrees) == expected


@pytest.mark.parametrize(
    ("rotation", "expected"),
    [
        (0, (1920, 1080)),
        (90, (1080, 1920)),
        (-90, (1080, 1920)),
        (180, (1920, 1080)),
        (270, (1080, 1920)),
        (450, (1080, 1920)),
        (-180, (1920, 1080)),
    ],
)
def test_displayed_size(rotation: int, expected: tuple[int, int]) -> None:
    assert displayed_size(1920, 1080, rotation) == expected


@pytest.mark.parametrize(
    ("coded", "sample_aspect", "rotation", "expected"),
    [
        ((720, 576), Fraction(64, 45), 0, (1024, 576)),  # PAL 16:9
        ((720, 576), Fraction(16, 15), 0, (768, 576)),  # PAL 4:3
        ((720, 480), Fraction(8, 9), 0, (640, 480)),  # NTSC 4:3: narrower pixels
        ((720, 480), Fraction(32, 27), 0, (853, 480)),  # 853.33: nearest, not even
        ((1440, 1080), Fraction(4, 3), 0, (1920, 1080)),  # HDV
        ((3, 2), Fraction(1, 2), 0, (2, 2)),  # 1.5: halves go up
        ((720, 576), Fraction(64, 45), 90, (576, 1024)),  # stretched, then turned
        ((720, 576), Fraction(1, 1), 0, (720, 576)),
        ((720, 576), None, 0, (720, 576)),  # unknown: square pixels
        ((720, 576), Fraction(0, 1), 0, (720, 576)),  # FFmpeg's "unknown"
    ],
)
def test_displayed_size_applies_the_sample_aspect_ratio(
    coded: tuple[int, int],
    sample_aspect: Fraction | None,
    rotation: int,
    expected: tuple[int, int],
) -> None:
    assert displayed_size(*coded, rotation, sample_aspect) == expected


@pytest.mark.parametrize(
    ("coded", "sample_aspect", "expected_orientation", "expected_quality"),
    [
        # 960x720 coded, 4:3 pixels: shown 1280x720, landscape HD.
        ((960, 720), Fraction(4, 3), "landscape", "HD"),
        # Coded square, shown wide: orientation follows the displayed size.
        ((720, 720), Fraction(16, 9), "landscape", "HD"),
    ],
)
def test_orientation_and_quality_follow_the_displayed_size(
    coded: tuple[int, int],
    sample_aspect: Fraction,
    expected_orientation: str,
    expected_quality: str,
) -> None:
    width, height = displayed_size(*coded, 0, sample_aspect)
    assert (orientation(width, height), quality(width, height)) == (
        expected_orientation,
        expected_quality,
    )


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1920, 1080, "landscape"),
        (1080, 1920, "portrait"),
        (1000, 1000, "square"),
        (1100, 1000, "square"),  # exactly 1.1 is not above it
        (1101, 1000, "landscape"),
        (900, 1000, "square"),  # exactly 0.9 is not below it
        (899, 1000, "portrait"),
        (0, 0, "square"),
    ],
)
def test_orientation(width: int, height: int, expected: str) -> None:
    assert orientation(width, height) == expected


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (640, 480, "SD"),
        (1280, 719, "SD"),
        (1280, 720, "HD"),
        (720, 1280, "HD"),  # portrait: the short side decides
        (1920, 1079, "HD"),
        (1920, 1080, "FHD"),
        (1080, 1920, "FHD"),
        (3840, 2159, "FHD"),
        (3840, 2160, "UHD"),
        (2160, 3840, "UHD"),
        (7680, 4320, "UHD"),
    ],
)
def test_quality(width: int, height: int, expected: str) -> None:
    assert quality(width, height) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, None),
        (0.0, 0),
        (0.4, 0),
        (0.5, 1),
        (2.4, 2),
        (2.5, 3),  # halves up, not banker's rounding (round(2.5) == 2)
        (2.6, 3),
        (3.5, 4),
        (59.999, 60),
        (float("nan"), None),
    ],
)
def test_rounded_duration(seconds: float | None, expected: int | None) -> None:
    assert rounded_duration(seconds) == expected
