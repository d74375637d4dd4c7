"""Derived fields of a video: displayed size, orientation, quality, rounded duration.

Pure functions, the rules of SPEC "Data model"; tested with tables of cases.
"""

from __future__ import annotations

import math
from fractions import Fraction

# Ratio bounds of the seed's rule: within 10 % of 1:1 counts as square.
_LANDSCAPE_RATIO = 1.1
_PORTRAIT_RATIO = 0.9

# (minimum short side, label), highest first.
_QUALITY_STEPS: tuple[tuple[int, str], ...] = ((2160, "UHD"), (1080, "FHD"), (720, "HD"))


def normalise_rotation(degrees: float) -> int:
    """The rotation as 0, 90, 180 or 270: the nearest multiple of 90, wrapped."""
    quarter_turns = math.floor(degrees / 90 + 0.5)
    return (quarter_turns % 4) * 90


def displayed_size(
    coded_width: int,
    coded_height: int,
    rotation_degrees: float,
    sample_aspect: Fraction | None = None,
) -> tuple[int, int]:
    """The (width, height) a player shows: the width stretched by the sample aspect ratio,
    then swapped for a quarter turn either way.

    720x576 at SAR 64:45 shows as 1024x576. The height is kept and the width rounded to
    the nearest pixel, halves up, as players size their window (ffplay, mpv); not to an
    even number as FFmpeg's scale filter does, since nothing is encoded at this size.
    """
    width = stretched_width(coded_width, sample_aspect)
    if normalise_rotation(rotation_degrees) in (90, 270):
        return coded_height, width
    return width, coded_height


def stretched_width(coded_width: int, sample_aspect: Fraction | None) -> int:
    """The coded width times the sample aspect ratio; unchanged when it is unknown or 0."""
    if sample_aspect is None or sample_aspect <= 0:
        return coded_width
    return math.floor(coded_width * sample_aspect + Fraction(1, 2))


def orientation(width: int, height: int) -> str:
    """`landscape`, `portrait` or `square` from the displayed width/height ratio."""
    if height <= 0:
        return "square"  # no picture size known: no side is longer
    ratio = width / height
    if ratio > _LANDSCAPE_RATIO:
        return "landscape"
    if ratio < _PORTRAIT_RATIO:
        return "portrait"
    return "square"


def quality(width: int, height: int) -> str:
    """`SD`, `HD`, `FHD` or `UHD` from the short side, so a 720x1280 portrait clip is HD."""
    short_side = min(width, height)
    for minimum, label in _QUALITY_STEPS:
        if short_side >= minimum:
            return label
    return "SD"


def rounded_duration(seconds: float | None) -> int | None:
    """Seconds rounded to the nearest whole second, halves up (2.5 -> 3, not Python's 2)."""
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return None
    return math.floor(seconds + 0.5)
