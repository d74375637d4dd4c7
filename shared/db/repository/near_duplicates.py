"""Statements of near-duplicate detection: candidates by index key, pairs, groups.

Candidates come from the GIN index on `video_fingerprints.index_keys`: rows holding both
keys of a pair (`@>` on bigint arrays), one lookup per pair, ranked by the pairs held;
`compare` (shared/media/similarity.py) verifies the best of them in Python. Pairs
and groups are written under one transaction-level advisory lock, so that two videos
refreshed at once (two fingerprint workers) cannot each regroup from a stale view.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Select, cast, delete, func, or_, select, true, update
from sqlalchemy.dialects import postgresql
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
    video_fingerprints as fingerprints,
)
from videolib.shared.db.schema import videos
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
#: Two index keys a candidate must both hold (shared/near_duplicates.py: key_pairs).
KeyPair = tuple[int, int]
MATCH_FIELDS = tuple(Match.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fingerprinted video that holds both keys of some of the pairs asked about."""

    video_id: uuid.UUID
    hashes: FrameHashes
    pairs_held: int


@dataclass(frozen=True, slots=True)
class CandidatePage:
    """The best candidates, and how many videos the index proposed in all."""

    candidates: list[Candidate]  # the most pairs held first
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
        key_pairs: Sequence[KeyPair],
        per_pair: int,
        limit: int,
        min_held: int = 1,
    ) -> CandidatePage:
        """The `limit` valid videos (not `video_id`) holding both keys of the most pairs,
        at least `min_held` of them.

        Each pair is looked up on its own through the GIN index (`@>`), at most `per_pair`
        videos each, so a pair every video holds (a black second) costs no more than a
        rare one; the videos are then ranked by the pairs they hold.
        """
        if not key_pairs:
            return CandidatePage([], proposed=0)
        async with self.engine.connect() as connection:
            statement = _candidates(video_id, key_pairs, per_pair, limit, min_held)
            rows = (await connection.execute(statement)).all()
        found = [Candidate(row.video_id, _hashes(row), row.held) for row in rows]
        return CandidatePage(found, proposed=int(rows[0].proposed) if rows else 0)

    @translate_errors
    async def explain_candidates(
        self,
        video_id: uuid.UUID,
        key_pairs: Sequence[KeyPair],
        per_pair: int,
        limit: int,
        min_held: int = 1,
    ) -> str:
        """EXPLAIN ANALYZE of the candidates' statement (benchmark, tests)."""
        compiled = _candidates(video_id, key_pairs, per_pair, limit, min_held).compile(
            dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        async with self.engine.connect() as connection:
            result = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")
            return "\n".join(row[0] for row in result)

    @translate_errors
    async def record_matches(
        self, video_id: uuid.UUID, matches: Mapping[uuid.UUID, Match] | None
    ) -> list[Unexplained]:
        """Replace the video's pairs with `matches` (a = video_id; None: it leaves, being
        invalid, gone or unfingerprinted), and regroup every group it touches.

        Returns the members whose match with their group's first is not a stored pair.
        """
        async with self.engine.begin() as connection:
            await connection.execute(select(func.pg_advisory_xact_lock(REGROUP_LOCK)))
            await connection.execute(
                delete(pairs).where(or_(pairs.c.video_id == video_id, pairs.c.other_id == video_id))
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
        total = int(heads[0].total) if heads else 0
        # The first member (id = group id) first, then the best matches.
        result = []
        for group_id, group in found.items():
            group.sort(key=lambda m: (m.video.id != group_id, -(m.match.score if m.match else 0)))
            result.append(NearDuplicateGroup(group_id, group))
        return result, total


def _candidates(
    video_id: uuid.UUID, key_pairs: Sequence[KeyPair], per_pair: int, limit: int, min_held: int
) -> Select[Any]:
    f = fingerprints.c
    bigints = ARRAY(BigInteger)
    pairs = (
        func.unnest(
            cast([a for a, _ in key_pairs], bigints), cast([b for _, b in key_pairs], bigints)
        )
        .table_valued("a", "b")
        .render_derived(name="pair")
    )
    # A lateral lookup per pair: the GIN index intersects its two posting lists.
    hit = (
        select(f.video_id)
        .join(videos, videos.c.id == f.video_id)
        .where(
            f.index_keys.op("@>")(postgresql.array([pairs.c.a, pairs.c.b])),
            f.video_id != video_id,
            videos.c.is_valid.is_(True),
        )
        .limit(per_pair)
        .lateral("hit")
    )
    held = func.count().label("held")
    ranked = (
        select(hit.c.video_id, held, func.count().over().label("proposed"))
        .select_from(pairs.join(hit, true()))
        .group_by(hit.c.video_id)
        .having(func.count() >= min_held)
        .order_by(held.desc(), hit.c.video_id)
        .limit(limit)
        .subquery("ranked")
    )
    return (
        select(f.video_id, f.frame_hashes, f.mirrored_hashes, ranked.c.held, ranked.c.proposed)
        .join(ranked, ranked.c.video_id == f.video_id)
        .order_by(ranked.c.held.desc(), f.video_id)
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
    "KeyPair",
    "NearDuplicateGroup",
    "NearDuplicateRepository",
    "Unexplained",
]
