"""The `videolib thumbnails [--missing]` subcommand: backfill thumbnails, with a progress bar."""

from __future__ import annotations

import argparse
import asyncio

from videolib.shared.config import Config
from videolib.shared.db.repository import ThumbnailRepository
from videolib.shared.library import Library
from videolib.shared.progress import ProgressReporter
from videolib.shared.runtime import open_database
from videolib.shared.thumbnails import Outcome, ThumbnailMaker, ThumbnailSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `videolib thumbnails` to the CLI (entry point group videolib.commands)."""
    parser = commands.add_parser(
        "thumbnails", help="make the thumbnails of valid videos (custom ones are kept)"
    )
    parser.add_argument(
        "--missing",
        action="store_true",
        help="only videos without a thumbnail (default: also remake the generated ones)",
    )
    parser.set_defaults(handler=_thumbnails)


def _thumbnails(args: argparse.Namespace, config: Config) -> int:
    outcomes = asyncio.run(backfill(config, missing_only=args.missing))
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        print(f"  {outcome.video_id}: {outcome.error}")
    print(f"Thumbnails: {len(outcomes) - len(failed)} made, {len(failed)} failed")
    return 1 if failed else 0


async def backfill(config: Config, *, missing_only: bool) -> list[Outcome]:
    """Make the thumbnails of every valid video that needs one, reporting progress."""
    async with open_database(config) as engine:
        repository = ThumbnailRepository(engine)
        tasks = await repository.backlog(missing_only=missing_only)
        reporter = ProgressReporter("thumbnails", total=len(tasks))
        done = failed = 0

        def progress(outcome: Outcome) -> None:
            nonlocal done, failed
            done += 1
            failed += not outcome.ok
            reporter.update(done, made=done - failed, failed=failed)

        settings = ThumbnailSettings.from_config(config)
        try:
            async with ThumbnailMaker(repository, Library.from_config(config), settings) as maker:
                return await maker.make_many(tasks, progress)
        finally:
            reporter.close()
