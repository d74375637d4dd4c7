"""Keyset pages read the OFFSET listing's rows, in every order, with NULLs and ties.

Hypothesis draws small tables in which most rows share a sort value or have none; the
OFFSET listing (the seed's `page`) is the reference each walk by keyset must equal.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.api.schemas import SortKey
from videolib.shared.db.repository import Keyset, VideoListing, VideoPage, VideoQuery
from videolib.shared.db.schema import videos

SORTS: tuple[str, ...] = get_args(SortKey)
START = datetime(2026, 1, 1, tzinfo=UTC)

# Few distinct values, None among them: ties and NULLs are the common case, not the edge.
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "title": st.sampled_from([None, "a", "b", "B", "c c"]),
            "duration_seconds": st.sampled_from([None, 0, 7]),
            "file_size": st.sampled_from([None, 1, 2**40]),
            # Microseconds apart: the cursor must keep what the JSON's milliseconds cut.
            "created_at": st.sampled_from([START + timedelta(microseconds=n) for n in range(3)]),
            "directory_type": st.sampled_from(["videos", "gifs"]),
        }
    ),
    max_size=24,
)
FILTERS = st.sampled_from([{}, {"directory_type": "videos"}])


async def replace_rows(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE videos CASCADE"))
        for number, values in enumerate(rows):
            path = f"{values['directory_type']}/{number}.mp4"
            await connection.execute(
                insert(videos).values(path=path, filename=f"{number}.mp4", **values)
            )


def ids(page: VideoPage) -> list[str]:
    return [item["id"] for item in json.loads(page.items_json)]


async def offset_listing(listing: VideoListing, query: VideoQuery) -> list[list[str]]:
    """Every page of the OFFSET listing, the last one empty."""
    pages: list[list[str]] = []
    number = 1
    while True:
        page = await listing.list_page(VideoQuery(**_fields(query), page=number))
        pages.append(ids(page))
        if not pages[-1]:
            return pages
        number += 1


def _fields(query: VideoQuery) -> dict[str, Any]:
    return {
        "directory_type": query.directory_type,
        "sort": query.sort,
        "limit": query.limit,
    }


def keyset_of(query: VideoQuery, key: Any, *, backward: bool = False) -> VideoQuery:
    return VideoQuery(**_fields(query), keyset=Keyset(query.sort, key[0], key[1], backward))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=ROWS,
    sort=st.sampled_from(SORTS),
    limit=st.integers(1, 5),
    filters=FILTERS,
)
async def test_keyset_walks_equal_the_offset_listing(
    engine: AsyncEngine,
    rows: list[dict[str, Any]],
    sort: str,
    limit: int,
    filters: dict[str, str],
) -> None:
    await replace_rows(engine, rows)
    listing = VideoListing(engine)
    query = VideoQuery(sort=sort, limit=limit, **filters)  # type: ignore[arg-type]
    reference = [page for page in await offset_listing(listing, query) if page]

    # Forwards: page 1 by OFFSET, then each next page past the last row of the one before.
    first = await listing.list_page(query)
    forward = [ids(first)] if first.rows else []
    last = first.last
    page = first
    while last is not None and page.rows == limit:
        page = await listing.list_page(keyset_of(query, last))
        if page.rows:
            forward.append(ids(page))
        if not page.more:
            break
        last = page.last
    assert forward == reference, (rows, sort, limit, filters, forward, reference)
    assert page.more in (False, None)

    # Backwards from the last page: the same pages, in reverse, and nothing before page 1.
    if len(reference) > 1:
        start = await listing.list_page(VideoQuery(**_fields(query), page=len(reference)))
        assert ids(start) == reference[-1]
        backward: list[list[str]] = []
        key = start.first
        while key is not None:
            page = await listing.list_page(keyset_of(query, key, backward=True))
            backward.insert(0, ids(page))
            key = page.first if page.more else None
        assert backward == reference[:-1]


async def test_offset_pages_carry_the_keys_of_their_first_and_last_rows(
    engine: AsyncEngine,
) -> None:
    """createdAt to the microsecond: the JSON's milliseconds would lose a tie's order."""
    moments = [START + timedelta(microseconds=n) for n in (1, 2, 3)]
    await replace_rows(
        engine, [{"created_at": moment, "directory_type": "videos"} for moment in moments]
    )
    page = await VideoListing(engine).list_page(VideoQuery(limit=2))
    assert page.first is not None and page.last is not None
    assert (page.first[0], page.last[0]) == (moments[2], moments[1])
    assert [str(page.first[1]), str(page.last[1])] == ids(page)
    empty = await VideoListing(engine).list_page(VideoQuery(limit=2, page=5))
    assert (empty.first, empty.last, empty.rows) == (None, None, 0)


async def test_rows_changed_between_pages_neither_repeat_nor_vanish(engine: AsyncEngine) -> None:
    """Keyset's guarantee: a row inserted before the cursor or deleted after it shifts
    nothing, unlike OFFSET, which repeats a row after an insert ahead of it."""
    await replace_rows(
        engine,
        [
            {"created_at": START + timedelta(minutes=n), "directory_type": "videos"}
            for n in range(6)
        ],
    )
    listing = VideoListing(engine)
    query = VideoQuery(limit=2)
    first = await listing.list_page(query)
    # Meanwhile: a newer row (before the cursor) arrives; the next page's first row goes.
    async with engine.begin() as connection:
        await connection.execute(
            insert(videos).values(
                path="videos/new.mp4",
                filename="new.mp4",
                directory_type="videos",
                created_at=START + timedelta(hours=1),
            )
        )
        everything = (
            await connection.execute(text("SELECT id FROM videos ORDER BY created_at DESC"))
        ).scalars()
        order = [str(row_id) for row_id in everything]
        gone = order[3]  # the first of the original page 2
        await connection.execute(text("DELETE FROM videos WHERE id = :id"), {"id": gone})
    assert first.last is not None
    second = await listing.list_page(keyset_of(query, first.last))
    third = await listing.list_page(keyset_of(query, second.last))
    seen = ids(first) + ids(second) + ids(third)
    assert len(seen) == len(set(seen)) == 5  # the six old rows but the deleted one
    assert gone not in seen
    assert seen == [row_id for row_id in order[1:] if row_id != gone]
    assert third.more is False
    # OFFSET page 2 now repeats the last row of page 1.
    offset_second = await listing.list_page(VideoQuery(limit=2, page=2))
    assert ids(offset_second)[0] == ids(first)[-1]


async def test_a_cursor_row_that_was_deleted_still_marks_the_place(engine: AsyncEngine) -> None:
    await replace_rows(
        engine,
        [{"created_at": START + timedelta(minutes=n), "directory_type": "gifs"} for n in range(4)],
    )
    listing = VideoListing(engine)
    first = await listing.list_page(VideoQuery(limit=2))
    assert first.last is not None
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM videos WHERE id = :id"), {"id": first.last[1]})
    after = await listing.list_page(keyset_of(VideoQuery(limit=2), first.last))
    assert after.rows == 2 and after.more is False
    nowhere = (START - timedelta(days=9), uuid.uuid4())  # older than all: an empty page
    empty = await listing.list_page(keyset_of(VideoQuery(limit=2), nowhere, backward=False))
    assert (empty.rows, empty.more, empty.items_json) == (0, False, "[]")


_MANY = """
INSERT INTO videos (path, filename, directory_type, title, duration_seconds, file_size,
    created_at)
SELECT 'videos/' || i || '.mp4', i || '.mp4', 'videos',
    CASE WHEN i % 10 <> 0 THEN 'title ' || (i % 997) END,
    CASE WHEN i % 7 <> 0 THEN i % 300 END,
    CASE WHEN i % 11 <> 0 THEN 1000 + i % 5000 END,
    timestamptz '2026-01-01' + make_interval(secs => i / 3)
FROM generate_series(1, 20000) AS i
"""
_SCAN = re.compile(
    r"(Index Scan|Index Only Scan|Seq Scan|Bitmap Heap Scan).*actual time=\S+ rows=([\d.]+)"
)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("backward", [False, True])
async def test_a_deep_keyset_page_reads_an_index_range_not_the_rows_before(
    engine: AsyncEngine, sort: str, backward: bool
) -> None:
    """Page 500 of 20,000 rows: each scan of the plan stops after about the page's 21 rows,
    where OFFSET reads 10,000."""
    async with engine.begin() as connection:
        await connection.execute(text(_MANY))
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("ANALYZE videos"))
    listing = VideoListing(engine)
    deep = await listing.list_page(VideoQuery(sort=sort, page=500), with_total=False)
    assert deep.rows == 20 and deep.first is not None and deep.last is not None
    key = deep.first if backward else deep.last
    query = VideoQuery(sort=sort, keyset=Keyset(sort, key[0], key[1], backward))
    plan = await listing.explain_list(query, with_total=False)
    scans = _SCAN.findall(plan)
    assert scans, plan
    assert all(kind != "Seq Scan" for kind, _rows in scans), plan
    # 21 rows, or a few more when PostgreSQL reads idx_videos_created_at (without the id)
    # and sorts the boundary's tie group (three rows share each created_at here).
    assert all(float(rows) <= 25 for _kind, rows in scans), plan
    assert "Index Cond" in plan and "OFFSET" not in plan.upper(), plan
