"""The API's listing of videos: filters, search, order and pages, compiled once per shape.

Also the other read-only views of the library the API shows: duplicates, tags, counts.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Text, any_, bindparam, cast, func, literal_column, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.records import Video
from videolib.shared.db.schema import videos
from videolib.shared.db.video_json import video_json_columns

from .errors import is_connection_problem, translate_errors
from .keyset import Keyset, KeyValue, walk_order, walked_rows
from .search import (
    RANKING_ONLY,
    SEARCH,
    SEARCH_COLUMNS,
    any_column_condition,
    like_pattern,
    ranked_page,
    search_bindings,
    substring_condition,
)

#: The API's sort keys and the columns they order by.
SORT_COLUMNS = {
    "createdAt": videos.c.created_at,
    "title": videos.c.title,
    "durationSeconds": videos.c.duration_seconds,
    "fileSize": videos.c.file_size,
}


@dataclass(frozen=True, slots=True)
class VideoQuery:
    """The filters, order and page of a video listing (already validated)."""

    directory_type: str | None = None
    orientation: str | None = None
    qualities: tuple[str, ...] | None = None
    producer: str | None = None
    creator: str | None = None
    has_audio: bool | None = None
    is_valid: bool | None = True
    search: str | None = None
    sort: str = "-createdAt"
    page: int = 1
    limit: int = 20
    #: A keyset page (after or before a row) instead of `page`; its sort is `sort`.
    keyset: Keyset | None = None
    #: Rows skipped instead of (page - 1) * limit: a search's cursor (its pages are ranked,
    #: whole words first, so they have no keyset; api/cursors.py).
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    file_hash: str
    copies: int
    file_size: int
    wasted_bytes: int
    videos: list[Video]


# The filters a listing may use, by the name of the value each binds.
_EQUALS = ("directory_type", "orientation", "has_audio", "is_valid")
_CONTAINS = ("producer", "creator")


def _list_bindings(query: VideoQuery) -> dict[str, Any]:
    """The values a listing binds, one per filter in use (the statement is cached per set)."""
    bound: dict[str, Any] = {
        name: getattr(query, name) for name in _EQUALS if getattr(query, name) is not None
    }
    if query.qualities:
        bound["qualities"] = list(query.qualities)
    for name in _CONTAINS:
        if value := getattr(query, name):
            bound[name] = like_pattern(value)
    if query.search:
        bound.update(search_bindings(query.search))
    return bound


def _list_condition(name: str) -> Any:
    c = videos.c
    if name in _EQUALS:
        return c[name] == bindparam(name)
    if name == "qualities":
        # = ANY(array), not an expanding IN: the statement text stays the same for any list.
        return c.quality == any_(bindparam(name, type_=ARRAY(Text)))
    if name in _CONTAINS:
        return c[name].ilike(bindparam(name), escape="\\")
    if name == SEARCH_COLUMNS:
        return any_column_condition(name)
    assert name == SEARCH, name
    return substring_condition()


def _order(sort: str, columns: Any = videos.c) -> list[Any]:
    """The ORDER BY of a sort key, over `videos` or a subquery of its columns."""
    key = SORT_COLUMNS[sort.lstrip("-")]
    column = columns[key.name]
    ordered = column.desc() if sort.startswith("-") else column.asc()
    # created_at is NOT NULL: the default null order keeps idx_videos_created_at usable;
    # the nullable keys put their nulls last either way.
    if key is not videos.c.created_at:
        ordered = ordered.nulls_last()
    # id breaks ties, so that pages do not overlap when many rows share a value.
    tie = columns.id.desc() if sort.startswith("-") else columns.id.asc()
    return [ordered, tie]


#: A row's place in a listing's order: its sort key's value and its id.
RowKey = tuple[KeyValue, uuid.UUID]


@dataclass(frozen=True, slots=True)
class VideoPage:
    """One page of a listing, as the JSON array PostgreSQL built (see video_json.py)."""

    items_json: str
    rows: int
    total: int | None  # None when the caller did not ask for it
    first: RowKey | None = None  # where the page starts and ends (None when empty)
    last: RowKey | None = None
    #: Keyset pages: whether more rows lie past the page the way it was read (None: OFFSET).
    more: bool | None = None


# From this many skipped rows on, a page's ids are found first (see _list_statement).
DEFERRED_JOIN_FROM = 1000


@functools.lru_cache(maxsize=256)
def _list_statement(filters: frozenset[str], sort: str, with_total: bool, deep: bool) -> Any:
    """One row: the page as a JSON array, its row count and (optionally) the total.

    Built once per set of filters, order and depth, with every value bound: constructing
    this statement costs several times what running it does.
    """
    conditions = [_list_condition(name) for name in sorted(filters - RANKING_ONLY)]
    # Written into the statement text, not bound: with a bound LIMIT the planner cannot
    # cost a generic plan and re-plans on every execution (a fifth of its CPU here).
    limit = bindparam("limit", type_=Integer, literal_execute=True)
    offset = bindparam("offset", type_=Integer, literal_execute=True)
    if SEARCH in filters:
        # Whole-word matches first (search.py); the order within each group is the sort's.
        others = [_list_condition(name) for name in sorted(filters - RANKING_ONLY - {SEARCH})]
        page = ranked_page(others, functools.partial(_order, sort), limit, offset)
    elif deep:
        # A deferred join: the page's ids first, from an index alone where one covers the
        # filters and the order (page 2,000 of the default listing reads 40,000 index
        # entries, not 40,000 rows: 6 ms, not 45), then those twenty rows, sorted again.
        # Near the start the direct read is cheaper: it needs no join and no second sort.
        ids = (
            select(videos.c.id)
            .where(*conditions)
            .order_by(*_order(sort))
            .limit(limit)
            .offset(offset)
            .subquery("ids")
        )
        rows = select(videos).join(ids, videos.c.id == ids.c.id)
        page = rows.order_by(*_order(sort)).subquery("page")
    else:
        rows = select(videos).where(*conditions).limit(limit).offset(offset)
        page = rows.order_by(*_order(sort)).subquery("page")
    return _page_row(page, sort, conditions, with_total)


@functools.lru_cache(maxsize=256)
def _keyset_statement(
    filters: frozenset[str], sort: str, with_total: bool, backward: bool, at_null: bool
) -> Any:
    """_list_statement's row for the page past a keyset's row (keyset.py), and `more`.

    `fetch` (the page's `limit` plus one) rows are read: the extra one says whether there
    is a page beyond. A page read backwards is put back in the listing's order.
    """
    conditions = [_list_condition(name) for name in sorted(filters - RANKING_ONLY)]
    key = SORT_COLUMNS[sort.lstrip("-")]
    walked = walked_rows(key, sort, conditions, backward=backward, at_null=at_null)
    walked = walked.cte("walked")
    limit = bindparam("limit", type_=Integer, literal_execute=True)
    nullable = bool(key.nullable)
    # The page's rows are the first `limit` in walk order, shown in the listing's order.
    taken = (
        select(walked)
        .order_by(
            *walk_order(walked.c[key.name], walked.c.id, sort, nullable=nullable, backward=backward)
        )
        .limit(limit)
        .subquery("taken")
    )
    listed = walk_order(taken.c[key.name], taken.c.id, sort, nullable=nullable, backward=False)
    page = select(taken).order_by(*listed).subquery("page")
    beyond = select(func.count()).select_from(walked).scalar_subquery() > limit
    return _page_row(page, sort, conditions, with_total, beyond.label("more"))


def _page_row(page: Any, sort: str, conditions: list[Any], with_total: bool, *extra: Any) -> Any:
    """One row of an ordered page: its items as one JSON array, its count, the keys of its
    rows (for cursors) and, if asked, the total of the listing."""
    # json_agg of whole shaped rows is a fifth cheaper for PostgreSQL than json_build_object
    # per row, and keeps the page's order: a subquery with ORDER BY is not flattened, and
    # the Aggregate reads its Sort's output directly. Lateral, so that the page's raw keys
    # stay in reach (createdAt is shaped to milliseconds; a cursor needs all of it).
    shaped = select(*video_json_columns(page.c)).correlate(page).lateral("video")
    items = func.json_agg(shaped.table_valued())
    key = page.c[SORT_COLUMNS[sort.lstrip("-")].name]
    columns: list[Any] = [
        func.coalesce(cast(items, Text), literal_column("'[]'")).label("items"),
        func.count().label("rows"),
        func.array_agg(key).label("keys"),
        func.array_agg(page.c.id).label("ids"),
        *extra,
    ]
    if with_total:
        # An uncorrelated scalar subquery runs once (an InitPlan), in the same round trip.
        # Not `count(*) OVER ()`: a window must read every matching row before LIMIT
        # applies, ~240 ms on 100,000 rows against ~1 ms for the page alone.
        total = select(func.count()).select_from(videos).where(*conditions).scalar_subquery()
        columns.append(total.label("total"))
    # An aggregate without GROUP BY: exactly one row, also past the last page.
    return select(*columns).select_from(page.join(shaped, true()))


def _shape(
    query: VideoQuery, filters: frozenset[str], with_total: bool
) -> tuple[Any, tuple[tuple[str, int], ...]]:
    """The statement of a query's shape (cached) and the page values written into its text."""
    if query.keyset is None:
        offset = query.offset if query.offset is not None else (query.page - 1) * query.limit
        deep = offset >= DEFERRED_JOIN_FROM
        statement = _list_statement(filters, query.sort, with_total, deep)
        return statement, (("limit", query.limit), ("offset", offset))
    keyset = query.keyset
    statement = _keyset_statement(
        filters, query.sort, with_total, keyset.backward, keyset.value is None
    )
    return statement, (("limit", query.limit), ("fetch", query.limit + 1))


def _listing(query: VideoQuery, with_total: bool) -> tuple[Any, dict[str, Any]]:
    """The listing statement of a query and the values to run it with."""
    bound = _list_bindings(query)
    statement, page_values = _shape(query, frozenset(bound), with_total)
    bound.update(page_values)
    bound.update(_keyset_bindings(query))
    return statement, bound


def _keyset_bindings(query: VideoQuery) -> dict[str, Any]:
    """The keyset's row, bound as `key_value` and `key_id` (nothing for an OFFSET page)."""
    if query.keyset is None:
        return {}
    return {"key_value": query.keyset.value, "key_id": query.keyset.id}


@functools.lru_cache(maxsize=512)
def _compiled_listing(
    statement: Any,
    filters: frozenset[str],
    dialect: Dialect,
    page_values: tuple[tuple[str, int], ...],
) -> tuple[str, tuple[str, ...]]:
    """A listing as asyncpg runs it: its text (the page written in) and the names of its
    $1, $2, ... Compiled once per filter set, order and page (statements are cached
    objects, one per shape: _shape)."""
    unrendered = dict.fromkeys([*filters, "key_value", "key_id"])
    statement = statement.params(unrendered, **dict(page_values))
    # only the page's values are rendered; the filters' and the keyset's stay $n
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), tuple(compiled.positiontup or ())


@functools.lru_cache(maxsize=512)
def _compiled_search(
    statement: Any,
    values: tuple[tuple[str, Any], ...],
    dialect: Dialect,
    page_values: tuple[tuple[str, int], ...],
) -> tuple[str, tuple[str, ...]]:
    """A search listing as asyncpg runs it: every value written into the text, none bound.

    A search's best plan depends on its term: the trigram index for a rare one, the page's
    order for a common one. A prepared statement's generic plan cannot know the term, and
    PostgreSQL keeps that plan after five runs when it looks cheaper (`tudio` in 100,000
    rows: 1.1 s with it, 0.3 ms planned for the term). Written in, each term is planned for
    itself (1-2 ms, once per connection while asyncpg keeps the statement).
    """
    bound = {name: list(value) if isinstance(value, tuple) else value for name, value in values}
    statement = statement.params(bound, **dict(page_values))
    compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return str(compiled), ()


def _written(bound: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A search's values as a cache key (lists as tuples)."""
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in sorted(bound.items())
    )


def _row_key(value: Any, row_id: Any) -> RowKey:
    return (value, row_id if isinstance(row_id, uuid.UUID) else uuid.UUID(str(row_id)))


# The driver's own "the connection is gone" errors, seen on the listing's direct path.


class VideoListing:
    """The API's read-only views of `videos`: pages, duplicates, tags, gauges."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def list_page(self, query: VideoQuery, *, with_total: bool = True) -> VideoPage:
        """One page of videos and (unless the caller has it) how many match: one round trip.

        The busiest statement of the API runs on the pooled asyncpg connection directly,
        compiled once per filter set (a search once per term: _compiled_search):
        SQLAlchemy's per-execution work (execution context, result wrapping) was a quarter
        of a list request's CPU.
        """
        bound = _list_bindings(query)
        filters = frozenset(bound)
        statement, page_values = _shape(query, filters, with_total)
        if SEARCH in bound:
            sql, names = _compiled_search(
                statement, _written(bound), self.engine.dialect, page_values
            )
        else:
            sql, names = _compiled_listing(statement, filters, self.engine.dialect, page_values)
        bound.update(_keyset_bindings(query))
        # The pool's connection itself, not an AsyncConnection around it: checking one
        # out that way cost more CPU than running the query (SQLAlchemy's own
        # AsyncEngine.raw_connection; asyncpg alone starts no transaction to end).
        # Failures are classified by translate_errors.
        pooled = await self.engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None  # a checked-out connection always has one
            row = await driver.fetchrow(sql, *[bound[name] for name in names])
        except Exception as error:
            if is_connection_problem(error):
                # The pool cannot see this through SQLAlchemy: drop the dead connection.
                pooled.invalidate(error)
            raise
        except asyncio.CancelledError:
            pooled.invalidate()  # its answer may still be on the way: not reusable
            raise
        finally:
            pooled.close()  # back to the pool
        total = int(row["total"]) if with_total else None
        keys, ids = row["keys"] or [], row["ids"] or []
        return VideoPage(
            row["items"],
            int(row["rows"]),
            total,
            first=_row_key(keys[0], ids[0]) if ids else None,
            last=_row_key(keys[-1], ids[-1]) if ids else None,
            more=bool(row["more"]) if query.keyset is not None else None,
        )

    @translate_errors
    async def explain_list(self, query: VideoQuery, *, with_total: bool = True) -> str:
        """EXPLAIN ANALYZE of the listing statement (benchmark, tests)."""
        statement, bound = _listing(query, with_total)
        compiled = statement.params(bound).compile(
            dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        async with self.engine.connect() as connection:
            result = await connection.exec_driver_sql(f"EXPLAIN ANALYZE {compiled}")
            return "\n".join(row[0] for row in result)

    @translate_errors
    async def duplicates(self, page: int, limit: int) -> tuple[list[DuplicateGroup], int]:
        """Groups of valid videos sharing a hash, the most wasted space first."""
        copies = func.count()
        size = func.max(videos.c.file_size)
        waste = ((copies - 1) * size).label("wasted_bytes")
        groups = (
            select(
                videos.c.file_hash,
                copies.label("copies"),
                size.label("file_size"),
                waste,
                func.count().over().label("total_count"),
            )
            .where(videos.c.is_valid.is_(True), videos.c.file_hash.is_not(None))
            .group_by(videos.c.file_hash)
            .having(copies > 1)
            .order_by(waste.desc(), videos.c.file_hash)
            .limit(limit)
            .offset((page - 1) * limit)
        )
        async with self.engine.connect() as connection:
            heads = (await connection.execute(groups)).all()
            members = await connection.execute(
                select(videos)
                .where(
                    videos.c.is_valid.is_(True),
                    videos.c.file_hash.in_([head.file_hash for head in heads]),
                )
                .order_by(videos.c.created_at, videos.c.path)
            )
            by_hash: dict[str, list[Video]] = {}
            for row in members:
                by_hash.setdefault(row.file_hash, []).append(Video.from_row(row))
        total = int(heads[0].total_count) if heads else 0
        return [
            DuplicateGroup(
                h.file_hash,
                h.copies,
                h.file_size or 0,
                h.wasted_bytes or 0,
                by_hash.get(h.file_hash, []),
            )
            for h in heads
        ], total

    @translate_errors
    async def tags(self, prefix: str | None, limit: int) -> list[tuple[str, int]]:
        """Tags of valid videos with how many use each, the most used first."""
        elements = func.jsonb_array_elements_text(videos.c.tags).table_valued("value")
        element = elements.lateral("element")
        tag = element.c.value
        statement = (
            select(tag, func.count().label("uses"))
            .select_from(videos.join(element, true()))
            .where(videos.c.is_valid.is_(True))
            .group_by(tag)
            .order_by(func.count().desc(), tag)
            .limit(limit)
        )
        if prefix:
            statement = statement.where(tag.istartswith(prefix, autoescape=True))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [(row[0], int(row[1])) for row in rows]

    @translate_errors
    async def library_counts(self) -> list[tuple[bool, str, int]]:
        """(is_valid, directory_type, videos) for the library gauges."""
        statement = select(videos.c.is_valid, videos.c.directory_type, func.count()).group_by(
            videos.c.is_valid, videos.c.directory_type
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [(bool(row[0]), str(row[1]), int(row[2])) for row in rows]
