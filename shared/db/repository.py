"""Every query of videolib, as SQLAlchemy Core statements behind one object per table group.

Handlers, the daemon and the CLI call these methods and never build SQL. Driver errors are
translated here, so callers see DatabaseUnavailableError, never asyncpg or SQLAlchemy types.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import asyncpg
from sqlalchemy import (
    Integer,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.records import ExaminedFile, Fingerprint, Video, WriteOutcome
from videolib.shared.db.schema import (
    SEARCH_DOCUMENT,
    scan_jobs,
    settings,
    thumbnails,
    videos,
)
from videolib.shared.db.video_json import video_json_columns
from videolib.shared.errors import DatabaseUnavailableError

P = ParamSpec("P")
T = TypeVar("T")

# Rows per multi-row INSERT: large enough to amortise the round trip, small enough to stay
# well under PostgreSQL's 65,535 bind parameters (17 columns a row).
WRITE_BATCH = 500

# Columns a probe or hash sets; written on insert and on every re-examination.
_EXAMINED_COLUMNS = (
    "filename",
    "directory_type",
    "duration_seconds",
    "quality",
    "orientation",
    "has_audio",
    "width",
    "height",
    "file_size",
    "file_hash",
    "file_mtime_ns",
    "probe_error",
    "last_validated",
)


def _is_connection_problem(error: BaseException) -> bool:
    if isinstance(error, (OSError, ConnectionError, OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def translate_errors(
    method: Callable[P, Awaitable[T]],
) -> Callable[P, Awaitable[T]]:
    """Turn "cannot reach the database" driver errors into DatabaseUnavailableError."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except Exception as error:
            if _is_connection_problem(error):
                raise DatabaseUnavailableError(f"database unavailable: {error}") from error
            raise

    return wrapper


class VideoRepository:
    """Statements on the `videos` and `settings` tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- reading -----------------------------------------------------------------------

    @translate_errors
    async def get(self, video_id: uuid.UUID) -> Video | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(videos).where(videos.c.id == video_id))).first()
        return Video.from_row(row) if row else None

    @translate_errors
    async def get_by_path(self, path: str) -> Video | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(videos).where(videos.c.path == path))).first()
        return Video.from_row(row) if row else None

    @translate_errors
    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[Video]:
        async with self.engine.connect() as connection:
            result = await connection.execute(select(videos).where(videos.c.id.in_(ids)))
        found = {row.id: Video.from_row(row) for row in result}
        return [found[i] for i in ids if i in found]

    @translate_errors
    async def all_ids(self) -> list[uuid.UUID]:
        async with self.engine.connect() as connection:
            result = await connection.execute(select(videos.c.id).order_by(videos.c.path))
        return list(result.scalars())

    @translate_errors
    async def fingerprints(self, paths: Sequence[str]) -> dict[str, Fingerprint]:
        """The stat fingerprints of the given paths that are recorded: one query."""
        async with self.engine.connect() as connection:
            result = await connection.execute(
                _fingerprint_query().where(videos.c.path.in_(list(paths)))
            )
        return _fingerprints(result)

    @translate_errors
    async def fingerprints_under(self, directory_types: Iterable[str]) -> dict[str, Fingerprint]:
        """Every recorded path of these directory types with its fingerprint: one query."""
        async with self.engine.connect() as connection:
            result = await connection.execute(
                _fingerprint_query().where(videos.c.directory_type.in_(list(directory_types)))
            )
        return _fingerprints(result)

    # -- writing what a probe found ------------------------------------------------------

    @translate_errors
    async def write_examined(self, files: Sequence[ExaminedFile]) -> list[WriteOutcome]:
        """Record examined files: moved files re-attached, the rest upserted by path."""
        outcomes: list[WriteOutcome] = []
        unique = list({f.path: f for f in files}.values())  # one row per path per statement
        for start in range(0, len(unique), WRITE_BATCH):
            batch = unique[start : start + WRITE_BATCH]
            async with self.engine.begin() as connection:
                moved = await _reattach_moved(connection, batch)
                outcomes += moved
                moved_paths = {o.path for o in moved}
                rest = [f for f in batch if f.path not in moved_paths]
                if rest:
                    outcomes += await _upsert(connection, rest)
        return outcomes

    @translate_errors
    async def mark_missing(self, paths: Sequence[str]) -> int:
        """Mark records of vanished files `missing`; returns how many changed.

        A corrupt record whose file is gone becomes missing too (what is true now); an
        admin's soft delete stays as it is.
        """
        if not paths:
            return 0
        statement = (
            update(videos)
            .where(
                videos.c.path.in_(list(paths)),
                func.coalesce(videos.c.invalid_reason, "").not_in(("deleted", "missing")),
            )
            .values(is_valid=False, invalid_reason="missing", updated_at=func.now())
        )
        async with self.engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount

    # -- daemon: moves and renames --------------------------------------------------------

    @translate_errors
    async def move(self, old_path: str, new_path: str) -> str:
        """Give a renamed file's record its new path, keeping id and metadata.

        Returns "moved", "absent" (nothing recorded at the old path) or "occupied" (the
        new path is recorded already: the rename replaced a recorded file).
        """
        values = {
            "path": new_path,
            "filename": new_path.rsplit("/", 1)[-1],
            "directory_type": new_path.split("/", 1)[0],
            "updated_at": func.now(),
        }
        async with self.engine.begin() as connection:
            taken = await connection.execute(select(videos.c.id).where(videos.c.path == new_path))
            if taken.first() is not None:
                return "occupied"
            result = await connection.execute(
                update(videos).where(videos.c.path == old_path).values(values)
            )
        return "moved" if result.rowcount else "absent"

    @translate_errors
    async def paths_with_content(self, keys: Iterable[tuple[int, str]]) -> dict[str, str]:
        """Recorded paths holding one of these (size, SHA-256) contents: path -> hash.

        The daemon looks here before recording a new path: a rename whose two halves
        came unpaired is a move of that record, if its old file is gone.
        """
        wanted = set(keys)
        if not wanted:
            return {}
        async with self.engine.connect() as connection:
            result = await connection.execute(
                select(videos.c.path, videos.c.file_size, videos.c.file_hash).where(
                    videos.c.file_hash.in_([h for _, h in wanted]),
                    videos.c.invalid_reason.is_distinct_from("deleted"),
                )
            )
        return {
            row.path: row.file_hash for row in result if (row.file_size, row.file_hash) in wanted
        }

    @translate_errors
    async def move_prefix(self, old_prefix: str, new_prefix: str) -> int:
        """Move every record under a renamed folder, keeping ids; returns how many.

        A record whose new path is already taken stays where it is (the next
        reconciliation marks it missing) rather than breaking the unique path.
        """
        old, new = old_prefix.rstrip("/") + "/", new_prefix.rstrip("/") + "/"
        moved_path = func.concat(new, func.substr(videos.c.path, len(old) + 1))
        other = videos.alias("other")
        statement = (
            update(videos)
            .where(
                videos.c.path.startswith(old, autoescape=True),
                ~select(other.c.id).where(other.c.path == moved_path).exists(),
            )
            .values(
                path=moved_path,
                directory_type=new.split("/", 1)[0],
                updated_at=func.now(),
            )
        )
        async with self.engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount

    @translate_errors
    async def mark_missing_under(self, prefix: str) -> int:
        """Mark the valid records under a vanished folder missing; returns how many."""
        statement = (
            update(videos)
            .where(
                videos.c.path.startswith(prefix.rstrip("/") + "/", autoescape=True),
                videos.c.is_valid.is_(True),
            )
            .values(is_valid=False, invalid_reason="missing", updated_at=func.now())
        )
        async with self.engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount

    @translate_errors
    async def record_standardized(self, inbox_path: str, file: ExaminedFile) -> WriteOutcome:
        """Record an inbox file moved to its place, in one step, keeping its id if recorded.

        The record at the inbox path (a reconciliation may have made one) takes the new
        path; else the new path is upserted; `original_filename` and `standardized_at` set.
        """
        values = {**_examined_values(file), "updated_at": func.now()}
        async with self.engine.begin() as connection:
            taken = await connection.execute(select(videos.c.id).where(videos.c.path == file.path))
            existing = taken.first()
            if existing is not None:
                # The file's create event was ingested first: complete that record, and
                # the inbox one (if a reconciliation made one) is now missing.
                await connection.execute(
                    update(videos).where(videos.c.id == existing.id).values(values)
                )
                await connection.execute(
                    update(videos)
                    .where(videos.c.path == inbox_path, videos.c.is_valid.is_(True))
                    .values(is_valid=False, invalid_reason="missing", updated_at=func.now())
                )
                return WriteOutcome(existing.id, file.path, "updated")
            result = await connection.execute(
                update(videos)
                .where(videos.c.path == inbox_path)
                .values(values)
                .returning(videos.c.id)
            )
            row = result.first()
            if row is not None:
                return WriteOutcome(row.id, file.path, "moved")
            outcomes = await _upsert(connection, [file])
        return outcomes[0]

    @contextlib.asynccontextmanager
    async def free_directory_locks(
        self, directory_types: Iterable[str]
    ) -> AsyncIterator[list[str]]:
        """Take, without waiting, the scan locks of those types nobody holds; yield them.

        The daemon reconciles the types it got and skips the others (an API scan or
        another daemon is on them). One connection holds them all.
        """
        try:
            async with self.engine.connect() as connection:
                taken: list[str] = []
                try:
                    for key in sorted(set(directory_types)):
                        if await _advisory_lock(connection, key, wait=False):
                            taken.append(key)
                    yield taken
                finally:
                    for key in taken:
                        await connection.execute(
                            text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": _lock(key)}
                        )
                    await connection.commit()
        except Exception as error:
            if _is_connection_problem(error):
                raise DatabaseUnavailableError(f"database unavailable: {error}") from error
            raise

    # -- locks and settings --------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def directory_lock(
        self, directory_types: Iterable[str], *, wait: bool = True
    ) -> AsyncIterator[bool]:
        """Hold PostgreSQL advisory locks on directory types for the body's duration.

        Two scans (daemon reconcile, API scan, CLI scan) of one tree never run at once.
        Yields False, holding nothing, when ``wait`` is false and a lock is taken.
        """
        keys = sorted(set(directory_types))
        async with self.engine.connect() as connection:
            # Session locks need no transaction; without one the connection is idle, not
            # "idle in transaction" for the whole scan, which servers time out and kill.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            taken: list[str] = []
            try:
                for key in keys:
                    if not await _advisory_lock(connection, key, wait):
                        yield False
                        return
                    taken.append(key)
                yield True
            finally:
                for key in taken:
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": _lock(key)}
                    )

    @translate_errors
    async def setting(self, key: str) -> str | None:
        async with self.engine.connect() as connection:
            result = await connection.execute(select(settings.c.value).where(settings.c.key == key))
        return result.scalar_one_or_none()

    @translate_errors
    async def set_setting(self, key: str, value: str) -> None:
        statement = insert(settings).values(key=key, value=value)
        statement = statement.on_conflict_do_update(
            index_elements=[settings.c.key],
            set_={"value": statement.excluded.value, "updated_at": func.now()},
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    @translate_errors
    async def ping(self) -> None:
        """Raise DatabaseUnavailableError unless the database answers."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))


def _lock(directory_type: str) -> str:
    return f"videolib:scan:{directory_type}"


async def _advisory_lock(connection: AsyncConnection, key: str, wait: bool) -> bool:
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    result = await connection.execute(
        text(f"SELECT {function}(hashtext(:key))"), {"key": _lock(key)}
    )
    return wait or bool(result.scalar())


def _fingerprint_query() -> Any:
    return select(
        videos.c.path, videos.c.file_size, videos.c.file_mtime_ns, videos.c.invalid_reason
    )


def _fingerprints(result: Any) -> dict[str, Fingerprint]:
    # Plain tuples: a rescan reads 100,000 of these, and named-row access costs more.
    return {path: Fingerprint(size, mtime, reason) for path, size, mtime, reason in result}


def _examined_values(file: ExaminedFile) -> dict[str, Any]:
    meta = file.metadata
    return {
        "path": file.path,
        "filename": file.filename,
        "directory_type": file.directory_type,
        "duration_seconds": meta.duration_seconds if meta else None,
        "quality": meta.quality if meta else None,
        "orientation": meta.orientation if meta else None,
        "has_audio": meta.has_audio if meta else False,
        "width": meta.width if meta else None,
        "height": meta.height if meta else None,
        "file_size": file.size,
        "file_hash": file.sha256,
        "file_mtime_ns": file.mtime_ns,
        "is_valid": file.invalid_reason is None,
        "invalid_reason": file.invalid_reason,
        "probe_error": file.error,
        "last_validated": func.now(),
        **({"original_filename": file.original_filename} if file.original_filename else {}),
        # When the inbox moved the file, by this process's clock: the moment it happened.
        **({"standardized_at": datetime.now(UTC)} if file.standardized else {}),
    }


async def _upsert(connection: AsyncConnection, files: Sequence[ExaminedFile]) -> list[WriteOutcome]:
    rows = [_examined_values(f) for f in files]
    # One statement executed for many rows (SQLAlchemy's insertmanyvalues): compiled once
    # and cached, where a VALUES list of a new length would be compiled for every batch.
    keys = set().union(*(row.keys() for row in rows))
    for row in rows:
        del row["last_validated"]
        for key in keys - row.keys():
            row[key] = None
    inserting = insert(videos).values(last_validated=func.now())
    new = inserting.excluded
    # A soft-deleted record stays deleted: a rescan must not undo an admin's delete.
    deleted = videos.c.invalid_reason == "deleted"
    statement = inserting.on_conflict_do_update(
        index_elements=[videos.c.path],
        set_={
            **{column: new[column] for column in _EXAMINED_COLUMNS},
            "is_valid": case((deleted, False), else_=new.is_valid),
            "invalid_reason": case((deleted, "deleted"), else_=new.invalid_reason),
            "updated_at": func.now(),
        },
    ).returning(videos.c.id, videos.c.path, literal_column("(xmax = 0)").label("inserted"))
    result = await connection.execute(statement, rows)
    return [
        WriteOutcome(row.id, row.path, "created" if row.inserted else "updated") for row in result
    ]


async def _reattach_moved(
    connection: AsyncConnection, files: Sequence[ExaminedFile]
) -> list[WriteOutcome]:
    """Give files that moved while nobody watched their old record back, by (size, SHA-256).

    Only records marked `missing` are candidates, and only for paths not yet recorded.
    """
    hashed = [f for f in files if f.sha256 and f.invalid_reason is None]
    if not hashed:
        return []
    recorded = set(
        (
            await connection.execute(
                select(videos.c.path).where(videos.c.path.in_([f.path for f in hashed]))
            )
        ).scalars()
    )
    fresh = [f for f in hashed if f.path not in recorded]
    if not fresh:
        return []
    candidates = await connection.execute(
        select(videos.c.id, videos.c.file_size, videos.c.file_hash)
        .where(
            videos.c.invalid_reason == "missing",
            videos.c.file_hash.in_([f.sha256 for f in fresh]),
        )
        .order_by(videos.c.updated_at.desc())
        .with_for_update(skip_locked=True)
    )
    by_key: dict[tuple[int | None, str | None], list[uuid.UUID]] = {}
    for row in candidates:
        by_key.setdefault((row.file_size, row.file_hash), []).append(row.id)
    outcomes = []
    for file in fresh:
        ids = by_key.get((file.size, file.sha256))
        if not ids:
            continue
        video_id = ids.pop(0)
        values = _examined_values(file)
        values.update(is_valid=True, invalid_reason=None, updated_at=func.now())
        await connection.execute(update(videos).where(videos.c.id == video_id).values(values))
        outcomes.append(WriteOutcome(video_id, file.path, "moved"))
    return outcomes


# -- API: listing, editing, jobs ---------------------------------------------------------

#: The API's sort keys and the columns they order by.
SORT_COLUMNS = {
    "createdAt": videos.c.created_at,
    "title": videos.c.title,
    "durationSeconds": videos.c.duration_seconds,
    "fileSize": videos.c.file_size,
}
_WORD = re.compile(r"\w+")


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


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    file_hash: str
    copies: int
    file_size: int
    wasted_bytes: int
    videos: list[Video]


@dataclass(frozen=True, slots=True)
class ScanJob:
    """One row of `scan_jobs`."""

    id: uuid.UUID
    directory_types: list[str]
    skip_existing: bool
    status: str
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def search_query(text_: str) -> str | None:
    """A to_tsquery() text matching every word of the input as a prefix; None if no word.

    Prefix matching (`stud:*` finds "Studio") serves partial words from the same GIN
    index as whole words; only word characters go in, so the input cannot break the syntax.
    """
    words = _WORD.findall(text_)
    return " & ".join(f"{word}:*" for word in words) or None


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
            # `%`, `_` and the escape character in user input match themselves.
            escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            bound[name] = f"%{escaped}%"
    if query.search:
        # None when the words are only punctuation: to_tsquery(NULL) matches nothing.
        bound["tsquery"] = search_query(query.search)
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
    # The index expression repeated verbatim, so that the planner uses the GIN index.
    document: Any = literal_column(SEARCH_DOCUMENT)
    regconfig: Any = literal_column("'english'::regconfig")
    return document.op("@@")(func.to_tsquery(regconfig, bindparam(name, type_=Text)))


def _order(sort: str) -> list[Any]:
    column = SORT_COLUMNS[sort.lstrip("-")]
    ordered = column.desc() if sort.startswith("-") else column.asc()
    # created_at is NOT NULL: the default null order keeps idx_videos_created_at usable;
    # the nullable keys put their nulls last either way.
    if column is not videos.c.created_at:
        ordered = ordered.nulls_last()
    # id breaks ties, so that pages do not overlap when many rows share a value.
    tie = videos.c.id.desc() if sort.startswith("-") else videos.c.id.asc()
    return [ordered, tie]


@dataclass(frozen=True, slots=True)
class VideoPage:
    """One page of a listing, as the JSON array PostgreSQL built (see video_json.py)."""

    items_json: str
    rows: int
    total: int | None  # None when the caller did not ask for it


# From this many skipped rows on, a page's ids are found first (see _list_statement).
DEFERRED_JOIN_FROM = 1000


@functools.lru_cache(maxsize=256)
def _list_statement(filters: frozenset[str], sort: str, with_total: bool, deep: bool) -> Any:
    """One row: the page as a JSON array, its row count and (optionally) the total.

    Built once per set of filters, order and depth, with every value bound: constructing
    this statement costs several times what running it does.
    """
    conditions = [_list_condition(name) for name in sorted(filters)]
    # Written into the statement text, not bound: with a bound LIMIT the planner cannot
    # cost a generic plan and re-plans on every execution (a fifth of its CPU here).
    limit = bindparam("limit", type_=Integer, literal_execute=True)
    offset = bindparam("offset", type_=Integer, literal_execute=True)
    if deep:
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
    else:
        rows = select(videos).where(*conditions).limit(limit).offset(offset)
    page = rows.order_by(*_order(sort)).subquery("page")
    # json_agg of whole shaped rows is a fifth cheaper for PostgreSQL than json_build_object
    # per row, and keeps the page's order: a subquery with ORDER BY is not flattened, and
    # the Aggregate reads its Sort's output directly.
    shaped = select(*video_json_columns(page.c)).subquery("video")
    items = func.json_agg(shaped.table_valued())
    columns: list[Any] = [
        func.coalesce(cast(items, Text), literal_column("'[]'")).label("items"),
        func.count().label("rows"),
    ]
    if with_total:
        # An uncorrelated scalar subquery runs once (an InitPlan), in the same round trip.
        # Not `count(*) OVER ()`: a window must read every matching row before LIMIT
        # applies, ~240 ms on 100,000 rows against ~1 ms for the page alone.
        total = select(func.count()).select_from(videos).where(*conditions).scalar_subquery()
        columns.append(total.label("total"))
    # An aggregate without GROUP BY: exactly one row, also past the last page.
    return select(*columns).select_from(shaped)


def _listing(query: VideoQuery, with_total: bool) -> tuple[Any, dict[str, Any]]:
    """The listing statement of a query and the values to run it with."""
    bound = _list_bindings(query)
    offset = (query.page - 1) * query.limit
    statement = _list_statement(
        frozenset(bound), query.sort, with_total, offset >= DEFERRED_JOIN_FROM
    )
    bound.update(limit=query.limit, offset=offset)
    return statement, bound


@functools.lru_cache(maxsize=512)
def _compiled_listing(
    filters: frozenset[str],
    sort: str,
    with_total: bool,
    deep: bool,
    dialect: Dialect,
    limit: int,
    offset: int,
) -> tuple[str, tuple[str, ...]]:
    """A listing as asyncpg runs it: its text (the page written in) and the names of its
    $1, $2, ... Compiled once per filter set, order and page."""
    statement = _list_statement(filters, sort, with_total, deep).params(
        dict.fromkeys(filters), limit=limit, offset=offset
    )  # only the page's values are rendered; the filters' stay $n
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), tuple(compiled.positiontup or ())


# The driver's own "the connection is gone" errors, seen on the listing's direct path.
_DRIVER_CONNECTION_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
)


class AdminVideoRepository(VideoRepository):
    """The API's statements on `videos`: listing, editing, duplicates, tags, gauges."""

    @translate_errors
    async def list_page(self, query: VideoQuery, *, with_total: bool = True) -> VideoPage:
        """One page of videos and (unless the caller has it) how many match: one round trip.

        The busiest statement of the API runs on the pooled asyncpg connection directly,
        compiled once per filter set: SQLAlchemy's per-execution work (execution context,
        result wrapping) was a quarter of a list request's CPU.
        """
        bound = _list_bindings(query)
        offset = (query.page - 1) * query.limit
        sql, names = _compiled_listing(
            frozenset(bound),
            query.sort,
            with_total,
            offset >= DEFERRED_JOIN_FROM,
            self.engine.dialect,
            query.limit,
            offset,
        )
        try:
            # The pool's connection itself, not an AsyncConnection around it: checking one
            # out that way cost more CPU than running the query (SQLAlchemy's own
            # AsyncEngine.raw_connection; asyncpg alone starts no transaction to end).
            pooled = await self.engine.raw_connection()
        except _DRIVER_CONNECTION_ERRORS as error:
            raise DatabaseUnavailableError(f"database unavailable: {error}") from error
        try:
            driver = pooled.driver_connection
            assert driver is not None  # a checked-out connection always has one
            row = await driver.fetchrow(sql, *[bound[name] for name in names])
        except _DRIVER_CONNECTION_ERRORS as error:
            # The pool cannot see this through SQLAlchemy: drop the dead connection.
            pooled.invalidate(error)
            raise DatabaseUnavailableError(f"database unavailable: {error}") from error
        except asyncio.CancelledError:
            pooled.invalidate()  # its answer may still be on the way: not reusable
            raise
        finally:
            pooled.close()  # back to the pool
        total = int(row["total"]) if with_total else None
        return VideoPage(row["items"], int(row["rows"]), total)

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
    async def insert_new(self, file: ExaminedFile, edits: dict[str, Any]) -> Video | None:
        """Record a file not yet recorded, with admin metadata; None if its path is taken.

        ON CONFLICT DO NOTHING on the unique path: a scan or the daemon recording the same
        file at the same moment leaves one row, and this caller learns it lost.
        """
        values = {**_examined_values(file), **edits}
        statement = (
            insert(videos)
            .values(values)
            .on_conflict_do_nothing(index_elements=[videos.c.path])
            .returning(*videos.c)
        )
        async with self.engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return Video.from_row(row) if row else None

    @translate_errors
    async def update_metadata(self, ids: Sequence[uuid.UUID], edits: dict[str, Any]) -> list[Video]:
        """Set admin fields (producer, creator, title, tags, thumbnail_path) of some videos."""
        statement = (
            update(videos)
            .where(videos.c.id.in_(list(ids)))
            .values({**edits, "updated_at": func.now()})
            .returning(*videos.c)
        )
        async with self.engine.begin() as connection:
            rows = (await connection.execute(statement)).all()
        return [Video.from_row(row) for row in rows]

    @translate_errors
    async def soft_delete(self, video_id: uuid.UUID) -> Video | None:
        statement = (
            update(videos)
            .where(videos.c.id == video_id)
            .values(is_valid=False, invalid_reason="deleted", updated_at=func.now())
            .returning(*videos.c)
        )
        async with self.engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return Video.from_row(row) if row else None

    @translate_errors
    async def delete_invalid(self, video_id: uuid.UUID) -> str:
        """Remove the row of an invalid video: "deleted", "valid" (kept) or "absent"."""
        async with self.engine.begin() as connection:
            deleted = await connection.execute(
                delete(videos)
                .where(videos.c.id == video_id, videos.c.is_valid.is_(False))
                .returning(videos.c.id)
            )
            if deleted.first() is not None:
                return "deleted"
            valid = await connection.scalar(
                select(videos.c.is_valid).where(videos.c.id == video_id)
            )
        return "absent" if valid is None else "valid"

    @translate_errors
    async def undelete(self, video_id: uuid.UUID) -> Video | None:
        """Make a record valid again, before a re-probe decides whether it stays so."""
        statement = (
            update(videos)
            .where(videos.c.id == video_id)
            .values(is_valid=True, invalid_reason=None, probe_error=None, updated_at=func.now())
            .returning(*videos.c)
        )
        async with self.engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return Video.from_row(row) if row else None

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


class ScanJobRepository:
    """Statements on `scan_jobs`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def create(self, directory_types: Sequence[str], skip_existing: bool) -> ScanJob:
        statement = (
            insert(scan_jobs)
            .values(
                directory_types=list(directory_types),
                skip_existing=skip_existing,
                status="running",
            )
            .returning(*scan_jobs.c)
        )
        async with self.engine.begin() as connection:
            row = (await connection.execute(statement)).one()
        return ScanJob(**row._mapping)

    @translate_errors
    async def get(self, job_id: uuid.UUID) -> ScanJob | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(select(scan_jobs).where(scan_jobs.c.id == job_id))
            ).first()
        return ScanJob(**row._mapping) if row else None

    @translate_errors
    async def progress(self, job_id: uuid.UUID, result: dict[str, Any]) -> None:
        """Store the counts so far of a running job."""
        async with self.engine.begin() as connection:
            await connection.execute(
                update(scan_jobs)
                .where(scan_jobs.c.id == job_id, scan_jobs.c.status == "running")
                .values(result=result, updated_at=func.now())
            )

    @translate_errors
    async def finish(
        self, job_id: uuid.UUID, status: str, result: dict[str, Any], error: str | None = None
    ) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(scan_jobs)
                .where(scan_jobs.c.id == job_id)
                .values(
                    status=status,
                    result=result,
                    error=error,
                    updated_at=func.now(),
                    finished_at=func.now(),
                )
            )

    @translate_errors
    async def running(self) -> list[ScanJob]:
        async with self.engine.connect() as connection:
            running = select(scan_jobs).where(scan_jobs.c.status == "running")
            rows = await connection.execute(running)
        return [ScanJob(**row._mapping) for row in rows]

    @translate_errors
    async def fail_orphan(self, job_id: uuid.UUID, error: str) -> bool:
        """Mark a running job failed, keeping its counts so far; False if it had ended."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(scan_jobs)
                .where(scan_jobs.c.id == job_id, scan_jobs.c.status == "running")
                .values(status="failed", error=error, updated_at=func.now(), finished_at=func.now())
            )
        return bool(result.rowcount)

    @translate_errors
    async def count_by_status(self) -> dict[str, int]:
        statement = select(scan_jobs.c.status, func.count()).group_by(scan_jobs.c.status)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return {str(row[0]): int(row[1]) for row in rows}


# -- thumbnails --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThumbnailTask:
    """A video to make a thumbnail of: its id, stored path and duration."""

    video_id: uuid.UUID
    path: str
    duration_seconds: int | None


def _thumbnail_due(stale: timedelta) -> Any:
    """True for a `thumbnails` row that does not hold its video back from a new attempt."""
    t = thumbnails.c
    return ~or_(
        and_(t.status == "failed", t.retry_at.is_not(None), t.retry_at > func.now()),
        and_(t.status == "working", t.updated_at > func.now() - stale),
    )


class ThumbnailRepository:
    """Statements on `thumbnails` and the `thumbnail_path` of `videos`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def claim(self, limit: int, stale: timedelta) -> list[ThumbnailTask]:
        """Mark up to `limit` valid videos without a thumbnail as being worked on; return them.

        Newest first. Skips videos that failed recently (until `retry_at`) and those another
        worker claimed less than `stale` ago; ON CONFLICT re-checks that under the row lock,
        so two workers never claim the same video.
        """
        v = videos.c
        blocked = (
            select(thumbnails.c.video_id)
            .where(thumbnails.c.video_id == v.id, ~_thumbnail_due(stale))
            .exists()
        )
        candidates = (
            select(v.id, literal("working"))
            # `is_valid` bare, not `IS true`: the partial index's predicate, word for word.
            .where(v.is_valid, v.thumbnail_path.is_(None), ~blocked)
            .order_by(v.created_at.desc())
            .limit(limit)
        )
        statement = (
            insert(thumbnails)
            .from_select(["video_id", "status"], candidates)
            .on_conflict_do_update(
                index_elements=[thumbnails.c.video_id],
                set_={"status": "working", "updated_at": func.now()},
                where=_thumbnail_due(stale),
            )
            .returning(thumbnails.c.video_id)
        )
        async with self.engine.begin() as connection:
            claimed = list((await connection.execute(statement)).scalars())
            if not claimed:
                return []
            rows = await connection.execute(
                select(v.id, v.path, v.duration_seconds)
                .where(v.id.in_(claimed))
                .order_by(v.created_at.desc())
            )
            return [ThumbnailTask(*row) for row in rows]

    @translate_errors
    async def backlog(self, *, missing_only: bool) -> list[ThumbnailTask]:
        """Valid videos without a thumbnail, and unless `missing_only` those with one of ours.

        Videos with a custom thumbnail are never listed. Failures are listed regardless of
        their retry time: this is the admin's backfill.
        """
        v, t = videos.c, thumbnails.c
        ours = and_(t.path.is_not(None), v.thumbnail_path == t.path)
        needed = (
            v.thumbnail_path.is_(None) if missing_only else or_(v.thumbnail_path.is_(None), ours)
        )
        statement = (
            select(v.id, v.path, v.duration_seconds)
            .select_from(videos.outerjoin(thumbnails, t.video_id == v.id))
            .where(v.is_valid, needed)
            .order_by(v.created_at.desc(), v.id)
        )
        async with self.engine.connect() as connection:
            return [ThumbnailTask(*row) for row in await connection.execute(statement)]

    @translate_errors
    async def record_made(self, video_id: uuid.UUID, path: str) -> bool:
        """Record a written thumbnail; point the video at it unless it has a custom one.

        Returns whether the video now shows it (False: a custom thumbnail won, or the
        video is gone).
        """
        v, t = videos.c, thumbnails.c
        async with self.engine.begin() as connection:
            previous = await connection.scalar(
                select(t.path).where(t.video_id == video_id).with_for_update()
            )
            await connection.execute(
                insert(thumbnails)
                .values(video_id=video_id, status="done", path=path)
                .on_conflict_do_update(
                    index_elements=[t.video_id],
                    set_={
                        "status": "done",
                        "path": path,
                        "attempts": 0,
                        "error": None,
                        "retry_at": None,
                        "updated_at": func.now(),
                    },
                )
            )
            # Derived data, not an admin's edit: `updated_at` of the video stays as it is.
            ours = [p for p in (path, previous) if p is not None]
            result = await connection.execute(
                update(videos)
                .where(
                    v.id == video_id, or_(v.thumbnail_path.is_(None), v.thumbnail_path.in_(ours))
                )
                .values(thumbnail_path=path)
            )
        return bool(result.rowcount)

    @translate_errors
    async def record_failed(
        self, video_id: uuid.UUID, error: str, retry_delay: Callable[[int], float]
    ) -> int:
        """Count a failed attempt and set when to retry (`retry_delay(attempts)` seconds).

        Returns the number of attempts so far. The video itself is not touched.
        """
        t = thumbnails.c
        async with self.engine.begin() as connection:
            attempts = await connection.scalar(
                select(t.attempts).where(t.video_id == video_id).with_for_update()
            )
            attempts = (attempts or 0) + 1
            retry_at = func.now() + timedelta(seconds=retry_delay(attempts))
            values = {"status": "failed", "attempts": attempts, "error": error[:2000]}
            await connection.execute(
                insert(thumbnails)
                .values(video_id=video_id, retry_at=retry_at, **values)
                .on_conflict_do_update(
                    index_elements=[t.video_id],
                    set_={**values, "retry_at": retry_at, "updated_at": func.now()},
                )
            )
        return attempts

    @translate_errors
    async def generated_path(self, video_id: uuid.UUID) -> str | None:
        """The path (relative to the thumbnail directory) of the thumbnail made for a video."""
        async with self.engine.connect() as connection:
            return await connection.scalar(
                select(thumbnails.c.path).where(
                    thumbnails.c.video_id == video_id, thumbnails.c.path.is_not(None)
                )
            )

    @translate_errors
    async def counts(self) -> dict[str, int]:
        """Thumbnail rows by status, plus `missing`: valid videos with no thumbnail at all."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(thumbnails.c.status, func.count()).group_by(thumbnails.c.status)
            )
            counts = {str(status): int(n) for status, n in rows}
            counts["missing"] = int(
                await connection.scalar(
                    select(func.count())
                    .select_from(videos)
                    .where(videos.c.is_valid, videos.c.thumbnail_path.is_(None))
                )
                or 0
            )
        return counts
