"""The `videolib thumbnails [--missing]` subcommand: backfill thumbnails, with a progress bar.

Through the engine (shared/jobs/batches.py): a batch of thumbnail_chunk jobs on the
`thumbnails` queue, worked here while waiting and by every `videolib worker` of that queue,
so a killed command loses nothing and the workers finish it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from videolib.shared.config import Config
from videolib.shared.db.repository import BatchItem, BatchProgress, ThumbnailRepository
from videolib.shared.jobs.batches import (
    THUMBNAILS,
    Batch,
    interrupted_message,
    start_batch,
    wait_for_batch,
)
from videolib.shared.progress import ProgressReporter
from videolib.shared.runtime import open_database

EXIT_INTERRUPTED = 130  # as cli.py's


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
    started: list[Batch] = []
    try:
        outcomes = asyncio.run(backfill(config, missing_only=args.missing, started=started))
    except KeyboardInterrupt:
        if started:
            print(interrupted_message("thumbnails", started[0]), file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        print(f"  {outcome.error}")  # "<video id>: <reason>" (batch_jobs.py)
    print(f"Thumbnails: {len(outcomes) - len(failed)} made, {len(failed)} failed")
    return 1 if failed else 0


async def backfill(
    config: Config, *, missing_only: bool, started: list[Batch] | None = None
) -> list[BatchItem]:
    """Make the thumbnails of every valid video that needs one, reporting progress."""
    async with open_database(config) as engine:
        tasks = await ThumbnailRepository(engine).backlog(missing_only=missing_only)
        ids = [task.video_id for task in tasks]
        options = {"missing_only": missing_only}
        batch = await start_batch(engine, THUMBNAILS, ids, options=options)
        if started is not None:
            started.append(batch)
        reporter = ProgressReporter("thumbnails", total=len(batch.ids))

        def progress(state: BatchProgress) -> None:
            reporter.update(state.done, made=state.done - state.failed, failed=state.failed)

        try:
            return await wait_for_batch(
                config, engine, batch, concurrency=config.thumbnails.workers, progress=progress
            )
        finally:
            reporter.close()
