"""Near-duplicates of a video: candidates from the index, verified by `compare`, grouped.

`find_similar` answers GET /videos/{id}/similar; `refresh_near_duplicates` keeps the groups
of GET /videos/near-duplicates up to date: the fingerprint job calls it after saving a
video's fingerprint, and the API after a video is trashed, deleted or restored.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.repository import Candidate, NearDuplicateRepository
from videolib.shared.media.similarity import (
    FrameHashes,
    Match,
    compare,
    index_keys,
    keyed_seconds,
)

#: Keys of the asked video a candidate's index keys must hold, at least. A copy shares
#: many (each matched second keeps most of its four bands), an unrelated video a few by
#: chance (`min_shared_keys`).
MIN_SHARED_KEYS = 1
#: And one more per this many keys asked. Chance sharing grows with the keys asked (360
#: asked against ~960 indexed share ~1.3 by chance, Poisson-like: 1 in 22 unrelated videos
#: shares 4, 1 in 100,000 shares 9), and at 100k videos every unrelated candidate costs a
#: `compare` (~3 ms); 1 in 40 asks 9 of a full query, which chance hardly reaches, where
#: bench/near_duplicates.py's copies mostly share 20 or more (474 of 479 pairs kept).
KEYS_PER_SHARED = 40
#: A key more videos than this hold is left out of a query: a picture that common (a test
#: card, a logo) tells nothing, and its rows are never read (its count, 0023, says so). At
#: 100k videos a key is held by ~250 videos on average (bench/similar.py: mean 246,
#: a test card that 1 video in 25 shows, 4,124).
MAX_KEY_VIDEOS = 2000
#: Candidates `compare` verifies at most, those sharing the most keys first. `compare`
#: runs in Python over whole sequences: its cost, not the index lookup's, bounds a request.
COMPARE_LIMIT = 25
#: Seconds of a long video whose keys look its candidates up: those after its biggest
#: cuts, 90 of the 120 the index holds (similarity.INDEX_SECONDS). The statement's cost is
#: the index rows it reads, ~250 a key at 100k videos: a quarter fewer keys, a quarter
#: fewer rows (bench/similar.py). A copy keys the same cuts, and the 90 biggest of the
#: asked video are among the 120 biggest of the indexed one as the 120 were: the shared
#: keys fall with the keys asked, and so does the share needed (min_shared_keys). Fewer
#: do not hold: at 80, a copy 12 bits off every second shares 9, three times chance's 3
#: (tests/unit/test_shared_keys.py). A clip of 90 keyed seconds or fewer asks them all.
CANDIDATE_SECONDS = 90


@dataclass(frozen=True, slots=True)
class Similar:
    """A verified near-duplicate: how it matches the video asked about (a = that video)."""

    video_id: uuid.UUID
    match: Match


@dataclass(frozen=True, slots=True)
class SimilarResult:
    matches: list[Similar]  # best first
    candidates: int  # how many the index proposed
    compared: int  # how many of them compare verified, the most keys shared first
    capped: bool  # some candidates were not verified


def candidate_keys(hashes: FrameHashes) -> list[int]:
    """The keys a video's candidates are looked up by: the plain index keys of its shown
    picture. Not `query_keys`' one-bit probes: 8x the keys, so 8x the index rows read
    (bench/similar.py --probes: 43 ms for the statement at 5k videos against 7 ms), where
    the plain keys of 479 of the 479 pairs bench/near_duplicates.py accepts share one.

    The index holds each video's mirrored picture too, so a flipped copy is found. Of a
    long video, the CANDIDATE_SECONDS seconds after its biggest cuts ask.
    """
    shown = hashes.seconds
    chosen = tuple(shown[second] for second in keyed_seconds(shown, CANDIDATE_SECONDS))
    return index_keys(FrameHashes(seconds=chosen, mirrored=()))


def min_shared_keys(asked: int) -> int:
    """The keys a candidate must share when `asked` keys are looked up (pure)."""
    return max(MIN_SHARED_KEYS, math.ceil(asked / KEYS_PER_SHARED))


def is_candidate(asked: FrameHashes, indexed: FrameHashes) -> bool:
    """Whether the route proposes `indexed` for `asked`, without the statement's caps."""
    return shared_keys(asked, indexed) >= min_shared_keys(len(candidate_keys(asked)))


def shared_keys(asked: FrameHashes, indexed: FrameHashes) -> int:
    """How many of `asked`'s candidate keys `indexed`'s index keys hold (pure): the count
    the candidates' statement ranks by, without its caps."""
    return len(set(candidate_keys(asked)).intersection(index_keys(indexed)))


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
    keys = candidate_keys(hashes)
    page = await repository.candidates(
        video_id, keys, MAX_KEY_VIDEOS, COMPARE_LIMIT, min_shared_keys(len(keys))
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
