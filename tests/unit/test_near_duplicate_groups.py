"""Near-duplicate groups: components of the matched pairs, the keeper first (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from videolib.shared.media.similarity import Match
from videolib.shared.near_duplicate_groups import (
    Group,
    MemberFacts,
    components,
    match_between,
    plan_groups,
    reversed_match,
)

IDS = [uuid.UUID(int=n) for n in range(1, 10)]
A, B, C, D, E, F = IDS[:6]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def facts(
    video: uuid.UUID, pixels: int = 100, duration: int = 60, size: int = 1000, age_s: int = 0
) -> MemberFacts:
    return MemberFacts(video, pixels, duration, size, NOW - timedelta(seconds=age_s))


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ([], [{A}, {B}, {C}]),
        ([(A, B)], [{A, B}, {C}]),
        ([(A, B), (B, C)], [{A, B, C}]),  # linked through B
        ([(C, B), (A, C)], [{A, B, C}]),
        ([(A, D)], [{A}, {B}, {C}]),  # an edge to a node not given is ignored
        ([(A, A)], [{A}, {B}, {C}]),
    ],
)
def test_components(
    edges: list[tuple[uuid.UUID, uuid.UUID]], expected: list[set[uuid.UUID]]
) -> None:
    assert [set(c) for c in components([A, B, C], edges)] == expected


@pytest.mark.parametrize(
    ("members", "first"),
    [
        ([facts(A, pixels=100), facts(B, pixels=200)], B),  # most pixels
        ([facts(A, duration=50), facts(B, duration=60)], B),  # then the longest
        ([facts(A, size=5), facts(B, size=9)], B),  # then the largest file
        ([facts(A, age_s=0), facts(B, age_s=10)], B),  # then the oldest record
        ([facts(B), facts(A)], A),  # then the smaller id: the same answer every time
    ],
)
def test_the_first_member_is_the_keeper(members: list[MemberFacts], first: uuid.UUID) -> None:
    (group,) = plan_groups([(A, B)], {m.id: m for m in members})
    assert group.first == first and set(group.members) == {A, B}


def test_a_video_without_facts_leaves_and_its_bridge_goes_with_it() -> None:
    edges = [(A, B), (B, C), (D, E)]
    everyone = {v: facts(v) for v in (A, B, C, D, E)}
    assert plan_groups(edges, everyone) == [Group((A, B, C)), Group((D, E))]
    without_b = {v: f for v, f in everyone.items() if v != B}
    assert plan_groups(edges, without_b) == [Group((D, E))]  # A and C do not match alone


def test_single_videos_are_no_group() -> None:
    assert plan_groups([], {A: facts(A), F: facts(F)}) == []


MATCH = Match(
    score=0.9, offset_seconds=5, a_start=0, a_end=40, b_start=5, b_end=45,
    matched_seconds=36, mirrored=True,
)  # fmt: skip


def test_a_reversed_match_reads_from_the_other_side() -> None:
    back = reversed_match(MATCH)
    assert (back.offset_seconds, back.a_start, back.a_end, back.b_start, back.b_end) == (
        -5, 5, 45, 0, 40,
    )  # fmt: skip
    assert back.mirrored and back.score == 0.9 and reversed_match(back) == MATCH


def test_match_between_orients_the_stored_pair_from_the_first() -> None:
    pairs = {(A, B): MATCH}
    assert match_between(A, B, pairs) == MATCH
    assert match_between(B, A, pairs) == reversed_match(MATCH)
    assert match_between(A, C, pairs) is None
