"""The inbox's move journal: one row per move in PostgreSQL (`inbox_moves`), written before
the move starts and deleted in the transaction that records the move.

It is what makes a move survive a kill (recovery reads what was being moved, where to,
and by which content it can be found) and what keeps the moves not yet recorded while
the database is away after the move: their entries were committed before it started.
In the database, not a daemon's state dir, because a library has several daemons (a
leader and standbys, maybe on other hosts): whichever leads after a kill must see the
entries of the one killed. A move needs the database anyway (its file's advisory lock is
taken first), so the journal adds no new reason for a move to wait.

Entries that a daemon of an earlier version left as files in its state dir
(`<state.dir>/inbox-moves/<id>.json`) are moved into the table by the first recovery
after the upgrade, so a move killed before it is finished with its originalFilename too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from videolib.shared.db.repository import InboxMove, InboxMoveRepository
from videolib.shared.logging import get_logger

from .moving import INCOMING_PREFIX, Content

log = get_logger(__name__)

#: The state dir's folder of the entries of earlier versions, one JSON file per move.
LEGACY_DIR = "inbox-moves"


@dataclass(frozen=True, slots=True)
class MoveEntry(InboxMove):
    """One inbox file on its way to `directory_type`: the journal's row, with what the
    inbox derives from it."""

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
    #: The folder of an earlier version's entries (`LEGACY_DIR` in the state dir), adopted
    #: by `entries`; None: there is none to look at.
    legacy: Path | None = None

    async def write(self, entry: MoveEntry) -> None:
        """Add an entry, committed before the move's first step."""
        await self.moves.add(entry)

    async def remove(self, entry: MoveEntry) -> None:
        """Forget a move that leaves nothing to record."""
        await self.moves.remove(entry.id)

    async def holds(self, entry: MoveEntry) -> bool:
        """Whether the entry is still there (not recorded or forgotten meanwhile)."""
        return await self.moves.holds(entry.id)

    async def entries(self) -> list[MoveEntry]:
        """Every entry of every daemon of the library, oldest first."""
        if self.legacy is not None:
            await self._adopt(self.legacy)
        return [MoveEntry(**asdict(move)) for move in await self.moves.all()]

    async def _adopt(self, folder: Path) -> None:
        """Move an earlier version's entry files into the table: added, then unlinked (a
        kill in between adds it again, which `add` makes one entry)."""
        for path, entry in await asyncio.to_thread(_read_files, folder):
            await self.write(entry)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            log.info("inbox_journal_adopted", path=entry.inbox_path, entry=entry.id)


def _read_files(folder: Path) -> list[tuple[Path, MoveEntry]]:
    """The entry files of an earlier version; half-written ones (never renamed into place:
    their move never started) removed. Blocking: run in a thread."""
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        path = folder / name
        if name.endswith(".partial"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        elif name.endswith(".json"):
            try:
                found.append((path, MoveEntry(**json.loads(path.read_text()))))
            except (OSError, ValueError, TypeError) as error:
                log.error("inbox_journal_unreadable", path=str(path), error=str(error))
    return found
