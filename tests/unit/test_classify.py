"""classify.py: the derived fields of SPEC "Data model"."""

from __future__ import annotations

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
