"""The inbox's move journal: one small file per move, written before the move starts and
removed once the move is on disk and recorded in the database.

It is what makes a move survive a kill (recovery reads what was being moved, where to,
and by which content it can be found) and what keeps the moves not yet recorded while
the database is away across a restart: they are the entries still here. Entries live
in the state dir, not the database, so that they can be written and read while the
database is down. Blocking: run in a thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from videolib.shared.logging import get_logger

from .moving import INCOMING_PREFIX, Content, fsync

log = get_logger(__name__)

_SUFFIX = ".json"


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
    folder: Path

    def write(self, entry: MoveEntry) -> None:
        """Durably add an entry: written aside, fsynced, renamed into place, folder fsynced."""
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{entry.id}{_SUFFIX}"
        partial = self.folder / f".{entry.id}.partial"
        with partial.open("w") as out:
            json.dump(asdict(entry), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)
        fsync(self.folder)

    def remove(self, entry: MoveEntry) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / f"{entry.id}{_SUFFIX}").unlink()
            fsync(self.folder)

    def entries(self) -> list[MoveEntry]:
        """Every entry, oldest first; half-written ones (a kill while writing) removed."""
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            path = self.folder / name
            if name.endswith(".partial"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # never renamed into place: its move never started
                continue
            if not name.endswith(_SUFFIX):
                continue
            try:
                found.append((path.stat().st_mtime_ns, MoveEntry(**json.loads(path.read_text()))))
            except (OSError, ValueError, TypeError) as error:
                log.error("inbox_journal_unreadable", path=str(path), error=str(error))
        return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]
