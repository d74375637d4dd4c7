"""Near-duplicates of a video: candidates from the index, verified by `compare`, grouped.

`find_similar` answers GET /videos/{id}/similar; `refresh_near_duplicates` keeps the groups
of GET /videos/near-duplicates up to date: the fingerprint job calls it after saving a
video's fingerprint, and the API after a video is trashed, deleted or restored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.repository import Candidate, NearDuplicateRepository
from videolib.shared.media.similarity import FrameHashes, Match, compare, query_keys

#: Candidates verified per video at most. `compare` runs in Python over whole sequences, so
#: its cost, not the index lookup's, bounds a request: the cap keeps /similar within its
#: time budget whatever the keys' selectivity. Past it the answer says `capped`.
CANDIDATE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Similar:
    """A verified near-duplicate: how it matches the video asked about (a = that video)."""

    video_id: uuid.UUID
    match: Match


@dataclass(frozen=True, slots=True)
class SimilarResult:
    matches: list[Similar]  # best first
    candidates: int  # how many the index found and compare verified
    capped: bool  # the index found more than CANDIDATE_LIMIT


def verify(hashes: FrameHashes, candidates: Sequence[Candidate]) -> list[Similar]:
    """The candidates that match, best first (highest score, then most seconds, then id)."""
    found = []
    for candidate in candidates:
        match = compare(hashes, candidate.hashes)
        if match is not None:
            found.append(Similar(candidate.video_id, match))
    return sorted(found, key=lambda s: (-s.match.score, -s.match.matched_seconds, s.video_id))


async def find_similar(
    repository: NearDuplicateRepository,
    video_id: uuid.UUID,
    hashes: FrameHashes,
    limit: int = CANDIDATE_LIMIT,
) -> SimilarResult:
    """The videos that match `hashes`, found through the index, never by a pairwise scan."""
    page = await repository.candidates(video_id, query_keys(hashes), limit)
    # CPU-bound: off the event loop, so other requests are served meanwhile.
    matches = await asyncio.to_thread(verify, hashes, page.candidates)
    return SimilarResult(matches, len(page.candidates), page.capped)


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
