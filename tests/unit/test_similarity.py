"""shared/media/similarity.py: alignment, mirror, flat seconds, index keys (synthetic hashes)."""

from __future__ import annotations

import random

import pytest

from videolib.shared.media.similarity import (
    FLAT,
    FRAME_DISTANCE,
    INDEX_SECONDS,
    MIN_MATCHED_SECONDS,
    QUERY_SECONDS,
    FrameHashes,
    compare,
    index_keys,
    keyed_seconds,
    query_keys,
)


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


def _noisy(hashes: tuple[int, ...], bits: int, seed: int) -> tuple[int, ...]:
    """Each hash with `bits` of its 64 bits flipped, as a re-encode or a crop does."""
    rng = random.Random(seed)
    flipped = []
    for value in hashes:
        for bit in rng.sample(range(64), bits):
            value ^= 1 << bit
        flipped.append((value + (1 << 63)) % (1 << 64) - (1 << 63))  # back to signed
    return tuple(flipped)


def _scenes(seconds: int, seed: int) -> tuple[int, ...]:
    """A long video's hashes: one picture per scene of 3-20 s, as real footage repeats."""
    rng = random.Random(seed)
    hashes: list[int] = []
    while len(hashes) < seconds:
        hashes += [rng.getrandbits(64) - (1 << 63)] * rng.randint(3, 20)
    return tuple(hashes[:seconds])


@pytest.mark.parametrize(
    ("bits", "matches"),
    [(0, True), (FRAME_DISTANCE // 2, True), (FRAME_DISTANCE, True), (FRAME_DISTANCE + 8, False)],
)
def test_a_copy_matches_as_long_as_its_seconds_are_within_the_frame_distance(
    bits: int, matches: bool
) -> None:
    original = _hashes(40, seed=10)
    copy = _noisy(original, bits, seed=11)
    match = compare(FrameHashes(original, ()), FrameHashes(copy, ()))
    assert (match is not None) is matches
    if match is not None:
        assert match.offset_seconds == 0 and match.mean_distance == bits


def test_a_copy_with_an_added_intro_matches_after_the_intro() -> None:
    original = _hashes(30, seed=12)
    with_intro = _hashes(5, seed=13) + _noisy(original, 4, seed=14)
    match = compare(FrameHashes(original, ()), FrameHashes(with_intro, ()))
    assert match is not None
    assert (match.offset_seconds, match.a_start, match.b_start, match.b_end) == (5, 0, 5, 35)
    assert match.matched_seconds == 30 and match.score == 1.0


def test_two_videos_with_the_same_black_intro_do_not_match() -> None:
    # Immich #9794: half of each is the same black intro, the rest different pictures.
    intro = (FLAT,) * 5
    a = FrameHashes(intro + _hashes(5, seed=15), intro + _hashes(5, seed=16))
    b = FrameHashes(intro + _hashes(5, seed=17), intro + _hashes(5, seed=18))
    assert compare(a, b) is None
    assert not set(query_keys(b)) & set(index_keys(a))


def test_flat_videos_match_nothing_and_have_no_keys() -> None:
    flat = FrameHashes((FLAT,) * 20, (FLAT,) * 20)
    assert compare(flat, flat) is None
    assert index_keys(flat) == [] and query_keys(flat) == []


def test_a_few_alike_seconds_are_no_match() -> None:
    shared = _hashes(MIN_MATCHED_SECONDS - 1, seed=19)
    a = FrameHashes(shared, ())
    assert compare(a, FrameHashes(shared, ())) is None


def test_matched_parts_are_explained_for_a_copy_cut_from_the_middle() -> None:
    original = _hashes(100, seed=20)
    excerpt = original[40:70]
    match = compare(FrameHashes(original, ()), FrameHashes(excerpt, ()))
    assert match is not None
    assert (match.a_start, match.a_end, match.b_start, match.b_end) == (40, 70, 0, 30)
    assert match.offset_seconds == -40


def test_keys_stay_bounded_for_a_long_video() -> None:
    three_hours = FrameHashes(_scenes(3 * 3600, seed=21), _scenes(3 * 3600, seed=22))
    assert len(index_keys(three_hours)) <= INDEX_SECONDS * 2 * 4
    assert len(query_keys(three_hours)) <= QUERY_SECONDS * (4 + 31)


def test_a_long_copy_with_an_intro_shares_keys_with_its_original() -> None:
    # Keyed seconds follow the cuts, so a 7 s intro does not shift them off each other.
    original = _scenes(2 * 3600, seed=23)
    copy = _hashes(7, seed=24) + _noisy(original, 3, seed=25)
    a, b = FrameHashes(original, original), FrameHashes(copy, copy)
    assert set(query_keys(b)) & set(index_keys(a))
    assert set(query_keys(a)) & set(index_keys(b))
    match = compare(a, b)
    assert match is not None and match.offset_seconds == 7


def test_a_copy_one_bit_off_in_every_band_is_found_by_the_probes() -> None:
    original = _hashes(10, seed=26)
    # One bit flipped in each 16-bit band: no band equal, but band 0 within one bit.
    copy = tuple(
        (value ^ (1 << 3) ^ (1 << 20) ^ (1 << 36) ^ (1 << 52) ^ (1 << 63)) for value in original
    )
    signed = tuple((value + (1 << 63)) % (1 << 64) - (1 << 63) for value in copy)
    assert set(query_keys(FrameHashes(signed, ()))) & set(index_keys(FrameHashes(original, ())))


@pytest.mark.parametrize(
    ("hashes", "limit", "expected"),
    [
        ((1, 2, FLAT, 3), 10, [0, 1, 3]),  # short: every non-flat second
        ((5, 5, 5, -1, -1, -1, 5, 5), 3, [0, 3, 6]),  # long: the seconds after the cuts
        ((FLAT, FLAT), 1, []),
    ],
)
def test_keyed_seconds(hashes: tuple[int, ...], limit: int, expected: list[int]) -> None:
    assert keyed_seconds(hashes, limit) == expected
