"""Statements of the integrity checks: the cycle, its ranges, findings.

The cycle's state lives in `settings` (keys under `integrity.`): the cursor is present
while a cycle is under way (the last path any worker verified, "" at its start) and absent
between cycles. A cycle is split into path ranges, rows of `integrity_chunks` that workers
take as jobs (shared/jobs/integrity_jobs.py); each range's progress moves with the verdict
of each file in one transaction, so a job that is killed resumes after its last file and
never records a file twice. Paths are walked in code point order (`idx_videos_path_bytes`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.schema import integrity_chunks as chunks
from videolib.shared.db.schema import integrity_findings as findings
from videolib.shared.db.schema import settings, videos
from videolib.shared.integrity.budget import cycle_due_in

from .errors import translate_errors

CURSOR_KEY = "integrity.cursor"
CYCLE_STARTED_KEY = "integrity.cycle_started_at"
LAST_FULL_CYCLE_KEY = "integrity.last_full_cycle_at"
#: Who resolves a finding when a verification finds the file intact again (the name the
#: findings of earlier releases carry; the API shows it).
DAEMON = "daemon"
#: Serialises the transactions that start a cycle and end one of its ranges: the last range
#: to finish must see every other finished, and two planners must not both start a cycle.
CYCLE_LOCK = "videolib.integrity.cycle"


@dataclass(frozen=True, slots=True)
class ToVerify:
    """A valid record with a hash and a stat fingerprint: what a re-hash compares with."""

    video_id: uuid.UUID
    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True, slots=True)
class CycleState:
    """Where verification stands: the cursor (None between cycles) and the cycles' times."""

    cursor: str | None
    started_at: datetime | None
    last_full_cycle_at: datetime | None


@dataclass(frozen=True, slots=True)
class ChunkKey:
    """A range of a cycle: the cycle's start (its identity) and the range's number."""

    cycle_started_at: datetime
    number: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """One row of `integrity_chunks`: a path range and how far its verification got."""

    key: ChunkKey
    after_path: str
    through_path: str | None
    done_through: str | None
    files: int
    unread: int
    flagged: int
    finished_at: datetime | None

    @property
    def resume_after(self) -> str:
        """The path after which the range's next file comes."""
        return self.after_path if self.done_through is None else self.done_through


@dataclass(frozen=True, slots=True)
class CycleEnd:
    """A cycle ended by the last of its ranges: what all of them counted."""

    started_at: datetime
    files: int
    unread: int
    flagged: int

    @property
    def full(self) -> bool:
        """Every file read: the last full cycle from now (an unread one is not claimed)."""
        return self.unread == 0


@dataclass(frozen=True, slots=True)
class Finding:
    """One row of `integrity_findings`."""

    id: uuid.UUID
    video_id: uuid.UUID | None
    path: str
    file_size: int
    file_mtime_ns: int
    recorded_hash: str
    observed_hash: str
    status: str
    found_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None

    @classmethod
    def from_row(cls, row: Any) -> Finding:
        mapping = row._mapping
        return cls(*(mapping[name] for name in _FINDING_FIELDS))


_FINDING_FIELDS = tuple(Finding.__dataclass_fields__)


class IntegrityRepository:
    """Statements on `integrity_findings` and the `integrity.*` settings."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- the cycle ------------------------------------------------------------------------

    @translate_errors
    async def state(self) -> CycleState:
        async with self.engine.connect() as connection:
            return await _state(connection)

    @translate_errors
    async def sizes(self, after: str, limit: int) -> list[tuple[str, int]]:
        """(path, size) of up to `limit` verifiable records after `after`: for planning."""
        v = videos.c
        path_order = v.path.collate("C")
        query = (
            select(v.path, v.file_size)
            .where(*_verifiable(), path_order > after)
            .order_by(path_order)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            return [(path, int(size)) for path, size in await connection.execute(query)]

    @translate_errors
    async def begin_cycle(
        self, now: datetime, ranges: list[tuple[str, str | None]], *, interval: timedelta
    ) -> list[ChunkKey]:
        """Start a cycle split into `ranges` (after, through), unless one is under way or
        the last started less than `interval` before `now` (not due): then nothing, [].

        The previous cycle's ranges go. One transaction under CYCLE_LOCK: two planners
        cannot both start one."""
        async with self.engine.begin() as connection:
            await _lock_cycle(connection)
            state = await _state(connection)
            if state.cursor is not None:
                return []
            if cycle_due_in(state.started_at, now, interval) > 0:
                return []
            await _set(connection, CURSOR_KEY, "")
            await _set(connection, CYCLE_STARTED_KEY, now.isoformat())
            await connection.execute(delete(chunks))
            await connection.execute(
                chunks.insert(),
                [
                    {
                        "cycle_started_at": now,
                        "number": number,
                        "after_path": after,
                        "through_path": through,
                    }
                    for number, (after, through) in enumerate(ranges)
                ],
            )
        return [ChunkKey(now, number) for number in range(len(ranges))]

    @translate_errors
    async def unfinished_chunks(self) -> list[ChunkKey]:
        """The ranges of the cycle under way not yet read to their end."""
        c = chunks.c
        query = (
            select(c.cycle_started_at, c.number)
            .where(c.finished_at.is_(None))
            .order_by(c.cycle_started_at, c.number)
        )
        async with self.engine.connect() as connection:
            return [ChunkKey(*row) for row in await connection.execute(query)]

    @translate_errors
    async def chunk(self, key: ChunkKey) -> Chunk | None:
        """A range by its key; None when its cycle was replaced since."""
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(chunks).where(_is(key)))).one_or_none()
        if row is None:
            return None
        m = row._mapping
        return Chunk(
            key,
            m["after_path"],
            m["through_path"],
            m["done_through"],
            m["files"],
            m["unread"],
            m["flagged"],
            m["finished_at"],
        )

    @translate_errors
    async def chunk_files(self, chunk: Chunk, after: str, limit: int) -> list[ToVerify]:
        """Up to `limit` verifiable records of the range after the path `after`."""
        v = videos.c
        path_order = v.path.collate("C")  # the index's order, whatever the collation
        where = [*_verifiable(), path_order > after]
        if chunk.through_path is not None:
            where.append(path_order <= chunk.through_path)
        query = (
            select(v.id, v.path, v.file_size, v.file_mtime_ns, v.file_hash)
            .where(*where)
            .order_by(path_order)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            return [ToVerify(*row) for row in await connection.execute(query)]

    @translate_errors
    async def next_files(self, after: str, limit: int) -> list[ToVerify]:
        """Up to `limit` verifiable records after the path `after`, in path order."""
        whole = Chunk(ChunkKey(datetime.min, 0), "", None, None, 0, 0, 0, None)
        return await self.chunk_files(whole, after, limit)

    @translate_errors
    async def passed(
        self, file: ToVerify, *, intact: bool, chunk: ChunkKey | None = None, unread: bool = False
    ) -> bool:
        """A file verified (or unread): its range moves past it; one found intact closes its
        open finding, if any. False when the range was past it already (a second worker on
        a range whose first was only thought dead): nothing is counted twice."""
        async with self.engine.begin() as connection:
            if chunk is not None and not await _advance(connection, chunk, file, unread=unread):
                return False
            await _set(connection, CURSOR_KEY, file.path)
            if intact:
                await connection.execute(
                    _resolve(findings.c.video_id == file.video_id, "intact", DAEMON)
                )
        return True

    @translate_errors
    async def flag(
        self, file: ToVerify, observed_hash: str, *, chunk: ChunkKey | None = None
    ) -> Finding | None:
        """Record a mismatch (or update the video's open finding) and move past the file;
        None when the range was past it already (a second worker on a range whose first
        was only thought dead): the first recorded it, and an admin may have closed that
        finding since, which a second one must not open again.

        The video's own `file_hash` is left as it is: only an admin's accept changes it.
        One open finding per video (a unique index): a range read again after a kill
        updates the finding it wrote, never adds a second.
        """
        statement = insert(findings).values(
            video_id=file.video_id,
            path=file.path,
            file_size=file.size,
            file_mtime_ns=file.mtime_ns,
            recorded_hash=file.sha256,
            observed_hash=observed_hash,
        )
        upsert = statement.on_conflict_do_update(
            index_elements=[findings.c.video_id],
            index_where=findings.c.status == "open",
            set_={
                "path": statement.excluded.path,
                "observed_hash": statement.excluded.observed_hash,
                "last_seen_at": func.now(),
            },
        ).returning(findings)
        async with self.engine.begin() as connection:
            if chunk is not None and not await _advance(connection, chunk, file, flagged=True):
                return None
            finding = Finding.from_row((await connection.execute(upsert)).one())
            await _set(connection, CURSOR_KEY, file.path)
        return finding

    @translate_errors
    async def finish_chunk(self, key: ChunkKey, now: datetime) -> CycleEnd | None:
        """The range was read to its end. The last of its cycle to finish ends the cycle
        (the cursor goes; a full one is the last full cycle from `now`): that CycleEnd."""
        c = chunks.c
        async with self.engine.begin() as connection:
            await _lock_cycle(connection)  # the other ranges' ends are committed, or wait
            await connection.execute(
                update(chunks).where(_is(key), c.finished_at.is_(None)).values(finished_at=now)
            )
            totals = (
                await connection.execute(
                    select(
                        func.count().filter(c.finished_at.is_(None)),
                        func.coalesce(func.sum(c.files), 0),
                        func.coalesce(func.sum(c.unread), 0),
                        func.coalesce(func.sum(c.flagged), 0),
                    ).where(c.cycle_started_at == key.cycle_started_at)
                )
            ).one()
            left, files, unread, flagged = (int(value) for value in totals)
            state = await _state(connection)
            if left or state.cursor is None or state.started_at != key.cycle_started_at:
                return None
            end = CycleEnd(key.cycle_started_at, files, unread, flagged)
            await connection.execute(delete(settings).where(settings.c.key == CURSOR_KEY))
            if end.full:
                await _set(connection, LAST_FULL_CYCLE_KEY, now.isoformat())
        return end

    # -- findings -------------------------------------------------------------------------

    @translate_errors
    async def open_count(self) -> int:
        query = select(func.count()).select_from(findings).where(findings.c.status == "open")
        async with self.engine.connect() as connection:
            return int(await connection.scalar(query) or 0)

    @translate_errors
    async def gauges(self) -> tuple[int, datetime | None]:
        """Open findings and the last full cycle's end, for /metrics (api/metrics.py)."""
        query = select(func.count()).select_from(findings).where(findings.c.status == "open")
        async with self.engine.connect() as connection:
            open_findings = int(await connection.scalar(query) or 0)
            state = await _state(connection)
        return open_findings, state.last_full_cycle_at

    @translate_errors
    async def findings(
        self, status: str | None, offset: int, limit: int
    ) -> tuple[list[Finding], int]:
        """A page of findings, newest first, and how many there are (of that status)."""
        where = [] if status is None else [findings.c.status == status]
        page = (
            select(findings)
            .where(*where)
            .order_by(findings.c.found_at.desc(), findings.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        total = select(func.count()).select_from(findings).where(*where)
        async with self.engine.connect() as connection:
            rows = [Finding.from_row(row) for row in await connection.execute(page)]
            return rows, int(await connection.scalar(total) or 0)

    @translate_errors
    async def finding(self, finding_id: uuid.UUID) -> Finding | None:
        """One finding, with its video's current path (the file may have moved since)."""
        f = findings.c
        columns = [c for c in findings.c if c.name != "path"]
        query = (
            select(*columns, func.coalesce(videos.c.path, f.path).label("path"))
            .select_from(findings.outerjoin(videos, videos.c.id == f.video_id))
            .where(f.id == finding_id)
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        return None if row is None else Finding.from_row(row)

    @translate_errors
    async def resolve(self, finding_id: uuid.UUID, status: str, by: str) -> Finding | None:
        """Close an open finding without touching the video (intact again, superseded).

        None when it was not open any more (resolved meanwhile by someone else)."""
        async with self.engine.begin() as connection:
            row = (
                await connection.execute(
                    _resolve(findings.c.id == finding_id, status, by).returning(findings)
                )
            ).one_or_none()
        return None if row is None else Finding.from_row(row)

    @translate_errors
    async def seen_again(self, finding_id: uuid.UUID, observed_hash: str) -> Finding | None:
        """A re-check found the same fingerprint and this hash: the open finding says so."""
        statement = (
            update(findings)
            .where(findings.c.id == finding_id, findings.c.status == "open")
            .values(observed_hash=observed_hash, last_seen_at=func.now())
            .returning(findings)
        )
        async with self.engine.begin() as connection:
            row = (await connection.execute(statement)).one_or_none()
        return None if row is None else Finding.from_row(row)

    @translate_errors
    async def accept(self, finding_id: uuid.UUID, by: str) -> Finding | None:
        """Make the observed hash the video's recorded one and close the finding, at once.

        Only while the finding is open and the record still holds the fingerprint and the
        hash the finding was made against (or the observed one); None otherwise (nothing
        changed).
        """
        f, v = findings.c, videos.c
        async with self.engine.begin() as connection:
            finding = (
                await connection.execute(
                    select(findings).where(f.id == finding_id, f.status == "open").with_for_update()
                )
            ).one_or_none()
            if finding is None or finding.video_id is None:
                return None
            updated = await connection.execute(
                update(videos)
                .where(
                    v.id == finding.video_id,
                    # The observed hash too: a validate may have recorded it already.
                    v.file_hash.in_([finding.recorded_hash, finding.observed_hash]),
                    v.file_size == finding.file_size,
                    v.file_mtime_ns == finding.file_mtime_ns,
                )
                .values(file_hash=finding.observed_hash, updated_at=func.now())
            )
            if updated.rowcount != 1:
                return None
            row = (
                await connection.execute(
                    _resolve(f.id == finding_id, "accepted", by).returning(findings)
                )
            ).one()
        return Finding.from_row(row)


def _resolve(which: Any, status: str, by: str) -> Any:
    return (
        update(findings)
        .where(which, findings.c.status == "open")
        .values(status=status, resolved_at=func.now(), resolved_by=by)
    )


async def _set(connection: AsyncConnection, key: str, value: str) -> None:
    statement = insert(settings).values(key=key, value=value)
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=[settings.c.key],
            set_={"value": statement.excluded.value, "updated_at": func.now()},
        )
    )


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _verifiable() -> list[Any]:
    """A valid record with a hash and a stat fingerprint: what a re-hash compares with."""
    v = videos.c
    return [
        v.is_valid,
        v.file_hash.is_not(None),
        v.file_size.is_not(None),
        v.file_mtime_ns.is_not(None),
    ]


def _is(key: ChunkKey) -> Any:
    return and_(chunks.c.cycle_started_at == key.cycle_started_at, chunks.c.number == key.number)


async def _advance(
    connection: AsyncConnection,
    key: ChunkKey,
    file: ToVerify,
    *,
    unread: bool = False,
    flagged: bool = False,
) -> bool:
    """Move a range's progress past `file`, counting it; False if it was past it already."""
    c = chunks.c
    done = c.done_through.collate("C")
    moved = await connection.execute(
        update(chunks)
        .where(_is(key), c.finished_at.is_(None), or_(done.is_(None), done < file.path))
        .values(
            done_through=file.path,
            files=c.files + 1,
            unread=c.unread + int(unread),
            flagged=c.flagged + int(flagged),
        )
    )
    return bool(moved.rowcount)


async def _lock_cycle(connection: AsyncConnection) -> None:
    await connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": CYCLE_LOCK}
    )


async def _state(connection: AsyncConnection) -> CycleState:
    keys = (CURSOR_KEY, CYCLE_STARTED_KEY, LAST_FULL_CYCLE_KEY)
    rows = await connection.execute(
        select(settings.c.key, settings.c.value).where(settings.c.key.in_(keys))
    )
    values = {key: value for key, value in rows}
    return CycleState(
        values.get(CURSOR_KEY),
        _timestamp(values.get(CYCLE_STARTED_KEY)),
        _timestamp(values.get(LAST_FULL_CYCLE_KEY)),
    )
