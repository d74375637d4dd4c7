"""The inbox's move journal: one row per move in PostgreSQL (`inbox_moves`), written before
the move starts and deleted in the transaction that records the move.

It is what makes a move survive a kill (recovery reads what was being moved, where to,
and by which content it can be found) and what keeps the moves not yet recorded while
the database is away after the move: their entries were committed before it started.
In the database, not a daemon's state dir, because a library has several daemons (a
leader and standbys, maybe on other hosts): whichever leads after a kill must see the
entries of the one killed. A move needs the database anyway (its file's advisory lock is
taken first), so the journal adds no new reason for a move to wait.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from videolib.shared.db.repository import InboxMove, InboxMoveRepository

from .moving import INCOMING_PREFIX, Content


@dataclass(frozen=True, slots=True)
class MoveEntry:
    """One inbox file on its way to `directory_type`."""

    id: str
    inbox_path: str  # stored path of the inbox original
    directory_type: str
    filename: str  # the name it had in the inbox: the record's originalFilename
    size: int
    sha256: str

    @classmethod
    def new(
        cls, inbox_path: str, directory_type: str, filename: str, content: Content
    ) -> MoveEntry:
        return cls(
            uuid.uuid4().hex, inbox_path, directory_type, filename, content.size, content.sha256
        )

    @property
    def content(self) -> Content:
        return Content(self.size, self.sha256)

    @property
    def temporary_name(self) -> str:
        """The hidden copy's name across file systems: known to recovery from the entry."""
        return f"{INCOMING_PREFIX}{self.id}"


@dataclass(frozen=True)
class MoveJournal:
    """The entries as the inbox sees them. Each call raises DatabaseUnavailableError when
    the database is away; recording a move removes its entry (`record_standardized`)."""

    moves: InboxMoveRepository

    async def write(self, entry: MoveEntry) -> None:
        """Add an entry, committed before the move's first step."""
        await self.moves.add(InboxMove(**asdict(entry)))

    async def remove(self, entry: MoveEntry) -> None:
        """Forget a move that leaves nothing to record."""
        await self.moves.remove(entry.id)

    async def holds(self, entry: MoveEntry) -> bool:
        """Whether the entry is still there (not recorded or forgotten meanwhile)."""
        return await self.moves.holds(entry.id)

    async def entries(self) -> list[MoveEntry]:
        """Every entry of every daemon of the library, oldest first."""
        return [MoveEntry(**asdict(move)) for move in await self.moves.all()]
