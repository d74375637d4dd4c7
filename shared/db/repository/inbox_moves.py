"""The inbox's move journal in `inbox_moves`: the moves of inbox files not yet recorded.

One table for every daemon of the library, so that whichever leads next finishes what a
killed one left (daemon/journal.py). An entry is added before a move's first step and
deleted by `forget_move` inside the transaction that records the move
(`VideoRepository.record_standardized(move_id=...)`): a move is recorded or journaled,
never both and never neither.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from videolib.shared.db.schema import inbox_moves

from .errors import translate_errors


@dataclass(frozen=True, slots=True)
class InboxMove:
    """One row of the journal: an inbox file on its way to `directory_type`."""

    id: str
    inbox_path: str  # stored path of the inbox original
    directory_type: str
    filename: str  # the name it had in the inbox: the record's originalFilename
    size: int
    sha256: str


_COLUMNS = (
    inbox_moves.c.id,
    inbox_moves.c.inbox_path,
    inbox_moves.c.directory_type,
    inbox_moves.c.filename,
    inbox_moves.c.size,
    inbox_moves.c.sha256,
)


class InboxMoveRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @translate_errors
    async def add(self, move: InboxMove) -> None:
        """Journal a move; committed on return, before the move's first step. Adding one
        twice leaves one entry."""
        statement = insert(inbox_moves).values(asdict(move)).on_conflict_do_nothing()
        async with self.engine.begin() as connection:
            await connection.execute(statement)

    @translate_errors
    async def remove(self, move_id: str) -> None:
        """Forget a move that left nothing to record (rolled back, or nothing moved)."""
        async with self.engine.begin() as connection:
            await forget_move(connection, move_id)

    @translate_errors
    async def all(self) -> list[InboxMove]:
        """Every journaled move, oldest first."""
        statement = select(*_COLUMNS).order_by(inbox_moves.c.created_at, inbox_moves.c.id)
        async with self.engine.connect() as connection:
            result = await connection.execute(statement)
        return [InboxMove(*row) for row in result]

    @translate_errors
    async def holds(self, move_id: str) -> bool:
        """Whether the move is still journaled (its mover may have recorded it meanwhile)."""
        statement = select(inbox_moves.c.id).where(inbox_moves.c.id == move_id)
        async with self.engine.connect() as connection:
            return (await connection.execute(statement)).first() is not None


async def forget_move(connection: AsyncConnection, move_id: str) -> None:
    """Delete a journal entry within the caller's transaction."""
    await connection.execute(delete(inbox_moves).where(inbox_moves.c.id == move_id))
