"""The reference contract of shared/media/similarity.py: alignment, mirror, index keys."""

from __future__ import annotations

import random

from videolib.shared.media.similarity import FrameHashes, compare, index_keys, query_keys


def _hashes(count: int, seed: int) -> tuple[int, ...]:
    rng = random.Random(seed)
    return tuple(rng.getrandbits(64) - (1 << 63) for _ in range(count))


def test_a_trimmed_copy_matches_at_its_offset() -> None:
    original = _hashes(60, seed=1)
    trimmed = original[6:]
    match = compare(FrameHashes(original, _hashes(60, 2)), FrameHashes(trimmed, _hashes(54, 3)))
    assert match is not None
    assert match.offset_seconds == -6 and not match.mirrored
    assert match.a_start == 6 and match.b_start == 0


def test_a_mirrored_copy_matches_the_mirror() -> None:
    shown, mirror = _hashes(30, 4), _hashes(30, 5)
    match = compare(FrameHashes(shown, mirror), FrameHashes(mirror, shown))
    assert match is not None and match.mirrored


def test_unrelated_videos_do_not_match() -> None:
    assert compare(FrameHashes(_hashes(30, 6), ()), FrameHashes(_hashes(30, 7), ())) is None


def test_a_copy_shares_an_index_key_with_its_original() -> None:
    original = FrameHashes(_hashes(20, 8), _hashes(20, 9))
    flipped_copy = FrameHashes(original.mirrored, original.seconds)
    assert set(query_keys(flipped_copy)) & set(index_keys(original))
