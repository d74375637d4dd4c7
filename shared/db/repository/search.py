"""The listing's search: the seed's substring match over title, producer and creator, whole
words first.

The seed runs `title ILIKE '%term%' OR producer ILIKE ... OR creator ILIKE ...`: every row,
every time. Here the three columns are one expression (SUBSTRING_DOCUMENT) that a pg_trgm
GIN index serves (migration 0007, shared/db/trigram.py); where pg_trgm cannot be created,
the same statement is the seed's sequential scan. The rows whose text holds the term as whole
words (the full-text index of the seed's performance section) come first: see ranked_page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Integer, Text, bindparam, func, literal_column, not_, or_, select
from sqlalchemy.sql import ColumnElement, Subquery

from videolib.shared.db.schema import (
    SEARCH_DOCUMENT,
    SUBSTRING_DOCUMENT,
    SUBSTRING_SEPARATOR,
    videos,
)

#: Bound values of a search. `search` is the pattern of the substring match; `search_words`
#: the term itself, for the whole-word ranking; `search_columns` the pattern again, only
#: when the term holds the separator of SUBSTRING_DOCUMENT (then a match could straddle
#: two columns, so each column is checked on its own as well).
SEARCH = "search"
SEARCH_WORDS = "search_words"
SEARCH_COLUMNS = "search_columns"
#: Bound for the order, not a filter.
RANKING_ONLY = frozenset({SEARCH_WORDS})


def like_pattern(term: str) -> str:
    """`%term%` for LIKE/ILIKE ... ESCAPE '\\', with `%`, `_` and `\\` matching themselves."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_bindings(term: str) -> dict[str, str]:
    """The values a search binds (see SEARCH, SEARCH_WORDS, SEARCH_COLUMNS)."""
    pattern = like_pattern(term)
    bound = {SEARCH: pattern, SEARCH_WORDS: term}
    if SUBSTRING_SEPARATOR in term:
        bound[SEARCH_COLUMNS] = pattern
    return bound


def substring_condition() -> ColumnElement[bool]:
    """The term anywhere in title, producer or creator, case-insensitively: the indexed form.

    The index expression repeated verbatim, so that the planner can use the trigram index.
    """
    document: Any = literal_column(SUBSTRING_DOCUMENT)
    return document.ilike(bindparam(SEARCH, type_=Text), escape="\\")  # type: ignore[no-any-return]


def any_column_condition(name: str = SEARCH) -> ColumnElement[bool]:
    """The seed's own form of the match: each column on its own (no index serves it)."""
    pattern = bindparam(name, type_=Text)
    c = videos.c
    return or_(*(column.ilike(pattern, escape="\\") for column in (c.title, c.producer, c.creator)))


def whole_words_condition() -> ColumnElement[bool]:
    """Every word of the term is a word of the text (the seed's full-text index, stemmed)."""
    document: Any = literal_column(SEARCH_DOCUMENT)
    regconfig: Any = literal_column("'english'::regconfig")
    query = func.plainto_tsquery(regconfig, bindparam(SEARCH_WORDS, type_=Text))
    return document.op("@@")(query)  # type: ignore[no-any-return]


Order = Callable[[Any], list[Any]]


def ranked_page(
    filters: list[ColumnElement[bool]], order: Order, limit: Any, offset: Any
) -> Subquery:
    """One page of matches: those holding the term as whole words first, then the others,
    each group in the requested order.

    Two branches, each cut at offset + limit rows, so neither reads more than a page needs:
    sorting all matches by a computed rank would read every match (115 ms for `studio 7`
    in 100,000 rows, against 2 ms). The whole-word branch is found through the full-text
    index and checks the substring column by column, so that the planner does not AND the
    trigram index in (every row holds `studio`). The second branch runs only when the first
    did not fill the page (a one-time filter): otherwise, for a term every match of which
    is a whole word ("mountain"), it would scan the whole table looking for one that is not.
    """
    wanted = limit + offset
    whole = (
        select(videos, literal_column("0", Integer).label("rank"))
        .where(*filters, whole_words_condition(), any_column_condition())
        .order_by(*order(videos.c))
        .limit(wanted)
        .cte("whole_words")
    )
    short = select(func.count()).select_from(whole).scalar_subquery() < wanted
    partial = (
        select(videos, literal_column("1", Integer).label("rank"))
        .where(*filters, substring_condition(), not_(whole_words_condition()), short)
        .order_by(*order(videos.c))
        .limit(wanted)
    )
    ranked = select(whole).union_all(partial).subquery("ranked")
    return (
        select(ranked)
        .order_by(ranked.c.rank, *order(ranked.c))
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
