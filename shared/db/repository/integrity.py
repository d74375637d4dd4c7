"""Statements of the integrity checks: what to verify next, the cycle's cursor, findings.

The cursor lives in `settings` (keys under `integrity.`): present while a cycle is under
way (the last path verified, "" at its start), absent between cycles, so a restart resumes
with the next path. Paths are walked in code point order (`idx_videos_path_bytes`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.schema import integrity_findings as findings
from videolib.shared.db.schema import settings, videos

from .errors import translate_errors

CURSOR_KEY = "integrity.cursor"
CYCLE_STARTED_KEY = "integrity.cycle_started_at"
LAST_FULL_CYCLE_KEY = "integrity.last_full_cycle_at"
#: Who resolves a finding when the daemon finds the file intact again.
DAEMON = "daemon"


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
        keys = (CURSOR_KEY, CYCLE_STARTED_KEY, LAST_FULL_CYCLE_KEY)
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(settings.c.key, settings.c.value).where(settings.c.key.in_(keys))
            )
            values = {key: value for key, value in rows}
        return CycleState(
            values.get(CURSOR_KEY),
            _timestamp(values.get(CYCLE_STARTED_KEY)),
            _timestamp(values.get(LAST_FULL_CYCLE_KEY)),
        )

    @translate_errors
    async def start_cycle(self, now: datetime) -> None:
        async with self.engine.begin() as connection:
            await _set(connection, CURSOR_KEY, "")
            await _set(connection, CYCLE_STARTED_KEY, now.isoformat())

    @translate_errors
    async def finish_cycle(self, now: datetime, *, full: bool = True) -> None:
        """End the cycle; a `full` one (every file read) is the last full cycle from now."""
        async with self.engine.begin() as connection:
            await connection.execute(delete(settings).where(settings.c.key == CURSOR_KEY))
            if full:
                await _set(connection, LAST_FULL_CYCLE_KEY, now.isoformat())

    @translate_errors
    async def next_files(self, after: str, limit: int) -> list[ToVerify]:
        """Up to `limit` verifiable records after the path `after`, in path order."""
        v = videos.c
        path_order = v.path.collate("C")  # the index's order, whatever the collation
        query = (
            select(v.id, v.path, v.file_size, v.file_mtime_ns, v.file_hash)
            .where(
                v.is_valid,
                v.file_hash.is_not(None),
                v.file_size.is_not(None),
                v.file_mtime_ns.is_not(None),
                path_order > after,
            )
            .order_by(path_order)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            return [ToVerify(*row) for row in await connection.execute(query)]

    @translate_errors
    async def passed(self, file: ToVerify, *, intact: bool) -> None:
        """Move the cursor past a file; one found intact closes its open finding, if any."""
        async with self.engine.begin() as connection:
            await _set(connection, CURSOR_KEY, file.path)
            if intact:
                await connection.execute(
                    _resolve(findings.c.video_id == file.video_id, "intact", DAEMON)
                )

    @translate_errors
    async def flag(self, file: ToVerify, observed_hash: str) -> Finding:
        """Record a mismatch (or update the video's open finding) and move the cursor past it.

        The video's own `file_hash` is left as it is: only an admin's accept changes it.
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
            finding = Finding.from_row((await connection.execute(upsert)).one())
            await _set(connection, CURSOR_KEY, file.path)
        return finding

    # -- findings -------------------------------------------------------------------------

    @translate_errors
    async def open_count(self) -> int:
        query = select(func.count()).select_from(findings).where(findings.c.status == "open")
        async with self.engine.connect() as connection:
            return int(await connection.scalar(query) or 0)

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
