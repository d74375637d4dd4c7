"""The per-picture hash of shared/media/frame_hashes.py (pure numpy, no files)."""

from __future__ import annotations

import numpy as np
import pytest

from videolib.shared.media.frame_hashes import PICTURE_SIDE, picture_hashes
from videolib.shared.media.similarity import FLAT, hamming


def _picture(seed: int) -> np.ndarray:
    """A random picture: blocks of grey levels with a little noise (no exact-zero DCT terms)."""
    rng = np.random.default_rng(seed)
    blocks = np.kron(rng.integers(0, 256, size=(8, 8)), np.ones((4, 4)))
    return np.clip(blocks + rng.normal(0, 3, size=blocks.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("level", [0, 16, 128, 235])
def test_a_flat_picture_is_flat(level: int) -> None:
    flat = np.full((PICTURE_SIDE, PICTURE_SIDE), level, dtype=np.uint8)
    assert picture_hashes(flat) == (FLAT, FLAT)


def test_faint_noise_on_black_is_flat() -> None:
    noise = np.random.default_rng(1).integers(14, 19, size=(PICTURE_SIDE, PICTURE_SIDE))
    assert picture_hashes(noise.astype(np.uint8)) == (FLAT, FLAT)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_mirror_hash_is_the_hash_of_the_mirrored_picture(seed: int) -> None:
    picture = _picture(seed)
    shown, mirrored = picture_hashes(picture)
    assert picture_hashes(picture[:, ::-1].copy()) == (mirrored, shown)
    assert shown != mirrored


def test_hashes_are_signed_64_bit_and_tell_pictures_apart() -> None:
    hashes = [picture_hashes(_picture(seed))[0] for seed in range(20)]
    assert all(-(1 << 63) <= value < 1 << 63 for value in hashes)
    assert min(hamming(x, y) for i, x in enumerate(hashes) for y in hashes[i + 1 :]) > 10


def test_a_brighter_noisier_copy_hashes_nearly_the_same() -> None:
    picture = _picture(4).astype(np.float64)
    noise = np.random.default_rng(5).normal(0, 4, size=picture.shape)
    copy = np.clip(picture * 0.8 + 30 + noise, 0, 255).astype(np.uint8)
    assert hamming(picture_hashes(picture.astype(np.uint8))[0], picture_hashes(copy)[0]) <= 6
