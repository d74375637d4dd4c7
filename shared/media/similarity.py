"""Whether two videos show the same pictures, from their per-second frame hashes (pure).

A video's `FrameHashes` holds one 64-bit perceptual hash per second of picture, and the
same for the picture mirrored left to right, so that a flipped upload matches its
original (shared/media/frame_hashes.py computes them). `compare` aligns two sequences and
says which parts match and at what offset; `index_keys` gives the few values that
PostgreSQL indexes (GIN on bigint[]) so that the candidates for `compare` are found without
a pairwise scan.

Alignment without an O(n*m) scan: the close pairs of seconds are found through buckets of
hash bands (two hashes within FRAME_DISTANCE bits mostly agree exactly on one of eight
bytes), each pair votes for its offset, and only the most voted offsets are verified
second by second. A flat second (`FLAT`: black or a uniform colour) never matches nor
votes, so two videos that share only a black intro are no match (Immich's bug, #9794).

Hashes are stored as PostgreSQL bigint, so they are signed 64-bit integers here.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: A second with too little contrast to hash (see frame_hashes.FLAT_CONTRAST): no match.
FLAT = 0
#: Bits that may differ between two frame hashes that show the same picture.
FRAME_DISTANCE = 16
#: Share of the shorter video's (non-flat) seconds that must match for a near-duplicate.
MIN_MATCHED_SHARE = 0.5
#: And never fewer matched seconds than this: a few seconds alike are a coincidence.
MIN_MATCHED_SECONDS = 4
#: Bits in one index band: each frame hash is split into 64 // BAND_BITS bands.
BAND_BITS = 16
#: Seconds of a video whose bands are indexed, and looked up for a query (bounded keys).
INDEX_SECONDS = 120
QUERY_SECONDS = 120

# Bands of the buckets that find close pairs in `compare`: 8 bits, so that two hashes
# FRAME_DISTANCE bits apart still share one byte exactly about half the time (the
# verified offset then counts every second, bucketed or not). Past _SHORT_SECONDS a
# byte's bucket holds too many unrelated seconds (n / 256), so 16-bit bands: rarer hits,
# but a long video has hundreds of voting seconds.
_PAIR_BAND_BITS = 8
_LONG_PAIR_BAND_BITS = 16
_SHORT_SECONDS = 1024
# Votes an offset needs to be verified.
_MIN_VOTES = 2
# Offsets verified second by second, the most voted first.
_OFFSETS_VERIFIED = 4
# Seconds of a that vote (those after its biggest cuts, when it has more): the offset of
# a long copy is plain from a few hundred, and verification then reads every second.
_VOTING_SECONDS = 300
# A bucket this full is a picture the video repeats (a still): it votes no more.
_MAX_BUCKET = 64
_MASK64 = 0xFFFF_FFFF_FFFF_FFFF
# Bands whose one-bit neighbours a query looks up too (query_keys).
_PROBED_BANDS = (0, 1)


@dataclass(frozen=True, slots=True)
class FrameHashes:
    """One signed 64-bit hash per second of a video, as shown and mirrored."""

    seconds: tuple[int, ...]
    mirrored: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Match:
    """Where two videos show the same pictures: b's second `a_start + offset` is a's `a_start`."""

    score: float  # 0..1: matched seconds over the shorter video's non-flat seconds
    offset_seconds: int  # b's time minus a's time over the matched part
    a_start: int  # first matched second of a
    a_end: int  # one past the last matched second of a
    b_start: int
    b_end: int
    matched_seconds: int
    mirrored: bool  # True when b matches a's mirrored picture
    #: Mean bits that differ over the matched seconds: 0 is the same picture.
    mean_distance: float = 0.0


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes, signed or not."""
    return ((a ^ b) & _MASK64).bit_count()


def compare(a: FrameHashes, b: FrameHashes) -> Match | None:
    """The best alignment of b against a (as shown or mirrored), None when it is no match."""
    shorter = min(_informative_count(a.seconds), _informative_count(b.seconds))
    if shorter == 0:
        return None
    bits = _PAIR_BAND_BITS if len(b.seconds) <= _SHORT_SECONDS else _LONG_PAIR_BAND_BITS
    buckets = _pair_buckets(b.seconds, bits)
    best: Match | None = None
    for mirrored, a_hashes in ((False, a.seconds), (True, a.mirrored)):
        for offset in _voted_offsets(a_hashes, b.seconds, buckets, bits):
            candidate = _verify(a_hashes, b.seconds, offset, shorter, mirrored)
            if candidate is not None and (best is None or _better(candidate, best)):
                best = candidate
    return best


def _better(x: Match, y: Match) -> bool:
    return (x.matched_seconds, -x.mean_distance) > (y.matched_seconds, -y.mean_distance)


def _informative_count(hashes: Sequence[int]) -> int:
    return sum(1 for value in hashes if value != FLAT)


def _pair_buckets(hashes: Sequence[int], bits: int) -> dict[tuple[int, int], list[int]]:
    """Seconds of a sequence by (band, band value), flat seconds left out."""
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for second, value in enumerate(hashes):
        if value != FLAT:
            for key in _bands(value, bits):
                buckets[key].append(second)
    return buckets


def _voted_offsets(
    a: Sequence[int], b: Sequence[int], buckets: dict[tuple[int, int], list[int]], bits: int
) -> list[int]:
    """The offsets (b's second minus a's) most voted for by close pairs of seconds."""
    votes: Counter[int] = Counter()
    for i in keyed_seconds(a, _VOTING_SECONDS):
        value = a[i]
        partners: set[int] = set()
        for key in _bands(value, bits):
            bucket = buckets.get(key, ())
            if len(bucket) <= _MAX_BUCKET:
                partners.update(bucket)
        for j in partners:
            if hamming(value, b[j]) <= FRAME_DISTANCE:
                votes[j - i] += 1
    top = heapq.nlargest(_OFFSETS_VERIFIED, votes.items(), key=lambda item: (item[1], -item[0]))
    return [offset for offset, count in top if count >= _MIN_VOTES]


def _verify(
    a: Sequence[int], b: Sequence[int], offset: int, shorter: int, mirrored: bool
) -> Match | None:
    """The seconds of a and b that match at `offset`, if enough of them do."""
    distances = {
        i: hamming(a[i], b[i + offset])
        for i in range(max(0, -offset), min(len(a), len(b) - offset))
        if a[i] != FLAT and b[i + offset] != FLAT
    }
    matched = [i for i, distance in distances.items() if distance <= FRAME_DISTANCE]
    score = len(matched) / shorter
    if len(matched) < MIN_MATCHED_SECONDS or score < MIN_MATCHED_SHARE:
        return None
    start, end = matched[0], matched[-1] + 1
    return Match(
        score=min(1.0, score),
        offset_seconds=offset,
        a_start=start,
        a_end=end,
        b_start=start + offset,
        b_end=end + offset,
        matched_seconds=len(matched),
        mirrored=mirrored,
        mean_distance=sum(distances[i] for i in matched) / len(matched),
    )


def _bands(value: int, bits: int) -> Iterable[tuple[int, int]]:
    unsigned = value & _MASK64
    mask = (1 << bits) - 1
    return ((band, (unsigned >> (band * bits)) & mask) for band in range(64 // bits))


def index_keys(hashes: FrameHashes) -> list[int]:
    """The values to index for a video: each band of its chosen seconds, tagged with its band.

    Both pictures, shown and mirrored, are indexed; a query uses `query_keys`, of its shown
    picture only, so a flipped copy finds its original and the other way round. Bounded:
    at most INDEX_SECONDS seconds x 2 pictures x 4 bands.
    """
    seconds = keyed_seconds(hashes.seconds, INDEX_SECONDS)
    chosen = [hashes.seconds[s] for s in seconds]
    chosen += [hashes.mirrored[s] for s in seconds if s < len(hashes.mirrored)]
    return _keys(chosen)


def query_keys(hashes: FrameHashes) -> list[int]:
    """The keys to look up for a video's candidates: bands of its shown picture only.

    And every value one bit away in the first two bands (multi-probe): they hold the
    lowest vertical frequencies (frame_hashes._BIT_ORDER), which a crop, a trim or an
    overlay changes by a bit or two where the others change more, so a copy 16 bits away
    still shares a key. Bounded: at most QUERY_SECONDS seconds x (4 bands + 31 probes).
    """
    seconds = keyed_seconds(hashes.seconds, QUERY_SECONDS)
    values = [hashes.seconds[s] for s in seconds]
    probes = {
        (band << BAND_BITS) | (part ^ (1 << bit))
        for value in values
        for band, part in _bands(value, BAND_BITS)
        if band in _PROBED_BANDS
        for bit in range(BAND_BITS)
        if (band, bit) != (0, 0)  # bit 0 is the mean (DC), set in every hash
    }
    return sorted(set(_keys(values)) | probes)


def keyed_seconds(hashes: Sequence[int], limit: int) -> list[int]:
    """Which seconds give keys: all non-flat ones, or the `limit` that follow the biggest cuts.

    A cut (the picture changes most from the second before) is where any copy changes
    too, whatever its offset, so a long video and its copy key the same seconds, where
    a fixed stride would key different ones after an added intro.
    """
    informative = [second for second, value in enumerate(hashes) if value != FLAT]
    if len(informative) <= limit:
        return informative
    change = {
        later: hamming(hashes[earlier], hashes[later])
        for earlier, later in itertools.pairwise(informative)
    }
    change[informative[0]] = 64
    return sorted(heapq.nlargest(limit, informative, key=lambda s: (change[s], -s)))


def _keys(values: Iterable[int]) -> list[int]:
    return sorted(
        {(band << BAND_BITS) | part for value in values for band, part in _bands(value, BAND_BITS)}
    )
