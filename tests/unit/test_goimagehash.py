"""The goimagehash port gives goimagehash's own hashes, bit for bit.

The expected values were computed by goimagehash v1.1.0 itself (`PerceptionHash`, with
nfnt/resize at the version its go.mod names), from PNG files of exactly these pictures:
bench/stash_reference/ is the Go program, and its README the steps. The pictures are made
from closed-form integer formulas, so that no binary fixture lives in git.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from videolib.shared.media import goimagehash
from videolib.shared.media.goimagehash import RGB


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    return y, x


def gradient() -> RGB:
    """A Stash-sized sprite (5 x 160, 5 x 90) of crossing ramps."""
    y, x = _grid(450, 800)
    return np.stack([(x * 255) // 799, (y * 255) // 449, ((x + y) * 7) % 256], -1).astype(np.uint8)


def blocks() -> RGB:
    """Hard-edged tiles of different colours: the resize's edge taps matter."""
    y, x = _grid(450, 800)
    tile = (x // 160) + 5 * (y // 90)
    return np.stack([(tile * 37) % 256, (tile * 91) % 256, (tile * 53 + x // 7) % 256], -1).astype(
        np.uint8
    )


def rings() -> RGB:
    """Concentric rings on a 4:3 sprite (5 x 160, 5 x 120)."""
    y, x = _grid(600, 800)
    radius = ((x - 411) ** 2 + (y - 287) ** 2) // 97
    return np.stack([radius % 256, (radius * 3) % 256, (255 - radius) % 256], -1).astype(np.uint8)


def flat() -> RGB:
    """One grey: every AC coefficient is rounding noise, and the hash is what Go's noise is."""
    return np.full((450, 800, 3), 117, dtype=np.uint8)


def small() -> RGB:
    """Smaller than 64 x 64: the resize enlarges."""
    y, x = _grid(30, 50)
    return np.stack([(x * 5) % 256, (y * 8) % 256, (x * y) % 256], -1).astype(np.uint8)


def square() -> RGB:
    """Already 64 x 64: goimagehash hashes it without resizing."""
    y, x = _grid(64, 64)
    return np.stack([(x * 4) % 256, (y * y) % 256, (x ^ y) * 4 % 256], -1).astype(np.uint8)


#: picture -> goimagehash.PerceptionHash(picture).GetHash(), as `%016x`.
CASES: dict[str, tuple[Callable[[], RGB], str]] = {
    "gradient": (gradient, "8a7eab7e1429a855"),
    "blocks": (blocks, "83520d27897f76d8"),
    "rings": (rings, "e626999966669999"),
    "flat": (flat, "8000000000000000"),
    "small": (small, "801f3e7973666c49"),
    "square": (square, "a01b7f467e1875c2"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_perception_hash_is_goimagehash_s(name: str) -> None:
    make, expected = CASES[name]
    assert f"{goimagehash.perception_hash(make()):016x}" == expected


@pytest.mark.parametrize(
    ("values", "median"),
    [
        # An even count: the mean of the two middle values when quickselect leaves them so.
        ([float(v) for v in range(64)], 31.5),
        ([float(v) for v in range(63, -1, -1)], 31.5),
        ([5.0] * 64, 5.0),
        ([3.0], 3.0),
    ],
)
def test_quickselect_median(values: list[float], median: float) -> None:
    assert goimagehash.quickselect_median(values) == median


@pytest.mark.parametrize(
    ("unsigned", "signed"),
    [(0, 0), (1, 1), ((1 << 63) - 1, (1 << 63) - 1), (1 << 63, -(1 << 63)), ((1 << 64) - 1, -1)],
)
def test_signed_round_trip(unsigned: int, signed: int) -> None:
    assert goimagehash.to_signed(unsigned) == signed
    assert goimagehash.to_unsigned(signed) == unsigned


def test_dct_is_the_unscaled_dct_ii() -> None:
    """Lee's algorithm computes sum x[n] cos(pi (n + 1/2) k / N): checked against the matrix."""
    rng = np.random.default_rng(12)
    pixels = rng.uniform(0, 255, size=(64, 64))
    n = np.arange(64)
    matrix = np.cos(np.pi * (n[None, :] + 0.5) * n[:, None] / 64)
    expected = (matrix @ pixels @ matrix.T)[:8, :8].reshape(-1)
    np.testing.assert_allclose(goimagehash.dct_low_frequencies(pixels), expected, rtol=1e-9)
