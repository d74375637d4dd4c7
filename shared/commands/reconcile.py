"""`videolib reconcile`: list the held passes, or apply one (`--apply-missing TYPE`).

A pass that would have marked too much missing, or a folder that looked unmounted, is
held (shared/mount_safety.py). Applying it runs the pass again for that type, now, with
the guard's device, emptiness and mass checks waived (never the marker's): what is gone
at that moment is marked missing, so a share that came back in between marks nothing.
"""

from __future__ import annotations

import argparse
import asyncio

from videolib.shared.config import Config
from videolib.shared.db.repository import DirectoryLocks, HeldPass, MountRepository, VideoRepository
from videolib.shared.errors import ConfigError
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.library import Library
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.mount_guard import limits_from
from videolib.shared.runtime import examiner_pool, open_database

EXIT_OK = 0
EXIT_STILL_HELD = 1


def run_reconcile(args: argparse.Namespace, config: Config) -> int:
    directory_type = args.apply_missing
    if directory_type is None:
        held = asyncio.run(_held(config))
        for one in held:
            counts = f"{one.missing} of {one.records} held ({one.kind})"
            print(f"{one.directory_type}: {counts}: {one.reason}")
        if not held:
            print("no held passes")
        return EXIT_OK
    if directory_type not in DIRECTORY_TYPES:
        raise ConfigError(
            "--apply-missing",
            directory_type,
            "command line",
            f"one of {', '.join(DIRECTORY_TYPES)}",
        )
    result = asyncio.run(apply_missing(config, directory_type))
    return print_applied(directory_type, result)


async def _held(config: Config) -> list[HeldPass]:
    async with open_database(config) as engine:
        return await MountRepository(engine).held()


async def apply_missing(config: Config, directory_type: str) -> ScanResult:
    """The held pass of one type, applied: a scan with the guard waived, under its lock."""
    async with (
        open_database(config) as engine,
        DirectoryLocks(engine).directory_lock([directory_type]),
        examiner_pool(config) as pool,
    ):
        return await scan(
            [directory_type],
            library=Library.from_config(config),
            repository=VideoRepository(engine),
            pool=pool,
            limits=limits_from(config),
            apply_missing=True,
        )


def print_applied(directory_type: str, result: ScanResult) -> int:
    """One line of what was done; exit 1 (and why) if it is still held (no marker)."""
    for held in result.held:
        print(f"videolib reconcile: {held.directory_type}: still held: {held.reason}")
    if result.held:
        print("  fix: mount the share, or `videolib init` if this is the library")
        return EXIT_STILL_HELD
    print(
        f"{directory_type}: marked {result.missing} vanished files missing; "
        f"{result.created} new, {result.updated} updated, {result.skipped} unchanged"
    )
    return EXIT_OK
