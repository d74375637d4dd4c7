"""Statements on `library_folders`: each folder's recorded device and its held pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db.schema import library_folders as folders

from .errors import translate_errors

#: The row of the library root itself.
ROOT_FOLDER = "."


@dataclass(frozen=True, slots=True)
class HeldPass:
    """Missing marks held back for one directory type."""

    directory_type: str
    kind: str
    reason: str
    missing: int
    records: int
    held_at: datetime
    passes: int

    @classmethod
    def from_row(cls, row: Row[tuple[object, ...]]) -> HeldPass:
        return cls(
            row.folder,
            row.held_kind,
            row.held_reason or "",
            row.held_missing or 0,
            row.held_records or 0,
            row.held_at,
            row.held_passes,
        )


class MountRepository:
    """Recorded devices and held passes, by folder ("." for the root)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def devices(self) -> dict[str, int]:
        """The recorded device of each folder that has one."""
        query = select(folders.c.folder, folders.c.device).where(folders.c.device.is_not(None))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {row.folder: row.device for row in rows}

    @translate_errors
    async def applied(self, devices: dict[str, int]) -> None:
        """A pass applied: record each folder's device and drop its held pass."""
        if not devices:
            return
        statement = insert(folders).values(
            [{"folder": f, "device": d, "device_seen_at": func.now()} for f, d in devices.items()]
        )
        statement = statement.on_conflict_do_update(
            index_elements=[folders.c.folder],
            set_={
                "device": statement.excluded.device,
                "device_seen_at": func.now(),
                "held_kind": None,
                "held_reason": None,
                "held_missing": None,
                "held_records": None,
                "held_at": None,
                "held_passes": 0,
            },
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    @translate_errors
    async def hold(
        self, directory_type: str, kind: str, reason: str, missing: int, records: int
    ) -> int:
        """Keep a held pass (the latest one's counts); returns the passes held in a row.

        The recorded device stays: it is the one the records were seen on.
        """
        held = {
            "held_kind": kind,
            "held_reason": reason,
            "held_missing": missing,
            "held_records": records,
            "held_at": func.now(),
        }
        statement = insert(folders).values(folder=directory_type, held_passes=1, **held)
        upsert = statement.on_conflict_do_update(
            index_elements=[folders.c.folder],
            set_={**held, "held_passes": folders.c.held_passes + 1},
        ).returning(folders.c.held_passes)
        async with self.engine.begin() as connection:
            return int((await connection.execute(upsert)).scalar_one())

    @translate_errors
    async def held(self) -> list[HeldPass]:
        """Every held pass, by directory type."""
        query = select(folders).where(folders.c.held_kind.is_not(None)).order_by(folders.c.folder)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [HeldPass.from_row(row) for row in rows]
