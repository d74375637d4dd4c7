"""The `videos` table as scans and the daemon write it: what a probe found, moves, vanishings.

Every examined file is recorded through `VideoRepository.write_examined`: files that moved
while nobody watched get their old record back by content (size, SHA-256), the rest are
upserted by path.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.records import ExaminedFile, Fingerprint, Video, WriteOutcome
from videolib.shared.db.schema import videos

from .errors import translate_errors
from .inbox_moves import forget_move

# Rows per multi-row INSERT: large enough to amortise the round trip, small enough to stay
# well under PostgreSQL's 65,535 bind parameters (17 columns a row).
WRITE_BATCH = 500
# Records per page when a rescan reads the fingerprints of a type in path order.
FINGERPRINT_PAGE = 2000

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


class VideoReader:
    """Reads of `videos` by id and path, shared by the daemon's and the API's repositories."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

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
    async def any_path(self) -> str | None:
        """One recorded path, or None when nothing is recorded (an empty library)."""
        async with self.engine.connect() as connection:
            result = await connection.execute(select(videos.c.path).limit(1))
        return result.scalar_one_or_none()

    @translate_errors
    async def fingerprints(self, paths: Sequence[str]) -> dict[str, Fingerprint]:
        """The stat fingerprints of the given paths that are recorded: one query."""
        async with self.engine.connect() as connection:
            result = await connection.execute(
                _fingerprint_query().where(videos.c.path.in_(list(paths)))
            )
        return _fingerprints(result)

    @translate_errors
    async def fingerprint_page(
        self, directory_type: str, after: str | None, limit: int = FINGERPRINT_PAGE
    ) -> list[tuple[str, Fingerprint]]:
        """The next `limit` records of a directory type after a path, in code point order.

        Keyset paging on `idx_videos_path_bytes`, so a rescan holds one page at a time. A
        type's paths all start with "type/"; the range keeps the index scan inside it.
        """
        path = videos.c.path.collate("C")
        statement = (
            _fingerprint_query()
            .where(
                videos.c.directory_type == directory_type,
                path > after if after is not None else path >= f"{directory_type}/",
                path < f"{directory_type}0",  # "0" follows "/"
            )
            .order_by(path)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            result = await connection.execute(statement)
        return [(p, Fingerprint(size, mtime, reason)) for p, size, mtime, reason in result]


class VideoRepository(VideoReader):
    """What scans, validation and the daemon write to `videos`."""

    # -- writing what a probe found ------------------------------------------------------

    @translate_errors
    async def write_examined(
        self, files: Sequence[ExaminedFile], *, vanished: Collection[str] = ()
    ) -> list[WriteOutcome]:
        """Record examined files: moved files re-attached, the rest upserted by path.

        A new path takes the record of identical content (size, SHA-256) that is marked
        missing, or whose path is in `vanished` (the caller saw its file gone from disk,
        before anything marked it missing: a rename seen as a create and a late delete).
        """
        outcomes: list[WriteOutcome] = []
        unique = list({f.path: f for f in files}.values())  # one row per path per statement
        for start in range(0, len(unique), WRITE_BATCH):
            batch = unique[start : start + WRITE_BATCH]
            async with self.engine.begin() as connection:
                moved = await _reattach_moved(connection, batch, vanished)
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
        admin's soft delete stays as it is, and so does a trashed record (its file is in
        the trash, not gone).
        """
        if not paths:
            return 0
        statement = (
            update(videos)
            .where(
                videos.c.path.in_(list(paths)),
                func.coalesce(videos.c.invalid_reason, "").not_in(
                    ("deleted", "missing", "trashed")
                ),
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

        The daemon's ingest looks here before recording new paths: a rename whose two
        halves came unpaired is a move of that record, if its old file is gone (then
        `write_examined(vanished=...)` re-attaches it).
        """
        wanted = set(keys)
        if not wanted:
            return {}
        async with self.engine.connect() as connection:
            result = await connection.execute(
                select(videos.c.path, videos.c.file_size, videos.c.file_hash).where(
                    videos.c.file_hash.in_([h for _, h in wanted]),
                    func.coalesce(videos.c.invalid_reason, "").not_in(("deleted", "trashed")),
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
    async def record_standardized(
        self, inbox_path: str, file: ExaminedFile, *, move_id: str | None = None
    ) -> WriteOutcome:
        """Record an inbox file moved to its place, in one step, keeping its id if recorded.

        The record at the inbox path (a reconciliation may have made one) takes the new
        path; else the new path is upserted; `original_filename` and `standardized_at` set.
        The move's journal entry (`move_id`) goes in the same transaction.
        """
        async with self.engine.begin() as connection:
            outcome = await _record_standardized(connection, inbox_path, file)
            if move_id is not None:
                await forget_move(connection, move_id)
        return outcome


async def _record_standardized(
    connection: AsyncConnection, inbox_path: str, file: ExaminedFile
) -> WriteOutcome:
    values = {**examined_values(file), "updated_at": func.now()}
    taken = await connection.execute(select(videos.c.id).where(videos.c.path == file.path))
    existing = taken.first()
    if existing is not None:
        # The file's create event was ingested first: complete that record, and
        # the inbox one (if a reconciliation made one) is now missing.
        await connection.execute(update(videos).where(videos.c.id == existing.id).values(values))
        await connection.execute(
            update(videos)
            .where(videos.c.path == inbox_path, videos.c.is_valid.is_(True))
            .values(is_valid=False, invalid_reason="missing", updated_at=func.now())
        )
        return WriteOutcome(existing.id, file.path, "updated")
    result = await connection.execute(
        update(videos).where(videos.c.path == inbox_path).values(values).returning(videos.c.id)
    )
    row = result.first()
    if row is not None:
        return WriteOutcome(row.id, file.path, "moved")
    outcomes = await _upsert(connection, [file])
    return outcomes[0]


def _fingerprint_query() -> Any:
    return select(
        videos.c.path, videos.c.file_size, videos.c.file_mtime_ns, videos.c.invalid_reason
    )


def _fingerprints(result: Any) -> dict[str, Fingerprint]:
    # Plain tuples: a rescan reads 100,000 of these, and named-row access costs more.
    return {path: Fingerprint(size, mtime, reason) for path, size, mtime, reason in result}


def examined_values(file: ExaminedFile) -> dict[str, Any]:
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
    rows = [examined_values(f) for f in files]
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
    connection: AsyncConnection, files: Sequence[ExaminedFile], vanished: Collection[str]
) -> list[WriteOutcome]:
    """Give files that moved while nobody watched their old record back, by (size, SHA-256).

    Candidates are records marked `missing` and records at `vanished` paths (never a soft
    deleted one), and only for paths not yet recorded. The one place a record follows its
    content: scans, reconciliation and the daemon's ingest all come through here.
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
            or_(
                videos.c.invalid_reason == "missing",
                and_(
                    videos.c.path.in_(list(vanished)),
                    videos.c.invalid_reason.is_distinct_from("deleted"),
                ),
            ),
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
        values = examined_values(file)
        values.update(is_valid=True, invalid_reason=None, updated_at=func.now())
        await connection.execute(update(videos).where(videos.c.id == video_id).values(values))
        outcomes.append(WriteOutcome(video_id, file.path, "moved"))
    return outcomes
