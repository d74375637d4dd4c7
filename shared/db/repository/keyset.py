"""Keyset pages: the rows just past a row of a listing's order, read as index ranges.

An OFFSET page reads and drops every row before it; a keyset page starts at the row the
client saw last (or first, going back), so page 10,000 costs what page 1 costs. The
listing's order is its sort key with NULLs last, then the id. No single index range holds
"after (v, i)" once NULLs are involved (a row comparison is never true for a NULL), so a
page is read as at most two ranges, each of one index (migration 0008, idx_videos_listing):
the non-NULL keys past `(v, i)` by a row comparison, and the NULL keys, apart, in id order.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, and_, bindparam, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import UUID

from videolib.shared.db.schema import videos

#: A sort key's value: created_at, title, duration_seconds or file_size (NULL as None).
KeyValue = datetime | str | int | None


@dataclass(frozen=True, slots=True)
class Keyset:
    """Where a keyset page starts: just past the row with this sort value and id."""

    sort: str  # the listing's sort (`-createdAt`, `title`, ...): the order `value` is in
    value: KeyValue
    id: uuid.UUID
    backward: bool = False  # the rows before that row (a previous page), else after it


def _descending(sort: str) -> bool:
    return sort.startswith("-")


def walk_order(key: Any, row_id: Any, sort: str, *, nullable: bool, backward: bool) -> list[Any]:
    """The order a page is read in: the listing's own, or its exact reverse going back.

    The listing puts NULL keys last whichever way it sorts, so its reverse puts them first.
    A NOT NULL key (created_at) keeps the default placement, which its index serves.
    """
    ascending = _descending(sort) == backward
    ordered = key.asc() if ascending else key.desc()
    if nullable:
        ordered = ordered.nulls_first() if backward else ordered.nulls_last()
    tie = row_id.asc() if ascending else row_id.desc()
    return [ordered, tie]


def _index_order(key: Any, ascending: bool) -> list[Any]:
    # The default NULL placement: ASC NULLS LAST read forwards or DESC NULLS FIRST read
    # backwards is the same index. A range without NULLs sorts the same under any placement.
    if ascending:
        return [key.asc(), videos.c.id.asc()]
    return [key.desc(), videos.c.id.desc()]


def _ranges(key: Column[Any], ascending: bool, nulls_first: bool, at_null: bool) -> list[Any]:
    """The conditions of the index ranges that follow the keyset's row, in walk order."""
    past: Callable[[Any, Any], Any] = operator.gt if ascending else operator.lt
    value = bindparam("key_value", type_=key.type)
    at = bindparam("key_id", type_=UUID(as_uuid=True))
    if at_null:
        # Among the NULL keys, then (when NULLs come first) every non-NULL key.
        ranges = [and_(key.is_(None), past(videos.c.id, at))]
        if nulls_first:
            ranges.append(key.is_not(None))
        return ranges
    ranges = [past(tuple_(key, videos.c.id), tuple_(value, at))]
    if key.nullable and not nulls_first:
        ranges.append(key.is_(None))
    return ranges


def walked_rows(
    key: Column[Any], sort: str, conditions: list[Any], *, backward: bool, at_null: bool
) -> Any:
    """The rows past the keyset's row, in walk order, at most `fetch` of them.

    Each range is its own LIMITed index scan; their few rows are sorted together (the
    ranges are disjoint, so this is a concatenation in walk order).
    """
    ascending = _descending(sort) == backward
    fetch = bindparam("fetch", type_=Integer, literal_execute=True)
    scans = [
        select(videos).where(*conditions, where).order_by(*_index_order(key, ascending))
        for where in _ranges(key, ascending, backward, at_null)
    ]
    scans = [scan.limit(fetch) for scan in scans]
    if len(scans) == 1:
        return scans[0]
    both = union_all(*scans).subquery("ranges")
    order = walk_order(both.c[key.name], both.c.id, sort, nullable=True, backward=backward)
    return select(both).order_by(*order).limit(fetch)
