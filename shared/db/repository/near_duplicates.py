"""Statements of near-duplicate detection: candidates by index key, pairs, groups.

Candidates come from `video_fingerprint_keys` (one row per index key and video, kept by a
trigger of migration 0017): the videos holding the most of the asked keys, counted from
one scan of its primary key, the keys too many videos hold left out by their counts
(`video_fingerprint_key_counts`, 0023); `compare` (shared/media/similarity.py) verifies
the best of them in Python. Pairs
and groups are written under one transaction-level advisory lock, so that two videos
refreshed at once (two fingerprint workers) cannot each regroup from a stale view.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Select, any_, cast, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.records import Video
from videolib.shared.db.schema import (
    near_duplicate_members as members,
)
from videolib.shared.db.schema import (
    near_duplicate_pairs as pairs,
)
from videolib.shared.db.schema import (
    video_fingerprint_key_counts,
    video_fingerprint_keys,
    videos,
)
from videolib.shared.db.schema import (
    video_fingerprints as fingerprints,
)
from videolib.shared.media.similarity import FrameHashes, Match
from videolib.shared.near_duplicate_groups import (
    Edge,
    Group,
    MemberFacts,
    match_between,
    plan_groups,
    reversed_match,
)

from .errors import translate_errors

#: The advisory lock key of regrouping ("vl-near" in ASCII): one regroup at a time.
REGROUP_LOCK = 0x766C2D6E656172
#: The parts of a Match the pairs and members tables store (its mean distance is not: the
#: API does not show it, and a Match read back gets its default).
MATCH_FIELDS = tuple(Match.__dataclass_fields__)  # every field has its column (0014)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fingerprinted video that holds some of the keys asked about among its index keys."""

    video_id: uuid.UUID
    hashes: FrameHashes
    shared_keys: int


@dataclass(frozen=True, slots=True)
class CandidatePage:
    """The best candidates, and how many videos the index proposed in all."""

    candidates: list[Candidate]  # the most keys shared first
    proposed: int


@dataclass(frozen=True, slots=True)
class GroupMember:
    video: Video
    #: How this member matches the group's first (a = first); None for the first itself
    #: and for a member linked to it only through others.
    match: Match | None


@dataclass(frozen=True, slots=True)
class NearDuplicateGroup:
    group_id: uuid.UUID
    members: list[GroupMember]


@dataclass(frozen=True, slots=True)
class Unexplained:
    """A member whose match with its group's first is not among the stored pairs."""

    first: uuid.UUID
    member: uuid.UUID


def _match_values(match: Match | None) -> dict[str, Any]:
    return {name: None if match is None else getattr(match, name) for name in MATCH_FIELDS}


def _match_of(row: Any) -> Match | None:
    mapping = row._mapping
    if mapping["score"] is None:
        return None
    return Match(**{name: mapping[name] for name in MATCH_FIELDS})


def _hashes(row: Any) -> FrameHashes:
    return FrameHashes(tuple(row.frame_hashes), tuple(row.mirrored_hashes))


class NearDuplicateRepository:
    """Statements on `video_fingerprints` (reads), `near_duplicate_pairs` and `_members`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def fingerprint(self, video_id: uuid.UUID, *, valid_only: bool) -> FrameHashes | None:
        """The frame hashes of a video; None without a fingerprint (or, `valid_only`, when
        the video is invalid or gone)."""
        query = select(fingerprints.c.frame_hashes, fingerprints.c.mirrored_hashes).where(
            fingerprints.c.video_id == video_id
        )
        if valid_only:
            query = query.join(videos, videos.c.id == fingerprints.c.video_id).where(
                videos.c.is_valid.is_(True)
            )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _hashes(row)

    @translate_errors
    async def fingerprints_of(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, FrameHashes]:
        query = select(
            fingerprints.c.video_id, fingerprints.c.frame_hashes, fingerprints.c.mirrored_hashes
        ).where(fingerprints.c.video_id.in_(list(ids)))
        async with self.engine.connect() as connection:
            return {row.video_id: _hashes(row) for row in await connection.execute(query)}

    @translate_errors
    async def candidates(
        self,
        video_id: uuid.UUID,
        keys: Sequence[int],
        max_key_videos: int,
        limit: int,
        min_shared: int = 1,
    ) -> CandidatePage:
        """The `limit` valid videos (not `video_id`) sharing the most of `keys` among their
        index keys, at least `min_shared` of them.

        A key more than `max_key_videos` videos hold is left out (it tells nothing), and
        costs nothing: its count says so, and its rows are not read.
        """
        if not keys:
            return CandidatePage([], proposed=0)
        async with self.engine.connect() as connection:
            statement = _candidates(video_id, keys, max_key_videos, limit, min_shared)
            rows = (await connection.execute(statement)).all()
        found = [Candidate(row.video_id, _hashes(row), row.shared) for row in rows]
        return CandidatePage(found, proposed=int(rows[0].proposed) if rows else 0)

    @translate_errors
    async def explain_candidates(
        self,
        video_id: uuid.UUID,
        keys: Sequence[int],
        max_key_videos: int,
        limit: int,
        min_shared: int = 1,
    ) -> str:
        """EXPLAIN ANALYZE of the candidates' statement (benchmark, tests)."""
        compiled = _candidates(video_id, keys, max_key_videos, limit, min_shared).compile(
            dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        async with self.engine.connect() as connection:
            result = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")
            return "\n".join(row[0] for row in result)

    @translate_errors
    async def record_matches(
        self, video_id: uuid.UUID, matches: Mapping[uuid.UUID, Match] | None
    ) -> list[Unexplained]:
        """Add the video's pairs in `matches` (a = video_id), or drop them all when None (it
        leaves, being invalid, gone or unfingerprinted), and regroup every group it touches.

        Pairs are added, never replaced: one found from the other side stays (this video's
        own search is capped, and may have run before the other was fingerprinted). Stale
        ones go with the fingerprint or the validity they came from (triggers, 0017).

        Returns the members whose match with their group's first is not a stored pair.
        """
        async with self.engine.begin() as connection:
            await connection.execute(select(func.pg_advisory_xact_lock(REGROUP_LOCK)))
            if matches is None:
                await connection.execute(
                    delete(pairs).where(
                        or_(pairs.c.video_id == video_id, pairs.c.other_id == video_id)
                    )
                )
            rows = [_pair_row(video_id, other, match) for other, match in (matches or {}).items()]
            if rows:
                await connection.execute(insert(pairs).on_conflict_do_nothing(), rows)
            # Its old group mates are reached through the members table (_closure).
            return await _regroup(connection, {video_id, *(matches or {})})

    @translate_errors
    async def explain(self, explained: Mapping[uuid.UUID, Match | None]) -> None:
        """Store how members match their group's first, found after `record_matches`."""
        if not explained:
            return
        async with self.engine.begin() as connection:
            for member, match in explained.items():
                await connection.execute(
                    update(members).where(members.c.video_id == member).values(_match_values(match))
                )

    @translate_errors
    async def groups(self, page: int, limit: int) -> tuple[list[NearDuplicateGroup], int]:
        """A page of groups of two or more valid members, the largest first."""
        size = func.count()
        heads_query = (
            select(members.c.group_id, size.label("size"), func.count().over().label("total"))
            .join(videos, videos.c.id == members.c.video_id)
            .where(videos.c.is_valid.is_(True))
            .group_by(members.c.group_id)
            .having(size > 1)
            .order_by(size.desc(), members.c.group_id)
            .limit(limit)
            .offset((page - 1) * limit)
        )
        async with self.engine.connect() as connection:
            heads = (await connection.execute(heads_query)).all()
            ids = [head.group_id for head in heads]
            rows = await connection.execute(
                select(videos, *(members.c[name] for name in MATCH_FIELDS), members.c.group_id)
                .join(members, members.c.video_id == videos.c.id)
                .where(members.c.group_id.in_(ids), videos.c.is_valid.is_(True))
            )
            found: dict[uuid.UUID, list[GroupMember]] = {group_id: [] for group_id in ids}
            for row in rows:
                found[row.group_id].append(GroupMember(Video.from_row(row), _match_of(row)))
            if heads:
                total = int(heads[0].total)
            else:  # past the last page: the window has no row to say how many there are
                counted = heads_query.limit(None).offset(None).subquery()
                total = int(
                    (await connection.execute(select(func.count()).select_from(counted))).scalar()
                    or 0
                )
        # The first member (id = group id) first, then the best matches.
        result = []
        for group_id, group in found.items():
            group.sort(key=lambda m: (m.video.id != group_id, -(m.match.score if m.match else 0)))
            result.append(NearDuplicateGroup(group_id, group))
        return result, total


def _candidates(
    video_id: uuid.UUID, keys: Sequence[int], max_key_videos: int, limit: int, min_shared: int
) -> Select[Any]:
    k, held = video_fingerprint_keys.c, video_fingerprint_key_counts.c
    # The asked keys that tell something: held by at most `max_key_videos` videos (a test
    # card's, a black second's are not), by their counts (0023), one look-up each.
    telling = (
        select(func.array_agg(held.key))
        .where(held.key == any_(cast(list(keys), ARRAY(BigInteger))))
        .where(held.videos <= max_key_videos)
        .scalar_subquery()
    )
    # An array, computed once (an InitPlan), that the index scan's condition is on.
    telling_keys = cast(telling, ARRAY(BigInteger))
    # Their videos by one scan of the primary key (an index-only scan), counted by video.
    shared = func.count().label("shared")
    counted = (
        select(k.video_id, shared)
        .where(k.key == any_(telling_keys), k.video_id != video_id)
        .group_by(k.video_id)
        .having(func.count() >= min_shared)
        .subquery("counted")
    )
    f = fingerprints.c
    # Validity by a subquery per counted video (few), not a join the planner would make
    # by reading every video: it cannot tell how few pass the HAVING.
    valid = select(videos.c.is_valid).where(videos.c.id == counted.c.video_id).scalar_subquery()
    ranked = (
        select(counted.c.video_id, counted.c.shared, func.count().over().label("proposed"))
        .where(valid.is_(True))
        .order_by(counted.c.shared.desc(), counted.c.video_id)
        .limit(limit)
        .subquery("ranked")
    )
    return (
        select(f.video_id, f.frame_hashes, f.mirrored_hashes, ranked.c.shared, ranked.c.proposed)
        .join(ranked, ranked.c.video_id == f.video_id)
        .order_by(ranked.c.shared.desc(), f.video_id)
    )


def _pair_row(video_id: uuid.UUID, other: uuid.UUID, match: Match) -> dict[str, Any]:
    """A pair stored as (smaller id, larger id), its match read from the smaller."""
    if video_id < other:
        return {"video_id": video_id, "other_id": other, **_match_values(match)}
    return {"video_id": other, "other_id": video_id, **_match_values(reversed_match(match))}


async def _pairs_touching(connection: AsyncConnection, ids: set[uuid.UUID]) -> dict[Edge, Match]:
    rows = await connection.execute(
        select(pairs).where(or_(pairs.c.video_id.in_(ids), pairs.c.other_id.in_(ids)))
    )
    return {(row.video_id, row.other_id): _match_of(row) for row in rows}  # type: ignore[misc]


async def _closure(
    connection: AsyncConnection, seeds: set[uuid.UUID]
) -> tuple[set[uuid.UUID], dict[Edge, Match]]:
    """Every video reachable from the seeds through pairs or recorded groups, and the pairs.

    Group mates count as reachable: a group may hold members that no pair links any more
    (a bridge left), and those must regroup too.
    """
    reached, frontier = set(seeds), set(seeds)
    found: dict[Edge, Match] = {}
    while frontier:
        edges = await _pairs_touching(connection, frontier)
        found.update(edges)
        group_ids = select(members.c.group_id).where(members.c.video_id.in_(frontier))
        mates = await connection.execute(
            select(members.c.video_id).where(members.c.group_id.in_(group_ids))
        )
        frontier = ({v for edge in edges for v in edge} | set(mates.scalars())) - reached
        reached |= frontier
    return reached, found


async def _facts(connection: AsyncConnection, ids: set[uuid.UUID]) -> dict[uuid.UUID, MemberFacts]:
    """The keeper facts of the valid, fingerprinted videos among `ids`."""
    v = videos.c
    rows = await connection.execute(
        select(v.id, v.width, v.height, v.duration_seconds, v.file_size, v.created_at)
        .join(fingerprints, fingerprints.c.video_id == v.id)
        .where(v.id.in_(ids), v.is_valid.is_(True))
    )
    return {
        row.id: MemberFacts(
            row.id,
            (row.width or 0) * (row.height or 0),
            row.duration_seconds or 0,
            row.file_size or 0,
            row.created_at,
        )
        for row in rows
    }


async def _regroup(connection: AsyncConnection, seeds: set[uuid.UUID]) -> list[Unexplained]:
    reached, edges = await _closure(connection, seeds)
    facts = await _facts(connection, reached)
    groups: list[Group] = plan_groups(edges, facts)
    await connection.execute(delete(members).where(members.c.video_id.in_(reached)))
    unexplained: list[Unexplained] = []
    rows = []
    for group in groups:
        for member in group.members:
            match = None if member == group.first else match_between(group.first, member, edges)
            if member != group.first and match is None:
                unexplained.append(Unexplained(group.first, member))
            rows.append({"video_id": member, "group_id": group.first, **_match_values(match)})
    if rows:
        await connection.execute(insert(members), rows)
    return unexplained


__all__ = [
    "REGROUP_LOCK",
    "Candidate",
    "CandidatePage",
    "GroupMember",
    "NearDuplicateGroup",
    "NearDuplicateRepository",
    "Unexplained",
]
