"""Every query of videolib, as SQLAlchemy Core statements behind one object per table group.

Handlers, the daemon and the CLI call these methods and never build SQL. Driver errors are
translated here, so callers see DatabaseUnavailableError, never asyncpg or SQLAlchemy types.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import case, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.records import ExaminedFile, Fingerprint, Video, WriteOutcome
from videolib.shared.db.schema import settings, videos
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
        return {row.path: Fingerprint.from_row(row) for row in result}

    @translate_errors
    async def fingerprints_under(self, directory_types: Iterable[str]) -> dict[str, Fingerprint]:
        """Every recorded path of these directory types with its fingerprint: one query."""
        async with self.engine.connect() as connection:
            result = await connection.execute(
                _fingerprint_query().where(videos.c.directory_type.in_(list(directory_types)))
            )
        return {row.path: Fingerprint.from_row(row) for row in result}

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
        """Mark valid records of vanished files invalid (reason `missing`); returns how many."""
        if not paths:
            return 0
        statement = (
            update(videos)
            .where(videos.c.path.in_(list(paths)), videos.c.is_valid.is_(True))
            .values(is_valid=False, invalid_reason="missing", updated_at=func.now())
        )
        async with self.engine.begin() as connection:
            result = await connection.execute(statement)
        return result.rowcount

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
                await connection.commit()

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
        videos.c.id,
        videos.c.path,
        videos.c.file_size,
        videos.c.file_mtime_ns,
        videos.c.is_valid,
        videos.c.invalid_reason,
    )


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
        **({"standardized_at": func.now()} if file.standardized else {}),
    }


async def _upsert(connection: AsyncConnection, files: Sequence[ExaminedFile]) -> list[WriteOutcome]:
    rows = [_examined_values(f) for f in files]
    # Multi-row VALUES needs the same keys in every row.
    keys = set().union(*(row.keys() for row in rows))
    for row in rows:
        for key in keys - row.keys():
            row[key] = None
    inserting = insert(videos).values(rows)
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
    result = await connection.execute(statement)
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
