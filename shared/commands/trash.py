"""`videolib trash`, `videolib restore` and `videolib cleanup`: the trash from the command line.

The same code as the API's (shared/trash.py, shared/cleanup.py). `cleanup` without
`--apply` is the dry run; with it, the records listed are applied in the same process,
each re-checked under its row lock.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.cleanup import Candidate, Cleanup, ItemReport, Seen, Selection
from videolib.shared.config import Config
from videolib.shared.db.repository import TrashRepository, VideoRepository
from videolib.shared.ingest import to_examined
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool, open_database
from videolib.shared.trash import Trash, utc_now

EXIT_OK = 0
EXIT_FAILURES = 1


def _trash(engine: AsyncEngine, config: Config) -> Trash:
    return Trash(
        Library.from_config(config),
        TrashRepository(engine),
        config.thumbnail_dir.absolute(),
    )


def trash_command(args: argparse.Namespace, config: Config) -> int:
    async def run() -> str:
        async with open_database(config) as engine:
            trashed = await _trash(engine, config).trash(args.video_id)
        return f"{trashed.trashed_from} -> {trashed.path} (restore: videolib restore {trashed.id})"

    print(asyncio.run(run()))
    return EXIT_OK


def restore_command(args: argparse.Namespace, config: Config) -> int:
    async def run() -> str:
        async with open_database(config) as engine:
            restored = await _trash(engine, config).restore(args.video_id)
            # Examined again, as the API's restore: a file trashed corrupt comes back so.
            library = Library.from_config(config)
            async with examiner_pool(config) as pool:
                examination = await pool.examine(str(library.absolute(restored.path)))
            await VideoRepository(engine).write_examined([to_examined(restored.path, examination)])
            now = await VideoRepository(engine).get(restored.id) or restored
        state = "valid" if now.is_valid else f"invalid: {now.invalid_reason}"
        return f"restored {now.path} ({now.id}, {state})"

    print(asyncio.run(run()))
    return EXIT_OK


def cleanup_command(args: argparse.Namespace, config: Config) -> int:
    selection = Selection(tuple(dict.fromkeys(args.reason)), args.older_than_days)

    async def run() -> tuple[list[Candidate], list[ItemReport] | None]:
        async with open_database(config) as engine:
            cleanup = Cleanup(_trash(engine, config))
            candidates = await cleanup.preview(selection)
            if not args.apply or not candidates:
                return candidates, None
            seen = [Seen(c.video.id, c.video.updated_at) for c in candidates]
            return candidates, await cleanup.apply(selection, seen)

    candidates, reports = asyncio.run(run())
    print_candidates(candidates, utc_now())
    if reports is None:
        if candidates:
            print("Dry run: nothing changed. Add --apply to move these files to the trash.")
        return EXIT_OK
    print_reports(reports)
    return EXIT_FAILURES if any(r.outcome == "failed" for r in reports) else EXIT_OK


def print_candidates(candidates: Sequence[Candidate], now: datetime) -> None:
    for c in candidates:
        age = (now - c.video.updated_at).total_seconds() / 86400
        where = "on disk" if c.on_disk else "no file"
        print(
            f"{c.video.invalid_reason:8} {age:6.1f} d {_size(c.size):>9} {where:7} "
            f"{c.video.path}  {c.video.id}"
        )
    total = sum(c.size or 0 for c in candidates)
    print(f"{len(candidates)} invalid videos selected, {_size(total)}")


def print_reports(reports: Sequence[ItemReport]) -> None:
    for r in reports:
        if r.outcome == "trashed":
            print(f"trashed  {r.path} -> {r.trash_path}")
        elif r.outcome == "dropped":
            print(f"dropped  {r.path} (no file)")
        else:
            print(f"{r.outcome:8} {r.id}: {r.reason}")
    counts = {
        o: sum(r.outcome == o for r in reports) for o in ("trashed", "dropped", "skipped", "failed")
    }
    trashed = sum(r.size or 0 for r in reports if r.outcome == "trashed")
    print(
        f"Clean-up: {counts['trashed']} files to the trash ({_size(trashed)}), "
        f"{counts['dropped']} records without a file dropped, {counts['skipped']} skipped, "
        f"{counts['failed']} failed"
    )


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
