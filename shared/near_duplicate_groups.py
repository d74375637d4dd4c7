"""Which videos form a near-duplicate group, and which of them comes first (pure).

A group is a connected component of the matched pairs: if a trimmed copy matches the
original and a mirrored upload matches the trimmed copy, all three are one group, even when
the mirrored upload and the original share too little to match on their own. Components
rather than clusters around a keeper, because a component does not depend on the order the
videos arrived in: the same library gives the same groups however it was scanned.

The group's first member is the suggested keeper: the most pixels, then the longest, then
the largest file, then the oldest record. Every other member is explained against it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from videolib.shared.media.similarity import Match


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What decides which member of a group comes first."""

    id: uuid.UUID
    pixels: int  # displayed width x height; 0 when unknown
    duration_seconds: int  # 0 when unknown
    file_size: int  # 0 when unknown
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Group:
    """One near-duplicate group: its first member, then the others in keeper order."""

    members: tuple[uuid.UUID, ...]

    @property
    def first(self) -> uuid.UUID:
        return self.members[0]


Edge = tuple[uuid.UUID, uuid.UUID]


def components(nodes: Iterable[uuid.UUID], edges: Iterable[Edge]) -> list[frozenset[uuid.UUID]]:
    """The connected components of `nodes` under `edges` (edges to other nodes ignored)."""
    parent = {node: node for node in nodes}

    def root(node: uuid.UUID) -> uuid.UUID:
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving
            node = parent[node]
        return node

    for a, b in edges:
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    found: dict[uuid.UUID, set[uuid.UUID]] = {}
    for node in parent:
        found.setdefault(root(node), set()).add(node)
    return sorted((frozenset(c) for c in found.values()), key=min)


def keeper_order(facts: MemberFacts) -> tuple[int, int, int, datetime, uuid.UUID]:
    """Sort key: the best copy to keep first."""
    return (-facts.pixels, -facts.duration_seconds, -facts.file_size, facts.created_at, facts.id)


def plan_groups(edges: Iterable[Edge], facts: Mapping[uuid.UUID, MemberFacts]) -> list[Group]:
    """The groups of two or more among the videos of `facts`, each in keeper order.

    Videos without facts (deleted, invalid) are left out, and so are the edges through them:
    a group whose bridge went splits.
    """
    groups = []
    for component in components(facts, edges):
        if len(component) >= 2:
            ordered = sorted(component, key=lambda member: keeper_order(facts[member]))
            groups.append(Group(tuple(ordered)))
    return sorted(groups, key=lambda group: group.first)


def reversed_match(match: Match) -> Match:
    """The same match read from the other side: b as a, a as b."""
    return Match(
        score=match.score,
        offset_seconds=-match.offset_seconds,
        a_start=match.b_start,
        a_end=match.b_end,
        b_start=match.a_start,
        b_end=match.a_end,
        matched_seconds=match.matched_seconds,
        mirrored=match.mirrored,
        mean_distance=match.mean_distance,
    )


def match_between(first: uuid.UUID, member: uuid.UUID, pairs: Mapping[Edge, Match]) -> Match | None:
    """How `member` matches `first` (a = first), from the pairs stored as (smaller, larger)."""
    if first < member:
        return pairs.get((first, member))
    stored = pairs.get((member, first))
    return None if stored is None else reversed_match(stored)
