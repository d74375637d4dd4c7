"""Near-duplicates of a video: candidates from the index, verified by `compare`, grouped.

`find_similar` answers GET /videos/{id}/similar; `refresh_near_duplicates` keeps the groups
of GET /videos/near-duplicates up to date: the fingerprint job calls it after saving a
video's fingerprint, and the API after a video is trashed, deleted or restored.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.repository import Candidate, KeyPair, NearDuplicateRepository
from videolib.shared.media.similarity import (
    FrameHashes,
    Match,
    compare,
    index_keys,
    keyed_seconds,
)

#: Seconds of the video whose keys make the index's pairs, evenly spread over it.
PAIR_SECONDS = 24
#: Videos one pair may propose at most. A pair of keys is rare by chance (each key of a
#: 16-bit band is in ~1 of 300 videos at 100k, a pair in ~1 of 100,000), so a real
#: answer has far fewer; the cap bounds a pathological pair (a black or test-card second
#: that every video holds), which then costs what a rare one does.
PER_PAIR_LIMIT = 50
#: Pairs a candidate must hold. A copy holds many (each matched second it shares keeps
#: most of its bands, so most pairs of them); an unrelated video holds one by chance.
MIN_PAIRS_HELD = 2
#: Candidates `compare` verifies at most, those holding the most pairs first. `compare`
#: runs in Python over whole sequences: its cost, not the index lookup's, bounds a request.
COMPARE_LIMIT = 25


@dataclass(frozen=True, slots=True)
class Similar:
    """A verified near-duplicate: how it matches the video asked about (a = that video)."""

    video_id: uuid.UUID
    match: Match


@dataclass(frozen=True, slots=True)
class SimilarResult:
    matches: list[Similar]  # best first
    candidates: int  # how many the index proposed
    compared: int  # how many of them compare verified, the most pairs held first
    capped: bool  # some candidates were not verified


def key_pairs(hashes: FrameHashes, seconds: int = PAIR_SECONDS) -> list[KeyPair]:
    """Pairs of index keys of one second each, for up to `seconds` of the video's seconds.

    A copy holds both keys of a pair when the second's two bands survived the re-encode;
    over two dozen seconds and every pair of bands, some pair survives (pigeonhole-like),
    while an unrelated video holds one only by rare chance. The seconds are those
    `keyed_seconds` picks, the ones that follow the biggest cuts, as the index picks its
    own: the same seconds of a copy are then indexed, whatever was trimmed or added around
    them. Mirrored copies are found because the index holds each video's mirrored picture.
    Only a second's plain band keys pair up, not the query's one-bit probes: 6 pairs a
    second, where the probes would make hundreds.
    """
    shown = hashes.seconds
    pairs: set[KeyPair] = set()
    for second in keyed_seconds(shown, seconds):
        keys = index_keys(FrameHashes(seconds=(shown[second],), mirrored=()))
        pairs.update(itertools.combinations(sorted(keys), 2))
    return sorted(pairs)


def pairs_held(pairs: Sequence[KeyPair], indexed: Iterable[int]) -> int:
    """How many of a query's pairs a video's index keys hold both keys of (pure)."""
    keys = set(indexed)
    return sum(1 for a, b in pairs if a in keys and b in keys)


def verify(hashes: FrameHashes, candidates: Sequence[Candidate]) -> list[Similar]:
    """The candidates that match, best first (highest score, then most seconds, then id)."""
    found = []
    for candidate in candidates:
        match = compare(hashes, candidate.hashes)
        if match is not None:
            found.append(Similar(candidate.video_id, match))
    return sorted(found, key=lambda s: (-s.match.score, -s.match.matched_seconds, s.video_id))


async def find_similar(
    repository: NearDuplicateRepository, video_id: uuid.UUID, hashes: FrameHashes
) -> SimilarResult:
    """The videos that match `hashes`, found through the index, never by a pairwise scan."""
    pairs = key_pairs(hashes)
    page = await repository.candidates(
        video_id, pairs, PER_PAIR_LIMIT, COMPARE_LIMIT, MIN_PAIRS_HELD
    )
    # CPU-bound: off the event loop, so other requests are served meanwhile.
    matches = await asyncio.to_thread(verify, hashes, page.candidates)
    compared = len(page.candidates)
    return SimilarResult(matches, page.proposed, compared, page.proposed > compared)


async def refresh_near_duplicates(engine: AsyncEngine, video_id: uuid.UUID) -> None:
    """Bring the video's matched pairs and the groups it touches up to date.

    A valid video with a fingerprint gets its pairs found again; one that is invalid
    (trashed, deleted, missing), gone, or without a fingerprint leaves its group, and the
    rest of that group regroups (it splits if the video was its only bridge).
    """
    repository = NearDuplicateRepository(engine)
    hashes = await repository.fingerprint(video_id, valid_only=True)
    matches = None
    if hashes is not None:
        found = await find_similar(repository, video_id, hashes)
        matches = {similar.video_id: similar.match for similar in found.matches}
    unexplained = await repository.record_matches(video_id, matches)
    if not unexplained:
        return
    # Members linked to their group's first only through others: compare them directly.
    wanted = {u.first for u in unexplained} | {u.member for u in unexplained}
    stored = await repository.fingerprints_of(wanted)
    explained = {
        u.member: compare(stored[u.first], stored[u.member])
        for u in unexplained
        if u.first in stored and u.member in stored
    }
    await repository.explain(explained)
