"""Whether two videos show the same pictures, from their per-second frame hashes (pure).

A video's `FrameHashes` holds one 64-bit perceptual hash per second of picture, and the
same for the picture mirrored left to right, so that a flipped upload matches its
original. `compare` aligns two sequences and says which parts match and at what offset;
`index_keys` gives the few values that PostgreSQL indexes (GIN on bigint[]) so that the
candidates for `compare` are found without a pairwise scan.

Hashes are stored as PostgreSQL bigint, so they are signed 64-bit integers here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Bits that may differ between two frame hashes that show the same picture.
FRAME_DISTANCE = 10
#: Share of the shorter video's seconds that must match for a near-duplicate.
MIN_MATCHED_SHARE = 0.5
#: Bits in one index band: each frame hash is split into 64 // BAND_BITS bands.
BAND_BITS = 16


@dataclass(frozen=True, slots=True)
class FrameHashes:
    """One signed 64-bit hash per second of a video, as shown and mirrored."""

    seconds: tuple[int, ...]
    mirrored: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Match:
    """Where two videos show the same pictures: b's second `a_start + offset` is a's `a_start`."""

    score: float  # 0..1: matched seconds over the shorter video's seconds
    offset_seconds: int  # b's time minus a's time over the matched part
    a_start: int  # first matched second of a
    a_end: int  # one past the last matched second of a
    b_start: int
    b_end: int
    matched_seconds: int
    mirrored: bool  # True when b matches a's mirrored picture


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes, signed or not."""
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()


def compare(a: FrameHashes, b: FrameHashes) -> Match | None:
    """The best alignment of b against a (as shown or mirrored), None when it is no match."""
    best: Match | None = None
    for mirrored, a_hashes in ((False, a.seconds), (True, a.mirrored)):
        candidate = _best_offset(a_hashes, b.seconds, mirrored)
        if candidate is not None and (best is None or candidate.score > best.score):
            best = candidate
    return best


def _best_offset(a: tuple[int, ...], b: tuple[int, ...], mirrored: bool) -> Match | None:
    shorter = min(len(a), len(b))
    if shorter == 0:
        return None
    best: Match | None = None
    for offset in range(-(len(a) - 1), len(b)):
        matched = [
            i for i in range(len(a)) if 0 <= i + offset < len(b) and _close(a[i], b[i + offset])
        ]
        if not matched:
            continue
        score = len(matched) / shorter
        if score >= MIN_MATCHED_SHARE and (best is None or score > best.score):
            start, end = matched[0], matched[-1] + 1
            best = Match(
                score=score,
                offset_seconds=offset,
                a_start=start,
                a_end=end,
                b_start=start + offset,
                b_end=end + offset,
                matched_seconds=len(matched),
                mirrored=mirrored,
            )
    return best


def _close(x: int, y: int) -> bool:
    return hamming(x, y) <= FRAME_DISTANCE


def index_keys(hashes: FrameHashes) -> list[int]:
    """The values to index for a video: every band of every hash, tagged with its band.

    A video that `compare` matches shares at least one key with it, as long as one matched
    second differs in fewer bits than there are bands (pigeonhole). Both pictures, shown
    and mirrored, are indexed; a query uses `index_keys` of its own shown picture only.
    """
    keys: set[int] = set()
    bands = 64 // BAND_BITS
    mask = (1 << BAND_BITS) - 1
    for value in (*hashes.seconds, *hashes.mirrored):
        unsigned = value & 0xFFFF_FFFF_FFFF_FFFF
        for band in range(bands):
            keys.add((band << BAND_BITS) | ((unsigned >> (band * BAND_BITS)) & mask))
    return sorted(keys)


def query_keys(hashes: FrameHashes) -> list[int]:
    """The keys to look up for a video's candidates: those of its shown picture."""
    return index_keys(FrameHashes(seconds=hashes.seconds, mirrored=()))
