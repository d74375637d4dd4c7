"""`videolib init`: create the library's folders and its marker, and record its id.

The marker says "this is the library, mounted" (shared/library_marker.py). Writing one on
an empty mount point would defeat it, so `init` refuses when the database holds records
and no type folder holds anything (the share is probably not mounted), unless `--force`.
`decide_init` is pure (tests/unit/test_init_decision.py); `init_library` does the I/O and
is also what `videolib run` calls in local mode.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.db.repository import SettingsRepository, VideoRepository
from videolib.shared.errors import ConfigError
from videolib.shared.library import Library
from videolib.shared.library_marker import (
    LIBRARY_ID_SETTING,
    MarkerFile,
    new_library_id,
    read_marker,
    write_marker,
)
from videolib.shared.logging import get_logger
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.runtime import open_database

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Write:
    """Write the marker with this id (and record the id)."""

    library_id: str


@dataclass(frozen=True, slots=True)
class Keep:
    """The marker is there and names this library: record its id if not yet."""

    library_id: str


@dataclass(frozen=True, slots=True)
class Refuse:
    reason: str


InitDecision = Write | Keep | Refuse


def decide_init(
    marker: MarkerFile,
    recorded_id: str | None,
    *,
    holds_records: bool,
    folders_empty: bool,
    force: bool,
    new_id: str,
) -> InitDecision:
    """What `init` should do with the marker, from what is on disk and recorded."""
    if marker.error is not None:
        return Refuse(f"{marker.path}: cannot be read: {marker.error}; remove or fix it")
    if marker.library_id is not None:
        if recorded_id is None or marker.library_id == recorded_id:
            return Keep(marker.library_id)
        if not force:
            return Refuse(
                f"{marker.path} names library {marker.library_id}, the database "
                f"{recorded_id}: another library's share? (--force to take this one)"
            )
        return Write(recorded_id)
    if holds_records and folders_empty and not force:
        return Refuse(
            "the database holds records but every type folder is empty: is the share "
            "mounted? Mount it and run `videolib init` again (--force if it is really empty)"
        )
    return Write(recorded_id or new_id)


async def init_library(
    library: Library, engine: AsyncEngine, *, force: bool = False
) -> InitDecision:
    """Create the folders, then write or keep the marker as `decide_init` says."""
    await asyncio.to_thread(_make_folders, library)
    settings = SettingsRepository(engine)
    recorded = await settings.setting(LIBRARY_ID_SETTING)
    marker = await asyncio.to_thread(read_marker, library.root)
    decision = decide_init(
        marker,
        recorded,
        holds_records=bool(await VideoRepository(engine).any_path()),
        folders_empty=await asyncio.to_thread(_all_empty, library),
        force=force,
        new_id=new_library_id(),
    )
    if isinstance(decision, Write):
        path = await asyncio.to_thread(write_marker, library.root, decision.library_id)
        log.info("library_marker_written", path=str(path), library_id=decision.library_id)
    if isinstance(decision, Write | Keep) and recorded != decision.library_id:
        await settings.set_setting(LIBRARY_ID_SETTING, decision.library_id)
    return decision


def _make_folders(library: Library) -> None:
    for directory_type in DIRECTORY_TYPES:
        library.directory(directory_type).mkdir(parents=True, exist_ok=True)


def _all_empty(library: Library) -> bool:
    for directory_type in DIRECTORY_TYPES:
        with os.scandir(library.directory(directory_type)) as entries:
            if next(entries, None) is not None:
                return False
    return True


# -- the command ---------------------------------------------------------------------------


def run_init(args: argparse.Namespace, config: Config) -> int:
    library = Library.from_config(config)

    async def init() -> InitDecision:
        async with open_database(config) as engine:
            return await init_library(library, engine, force=args.force)

    decision = asyncio.run(init())
    if isinstance(decision, Refuse):
        raise ConfigError("library.root", str(library.root), config.source, decision.reason)
    verb = "wrote" if isinstance(decision, Write) else "kept"
    print(f"library {decision.library_id}: {verb} {library.root}/.videolib-library")
    return 0
