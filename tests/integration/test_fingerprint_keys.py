"""video_fingerprint_keys (migration 0017): a trigger keeps it in step with each
fingerprint's index keys, its backfill covers fingerprints stored before it, and the
candidates' statement counts shared keys from it, leaving out keys too many videos hold."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from alembic import command
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import insert_rows, row
from tests.daemon.harness import eventually
from videolib.shared.db import migrate
from videolib.shared.db.repository import NearDuplicateRepository
from videolib.shared.db.schema import (
    video_fingerprint_key_counts,
    video_fingerprint_keys,
    video_fingerprints,
    videos,
)


async def _fingerprint(engine: AsyncEngine, video_id: uuid.UUID, keys: list[int]) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(video_fingerprints).values(
                video_id=video_id,
                frame_hashes=[1, 2, 3],
                mirrored_hashes=[4, 5, 6],
                index_keys=keys,
                algorithm=1,
            )
        )


async def _keys(engine: AsyncEngine) -> set[tuple[int, uuid.UUID]]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(video_fingerprint_keys))
        return {(r.key, r.video_id) for r in rows}


async def _videos(engine: AsyncEngine, count: int) -> list[uuid.UUID]:
    ids = await insert_rows(engine, *(row(f"videos/v{i}.mp4") for i in range(count)))
    return [uuid.UUID(i) for i in ids]


async def test_the_trigger_keeps_the_keys_in_step(engine: AsyncEngine) -> None:
    a, b = await _videos(engine, 2)
    await _fingerprint(engine, a, [10, 20, 30, 30])  # a repeated key is one row
    await _fingerprint(engine, b, [20, 40])
    assert await _keys(engine) == {(10, a), (20, a), (30, a), (20, b), (40, b)}

    async with engine.begin() as connection:
        await connection.execute(
            update(video_fingerprints)
            .where(video_fingerprints.c.video_id == a)
            .values(index_keys=[30, 50])
        )
        # Another column changes, the keys do not: b's rows stay as they are.
        await connection.execute(
            update(video_fingerprints).where(video_fingerprints.c.video_id == b).values(algorithm=2)
        )
    assert await _keys(engine) == {(30, a), (50, a), (20, b), (40, b)}

    async with engine.begin() as connection:  # the video deleted: its fingerprint cascades
        await connection.execute(delete(videos).where(videos.c.id == a))
    assert await _keys(engine) == {(20, b), (40, b)}
    async with engine.begin() as connection:  # the fingerprint alone deleted
        await connection.execute(
            delete(video_fingerprints).where(video_fingerprints.c.video_id == b)
        )
    assert await _keys(engine) == set()


async def test_the_migration_backfills_stored_fingerprints(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(
            lambda sync: command.downgrade(migrate.alembic_config(sync), "0016")
        )
    (a,) = await _videos(engine, 1)
    await _fingerprint(engine, a, [7, 8])
    await migrate.upgrade(engine)
    assert await _keys(engine) == {(7, a), (8, a)}


async def test_candidates_rank_by_keys_shared_and_skip_common_keys(engine: AsyncEngine) -> None:
    me, copy, weak, *others = await _videos(engine, 6)
    await _fingerprint(engine, me, [1, 2, 3, 4, 99])
    await _fingerprint(engine, copy, [1, 2, 3, 99])
    await _fingerprint(engine, weak, [4, 99])
    for other in others:  # 99: a test card every video shows
        await _fingerprint(engine, other, [99, 500])
    repository = NearDuplicateRepository(engine)

    # 99 is held by 6 videos, over the bound of 5: it counts for nobody.
    page = await repository.candidates(me, [1, 2, 3, 4, 99], 5, 10, 1)
    assert [(c.video_id, c.shared_keys) for c in page.candidates] == [(copy, 3), (weak, 1)]
    assert page.proposed == 2
    assert page.candidates[0].hashes.seconds == (1, 2, 3)
    # Every asked key over the bound, or held by nobody: nothing to read, no candidate.
    for keys in ([99], [12345]):
        page = await repository.candidates(me, keys, 5, 10, 1)
        assert (page.candidates, page.proposed) == ([], 0)

    # Under a bound it fits, 99 counts; the limit keeps the best, `proposed` counts all.
    page = await repository.candidates(me, [1, 2, 3, 4, 99], 6, 2, 1)
    assert [(c.video_id, c.shared_keys) for c in page.candidates] == [(copy, 4), (weak, 2)]
    assert page.proposed == 5
    # At least two shared: the others (only 99) are not proposed.
    page = await repository.candidates(me, [1, 2, 3, 4, 99], 6, 10, 2)
    assert page.proposed == 2

    async with engine.begin() as connection:  # an invalid (missing) copy is not proposed
        await connection.execute(
            update(videos)
            .where(videos.c.id == copy)
            .values(is_valid=False, invalid_reason="missing")
        )
    page = await repository.candidates(me, [1, 2, 3, 4, 99], 5, 10, 1)
    assert [c.video_id for c in page.candidates] == [weak]


async def _counts(engine: AsyncEngine) -> dict[int, int]:
    """Each key's count of holders (0023), the keys no video holds any more left out."""
    c = video_fingerprint_key_counts.c
    async with engine.connect() as connection:
        rows = await connection.execute(select(c.key, c.videos).where(c.videos != 0))
        return {r.key: r.videos for r in rows}


def _held(keys: set[tuple[int, uuid.UUID]]) -> dict[int, int]:
    """What the counts must be: the keys table's rows counted by key."""
    return dict(Counter(key for key, _ in keys))


async def test_the_key_counts_follow_every_change_of_the_keys(engine: AsyncEngine) -> None:
    a, b, c = await _videos(engine, 3)
    await _fingerprint(engine, a, [10, 20, 30, 30])
    await _fingerprint(engine, b, [20, 30, 40])
    await _fingerprint(engine, c, [30])
    assert await _counts(engine) == {10: 1, 20: 2, 30: 3, 40: 1}

    async with engine.begin() as connection:  # new keys for a: its old ones no longer count
        await connection.execute(
            update(video_fingerprints)
            .where(video_fingerprints.c.video_id == a)
            .values(index_keys=[30, 50])
        )
    assert await _counts(engine) == {20: 1, 30: 3, 40: 1, 50: 1}
    async with engine.begin() as connection:  # b's video deleted: the keys' cascade counts
        await connection.execute(delete(videos).where(videos.c.id == b))
    assert await _counts(engine) == {30: 2, 50: 1} == _held(await _keys(engine))
    async with engine.begin() as connection:  # and a change rolled back counts for nothing
        await connection.execute(delete(video_fingerprints))
        await connection.rollback()
    assert await _counts(engine) == {30: 2, 50: 1}
    async with engine.begin() as connection:
        await connection.execute(delete(video_fingerprints))
    assert await _counts(engine) == {} == _held(await _keys(engine))


async def test_the_migration_counts_the_stored_keys(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(
            lambda sync: command.downgrade(migrate.alembic_config(sync), "0021")
        )
    a, b, c = await _videos(engine, 3)
    await _fingerprint(engine, a, [7, 8])
    await _fingerprint(engine, b, [8])
    await migrate.upgrade(engine)
    assert await _counts(engine) == {7: 1, 8: 2}
    await _fingerprint(engine, c, [7])  # and the trigger is on
    assert await _counts(engine) == {7: 2, 8: 2}


async def test_two_fingerprints_written_at_once_both_count(engine: AsyncEngine) -> None:
    # Two fingerprint workers: the second's shared keys wait for the first's commit, then
    # add to its counts (in key order, whatever the order of index_keys: no deadlock).
    a, b = await _videos(engine, 2)
    async with engine.connect() as first:
        transaction = await first.begin()
        await first.execute(
            insert(video_fingerprints).values(
                video_id=a, frame_hashes=[1], mirrored_hashes=[1], index_keys=[1, 2, 3], algorithm=1
            )
        )
        second = asyncio.create_task(_fingerprint(engine, b, [3, 2, 4]))

        async def second_waits() -> bool:
            async with engine.connect() as watcher:
                waiting = await watcher.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query ILIKE '%video_fingerprint%'"
                    )
                )
            return bool(waiting)

        await eventually(second_waits, what="the second writer to wait on the first's counts")
        await transaction.commit()
    await asyncio.wait_for(second, timeout=30)
    assert await _counts(engine) == {1: 1, 2: 2, 3: 2, 4: 1} == _held(await _keys(engine))
