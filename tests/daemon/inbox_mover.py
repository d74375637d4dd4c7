"""A real process that moves one inbox file with the daemon's code and kills itself with
SIGKILL right after a chosen step: a crash at that instant, for the recovery tests.

    python -m tests.daemon.inbox_mover SETTINGS_JSON

SETTINGS_JSON: {"root", "inbox", "state", "database_url", "stored_path", "die_after"}.
Prints the outcome if it lived to the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from videolib.daemon.inbox import Inbox
from videolib.daemon.journal import MoveJournal
from videolib.daemon.metrics import DaemonMetrics
from videolib.daemon.pipeline import stat_found
from videolib.shared.config import Config, LibraryConfig, StateConfig
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import DirectoryLocks, InboxMoveRepository, VideoRepository
from videolib.shared.ingest import to_examined
from videolib.shared.library import Library
from videolib.shared.media.examine import examine
from videolib.shared.runtime import examiner_pool, probe_settings


async def move(settings: dict[str, str]) -> str:
    config = Config(
        library=LibraryConfig(root=Path(settings["root"]), inbox=Path(settings["inbox"])),
        state=StateConfig(dir=Path(settings["state"])),
    )
    library = Library.from_config(config)
    stored = settings["stored_path"]

    def step(name: str) -> None:
        if name == settings["die_after"]:
            os.kill(os.getpid(), signal.SIGKILL)

    async with open_engine(make_url(settings["database_url"]), pool_size=2) as engine:
        # Examined here, in this process: the pool below never starts a worker, so the
        # kill leaves no child behind.
        (found,) = stat_found(library, [stored])
        examined = to_examined(stored, examine(os.fspath(found.location), probe_settings(config)))
        inbox = Inbox(
            library,
            VideoRepository(engine),
            examiner_pool(config),
            config.daemon,
            DaemonMetrics(),
            DirectoryLocks(engine),
            MoveJournal(InboxMoveRepository(engine)),
            step=step,
        )
        async with inbox.locks.free_directory_locks([f"inbox-file:{stored}"]) as mine:
            assert mine
            return await inbox.move_and_record(found, examined)


if __name__ == "__main__":
    print(asyncio.run(move(json.loads(sys.argv[1]))))
