"""The index's pairs of keys (shared/near_duplicates.py): copies hold many, others none."""

from __future__ import annotations

import random

import pytest

from videolib.shared.media.similarity import FrameHashes, index_keys
from videolib.shared.near_duplicates import MIN_PAIRS_HELD, PAIR_SECONDS, key_pairs


def _hashes(count: int, seed: int) -> tuple[int, ...]:
    rng = random.Random(seed)
    return tuple(rng.getrandbits(64) - (1 << 63) for _ in range(count))


def _flipped(values: tuple[int, ...], bits: int, seed: int) -> tuple[int, ...]:
    rng = random.Random(seed)
    out = []
    for value in values:
        for bit in rng.sample(range(63), bits):
            value ^= 1 << bit
        out.append(value)
    return tuple(out)


ORIGINAL = FrameHashes(_hashes(120, 1), _hashes(120, 2))
COPIES = {
    "trimmed 10 %": FrameHashes(ORIGINAL.seconds[12:], ORIGINAL.mirrored[12:]),
    "5 s intro": FrameHashes(_hashes(5, 3) + ORIGINAL.seconds, _hashes(5, 4) + ORIGINAL.mirrored),
    "mirrored": FrameHashes(ORIGINAL.mirrored, ORIGINAL.seconds),
    "re-encoded (3 bits a second)": FrameHashes(
        _flipped(ORIGINAL.seconds, 3, 5), _flipped(ORIGINAL.mirrored, 3, 6)
    ),
}


def _held(query: FrameHashes, stored: FrameHashes) -> int:
    keys = set(index_keys(stored))
    return sum(1 for a, b in key_pairs(query) if a in keys and b in keys)


@pytest.mark.parametrize("name", COPIES)
def test_a_copy_holds_enough_pairs_of_the_original_and_back(name: str) -> None:
    copy = COPIES[name]
    assert _held(copy, ORIGINAL) >= MIN_PAIRS_HELD
    assert _held(ORIGINAL, copy) >= MIN_PAIRS_HELD


def test_an_unrelated_video_holds_none() -> None:
    assert _held(ORIGINAL, FrameHashes(_hashes(120, 7), _hashes(120, 8))) == 0


@pytest.mark.parametrize("seconds", [0, 1, 5, PAIR_SECONDS, 3600])
def test_pairs_come_from_a_bounded_number_of_seconds(seconds: int) -> None:
    video = FrameHashes(_hashes(seconds, 9), _hashes(seconds, 10))
    pairs = key_pairs(video)
    bands_per_second = len(index_keys(FrameHashes(video.seconds[:1], ()))) if seconds else 0
    per_second = bands_per_second * (bands_per_second - 1) // 2
    assert len(pairs) <= min(seconds, PAIR_SECONDS) * per_second
    assert len(pairs) == len(set(pairs)) and all(a < b for a, b in pairs)
