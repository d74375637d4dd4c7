"""The candidate rule (shared/near_duplicates.py): a copy shares many keys, others none."""

from __future__ import annotations

import random

import pytest

from videolib.shared.media.similarity import INDEX_SECONDS, FrameHashes, index_keys
from videolib.shared.near_duplicates import (
    CANDIDATE_SECONDS,
    KEYS_PER_SHARED,
    MIN_SHARED_KEYS,
    candidate_keys,
    is_candidate,
    min_shared_keys,
    shared_keys,
)


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
    # 12 bits a second: a band of four survives in ~42 % of seconds, so a few dozen keys.
    "heavily re-encoded (12 bits)": FrameHashes(
        _flipped(ORIGINAL.seconds, 12, 7), _flipped(ORIGINAL.mirrored, 12, 8)
    ),
}
UNRELATED = FrameHashes(_hashes(120, 9), _hashes(120, 10))


# Two unrelated videos of random hashes share a few keys by chance (each of the 480
# asked keys is one of 65,536 values of its band, and the other holds ~240 per band).
BY_CHANCE = max(shared_keys(ORIGINAL, UNRELATED), shared_keys(UNRELATED, ORIGINAL))


def test_unrelated_videos_share_only_a_few_keys() -> None:
    assert BY_CHANCE <= 6


@pytest.mark.parametrize("name", COPIES)
def test_a_copy_shares_enough_keys_with_the_original_and_back(name: str) -> None:
    # Enough to be proposed, and more than chance by far, so it ranks before unrelated ones.
    copy = COPIES[name]
    for shared in (shared_keys(copy, ORIGINAL), shared_keys(ORIGINAL, copy)):
        assert shared >= MIN_SHARED_KEYS and shared > 3 * BY_CHANCE


@pytest.mark.parametrize(
    ("asked", "indexed", "expected"),
    [
        (ORIGINAL, FrameHashes(UNRELATED.seconds[:4], ()), 0),
        # The asked video's own keys: every key of its shown picture (4 bands a second).
        (ORIGINAL, ORIGINAL, len(candidate_keys(ORIGINAL))),
        (ORIGINAL, FrameHashes((), ()), 0),
        (FrameHashes((), ()), ORIGINAL, 0),
    ],
    ids=["unrelated, short", "itself", "nothing indexed", "nothing asked"],
)
def test_shared_keys_counts_the_asked_keys_the_index_holds(
    asked: FrameHashes, indexed: FrameHashes, expected: int
) -> None:
    assert shared_keys(asked, indexed) == expected


def test_the_query_asks_by_the_shown_picture_only() -> None:
    # The index holds the mirror; the query must not, or a video would find its own
    # mirror image's look-alikes twice and ask twice the keys.
    only_mirror_matches = FrameHashes(UNRELATED.seconds, ORIGINAL.mirrored)
    assert set(candidate_keys(only_mirror_matches)) == set(candidate_keys(UNRELATED))


@pytest.mark.parametrize("seconds", [0, 1, 5, CANDIDATE_SECONDS, INDEX_SECONDS, 3600])
def test_the_query_keys_are_bounded(seconds: int) -> None:
    video = FrameHashes(_hashes(seconds, 11), _hashes(seconds, 12))
    keys = candidate_keys(video)
    assert len(keys) <= min(seconds, CANDIDATE_SECONDS) * 4
    assert len(keys) == len(set(keys))
    assert set(keys) <= set(index_keys(video))


def test_a_long_video_asks_fewer_seconds_than_the_index_holds() -> None:
    # The statement reads ~250 index rows a key at 100k videos: 90 seconds of keys, not 120.
    assert CANDIDATE_SECONDS < INDEX_SECONDS
    # Four bands a second (a band value may repeat, so a key or two fewer).
    assert CANDIDATE_SECONDS * 4 - 4 <= len(candidate_keys(ORIGINAL)) <= CANDIDATE_SECONDS * 4
    assert len(candidate_keys(FrameHashes(ORIGINAL.seconds[:30], ()))) == 30 * 4  # a clip: all


LONG = FrameHashes(_hashes(600, 13), _hashes(600, 14))  # ten minutes, 120 of them indexed
LONG_COPIES = {
    "trimmed 10 %": FrameHashes(LONG.seconds[60:], LONG.mirrored[60:]),
    "5 s intro": FrameHashes(_hashes(5, 15) + LONG.seconds, _hashes(5, 16) + LONG.mirrored),
    "mirrored": FrameHashes(LONG.mirrored, LONG.seconds),
    "re-encoded (3 bits a second)": FrameHashes(
        _flipped(LONG.seconds, 3, 17), _flipped(LONG.mirrored, 3, 18)
    ),
}


@pytest.mark.parametrize("name", LONG_COPIES)
def test_a_copy_of_a_long_video_is_proposed_both_ways(name: str) -> None:
    # The copy keys the same cuts (trimmed or not): its 90 asked seconds are among the
    # original's 120 indexed ones, and the other way round.
    copy = LONG_COPIES[name]
    assert is_candidate(copy, LONG) and is_candidate(LONG, copy)
    assert not is_candidate(copy, UNRELATED) and not is_candidate(UNRELATED, copy)


@pytest.mark.parametrize(
    ("asked", "least"),
    [
        (0, MIN_SHARED_KEYS),
        (1, MIN_SHARED_KEYS),
        (KEYS_PER_SHARED, 1),
        (KEYS_PER_SHARED + 1, 2),
        (160, 4),  # a 40 s video: 4 bands a second
        (360, 9),  # a full query: CANDIDATE_SECONDS keyed seconds
        (480, 12),
    ],
)
def test_the_keys_to_share_grow_with_the_keys_asked(asked: int, least: int) -> None:
    assert min_shared_keys(asked) == least


@pytest.mark.parametrize(
    ("asked", "indexed", "proposed"),
    [
        *((copy, ORIGINAL, True) for copy in COPIES.values()),
        *((ORIGINAL, copy, True) for copy in COPIES.values()),
        (ORIGINAL, UNRELATED, False),
        (UNRELATED, ORIGINAL, False),
        # Twelve seconds in common out of 120: 48 keys shared, over the 12 needed.
        (FrameHashes(ORIGINAL.seconds[:12] + UNRELATED.seconds[12:], ()), ORIGINAL, True),
        # One second in common: 4 keys, chance's level, not proposed.
        (FrameHashes(ORIGINAL.seconds[:1] + UNRELATED.seconds[1:], ()), ORIGINAL, False),
    ],
)
def test_the_route_proposes_copies_not_chance(
    asked: FrameHashes, indexed: FrameHashes, proposed: bool
) -> None:
    assert is_candidate(asked, indexed) is proposed
