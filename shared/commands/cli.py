"""The `videolib` command: one console script, subcommands, one place for exit codes.

Subcommands of the API and the daemon are registered through the `videolib.commands`
entry points (setup.py), so `videolib.shared` never imports `videolib.api` or `.daemon`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from videolib.shared.commands import doctor, init, reconcile, supervisor, trash
from videolib.shared.config import Config, load_config
from videolib.shared.db import migrate
from videolib.shared.db.actor import set_process_actor
from videolib.shared.db.engine import DatabaseTimeouts, database_url, open_engine
from videolib.shared.db.repository import (
    CLEANUP_REASONS,
    BatchItem,
    BatchProgress,
    DirectoryLocks,
    VideoRepository,
    ping,
    translate,
)
from videolib.shared.errors import ConfigError, DatabaseUnavailableError, VideolibError
from videolib.shared.ingest import ScanResult, scan
from videolib.shared.jobs.batches import (
    VALIDATE,
    Batch,
    interrupted_message,
    start_batch,
    wait_for_batch,
)
from videolib.shared.library import Library
from videolib.shared.logging import configure_logging
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.mount_guard import limits_from
from videolib.shared.progress import ProgressReporter
from videolib.shared.runtime import examiner_pool, open_database
from videolib.shared.tokens import ADMIN_ROLE, issue_token, login_link, parse_ttl, signing_secret

EXIT_OK = 0
EXIT_FAILURES = 1  # the command ran, some files failed
EXIT_USAGE = 2  # bad arguments or configuration
EXIT_STARTUP = 3  # could not start (database unreachable); systemd: RestartPreventExitStatus
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace, Config], int]


def exit_code_for(error: BaseException) -> int:
    """The exit code of an error that reached the top."""
    if isinstance(error, ConfigError):
        return EXIT_USAGE
    if isinstance(error, DatabaseUnavailableError):
        return EXIT_STARTUP
    return EXIT_FAILURES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videolib", description="Keeps a video library and its database in step."
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $VIDEOLIB_CONFIG, else built-in defaults)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_db(commands)
    _add_scan(commands)
    _add_validate(commands)
    _add_token(commands)
    _add_run(commands)
    _add_trash(commands)
    _add_init(commands)
    _add_reconcile(commands)
    doctor.register(commands)
    for entry in sorted(entry_points(group="videolib.commands"), key=lambda e: e.name):
        entry.load()(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Who the history of each change names, for what this process writes (actor.py).
    set_process_actor(args.command if args.command in ("api", "daemon") else "cli")
    loader: Callable[[str | None], Config] = getattr(args, "load_config", load_config)
    try:
        config = loader(args.config)
        configure_logging(config.log.level, config.log.format, environ=os.environ)
        return int(args.handler(args, config))
    except VideolibError as error:
        print(f"videolib {args.command}: {error.message}", file=sys.stderr)
        return exit_code_for(error)
    except Exception as crash:
        # A driver error that got past the repository (a migration, a raw statement): one
        # line and exit 3 when it means "unavailable", a traceback only for a real bug.
        translated = translate(crash)
        if translated is None:
            raise
        print(f"videolib {args.command}: {translated.message}", file=sys.stderr)
        return exit_code_for(translated)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


# -- db ---------------------------------------------------------------------------------


def _add_db(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="database migrations")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="apply migrations (Alembic)")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(handler=_db_upgrade, load_config=_config_without_library)


def _config_without_library(path: str | None) -> Config:
    return load_config(path, require_library=False)


def _db_upgrade(args: argparse.Namespace, config: Config) -> int:
    async def upgrade() -> str | None:
        with database_url(config) as url:
            async with open_engine(url, 1, DatabaseTimeouts.from_config(config)) as engine:
                await ping(engine)
                await migrate.upgrade(engine, args.revision)
                return await migrate.current_revision(engine)

    revision = asyncio.run(upgrade())
    print(f"database at revision {revision}")
    return EXIT_OK


# -- trash, restore, cleanup (shared/commands/trash.py) ---------------------------------


def _add_trash(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    moved = commands.add_parser(
        "trash", help="move a video's file to the library's trash (restorable)"
    )
    moved.add_argument("video_id", type=uuid.UUID, metavar="VIDEO_ID")
    moved.set_defaults(handler=trash.trash_command)
    back = commands.add_parser("restore", help="move a trashed video's file back, valid again")
    back.add_argument("video_id", type=uuid.UUID, metavar="VIDEO_ID")
    back.set_defaults(handler=trash.restore_command)
    cleanup = commands.add_parser(
        "cleanup",
        help="list invalid videos by reason and age (dry run); --apply trashes their files "
        "and drops their records",
    )
    cleanup.add_argument(
        "--reason",
        action="append",
        choices=CLEANUP_REASONS,
        required=True,
        help="select records invalid for this reason (repeat for several)",
    )
    cleanup.add_argument(
        "--older-than-days",
        type=_non_negative_days,
        default=0.0,
        metavar="DAYS",
        help="only records invalid (unchanged) for at least this many days",
    )
    cleanup.add_argument("--apply", action="store_true", help="act on the list (default: dry run)")
    cleanup.set_defaults(handler=trash.cleanup_command)


def _non_negative_days(raw: str) -> float:
    try:
        days = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {raw!r}") from None
    if not 0 <= days <= 36500:
        raise argparse.ArgumentTypeError(f"days must be 0..36500, not {raw}")
    return days


# -- scan -------------------------------------------------------------------------------


def _add_scan(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("scan", help="record the files of a directory type")
    parser.add_argument(
        "directory_type",
        nargs="?",
        choices=DIRECTORY_TYPES,
        metavar="TYPE",
        help=f"one of {', '.join(DIRECTORY_TYPES)}",
    )
    parser.add_argument("--all-types", action="store_true", help="scan all nine types")
    parser.add_argument(
        "--no-skip-existing",
        dest="skip_existing",
        action="store_false",
        help="read recorded files again even when unchanged",
    )
    parser.set_defaults(handler=_scan)


def _scan(args: argparse.Namespace, config: Config) -> int:
    if args.all_types == bool(args.directory_type):
        raise ConfigError(
            "TYPE", args.directory_type, "command line", "give one directory type or --all-types"
        )
    types = list(DIRECTORY_TYPES) if args.all_types else [args.directory_type]
    started = time.monotonic()
    result = asyncio.run(_run_scan(config, types, args.skip_existing))
    _print_scan_summary(result, types, time.monotonic() - started)
    return EXIT_FAILURES if result.failed or result.held else EXIT_OK


async def _run_scan(config: Config, types: list[str], skip_existing: bool) -> ScanResult:
    reporter = ProgressReporter(f"scan {'+'.join(types) if len(types) < 3 else 'all'}")

    def progress(result: ScanResult, total: int) -> None:
        done = result.skipped + result.created + result.updated + result.failed
        reporter.update(
            done,
            total,
            created=result.created,
            updated=result.updated,
            skipped=result.skipped,
            failed=result.failed,
        )

    try:
        async with open_database(config) as engine:
            repository, locks = VideoRepository(engine), DirectoryLocks(engine)
            async with locks.directory_lock(types, wait=False) as free:
                if not free:
                    print("another scan of these types is running; waiting for it", file=sys.stderr)
            async with locks.directory_lock(types), examiner_pool(config) as pool:
                return await scan(
                    types,
                    library=Library.from_config(config),
                    repository=repository,
                    pool=pool,
                    skip_existing=skip_existing,
                    progress=progress,
                    limits=limits_from(config),
                )
    finally:
        reporter.close()


def _print_scan_summary(result: ScanResult, types: list[str], seconds: float) -> None:
    print(f"Scanned {', '.join(types)}: found {result.scanned} video files")
    print(f"- Created {result.created} new records")
    print(f"- Updated {result.updated} changed records ({result.moved} moved)")
    print(f"- Skipped {result.skipped} unchanged records")
    print(f"- Marked {result.missing} vanished files missing")
    print(f"- Failed {result.failed} files")
    for held in result.held:
        print(
            f"- Held {held.missing} missing marks of {held.directory_type} ({held.reason}); "
            f"apply with `videolib reconcile --apply-missing {held.directory_type}`"
        )
    for error in result.errors:
        print(f"  {error}")
    print(f"Scan complete in {seconds:.1f} seconds")


# -- init and reconcile (shared/commands/init.py, reconcile.py) ------------------------


def _add_init(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "init", help="create the library's folders and its marker (.videolib-library)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write the marker even where the folders look unmounted or it names another id",
    )
    parser.set_defaults(handler=init.run_init)


def _add_reconcile(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "reconcile", help="list the passes the mount guard held back, or apply one"
    )
    parser.add_argument(
        "--apply-missing",
        metavar="TYPE",
        help=f"mark the vanished files of TYPE missing now ({', '.join(DIRECTORY_TYPES)})",
    )
    parser.set_defaults(handler=reconcile.run_reconcile)


# -- validate ---------------------------------------------------------------------------


def _add_validate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("validate", help="re-probe and re-hash recorded videos")
    parser.add_argument("ids", nargs="*", metavar="ID", help="video ids (UUID)")
    parser.add_argument("--all", action="store_true", help="every recorded video")
    parser.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace, config: Config) -> int:
    if args.all == bool(args.ids):
        raise ConfigError("ID", " ".join(args.ids), "command line", "give ids or --all")
    ids = []
    for text in args.ids:
        try:
            ids.append(uuid.UUID(text))
        except ValueError:
            raise ConfigError("ID", text, "command line", "not a UUID") from None
    started: list[Batch] = []
    try:
        results = asyncio.run(_run_validate(config, ids, started))
    except KeyboardInterrupt:
        if started:
            print(interrupted_message("validate", started[0]), file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(f"  {result.error}")
    print(
        f"Validated {len(results)} videos: {len(results) - len(failed)} valid, {len(failed)} failed"
    )
    return EXIT_FAILURES if failed else EXIT_OK


async def _run_validate(
    config: Config, ids: list[uuid.UUID], started: list[Batch]
) -> list[BatchItem]:
    """Validate through the engine: a batch of chunk jobs, worked here while waiting
    (shared/jobs/batches.py), and by every worker of the `validate` queue elsewhere."""
    async with open_database(config) as engine:
        batch = await start_batch(engine, VALIDATE, ids or await VideoRepository(engine).all_ids())
        started.append(batch)
        reporter = ProgressReporter("validate", total=len(batch.ids))

        def progress(state: BatchProgress) -> None:
            reporter.update(state.done, valid=state.done - state.failed, failed=state.failed)

        try:
            return await wait_for_batch(
                config, engine, batch, concurrency=config.probe_workers, progress=progress
            )
        finally:
            reporter.close()


# -- run ------------------------------------------------------------------------------


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "run", help="the main job: embedded database, migrations, daemon and API together"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="first put a dozen generated clips into the library (once; existing ones are kept)",
    )
    parser.set_defaults(handler=_run, load_config=_config_for_run)


def _config_for_run(path: str | None) -> Config:
    """`run` is always a local run (config.local_defaults); it makes its library itself."""
    return load_config(path, require_library=False, run=True)


def _run(args: argparse.Namespace, config: Config) -> int:
    return supervisor.run(config, args.config, os.environ, demo=args.demo)


# -- token ------------------------------------------------------------------------------


def _add_token(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("token", help="print a signed admin token")
    parser.add_argument("--role", default=ADMIN_ROLE)
    parser.add_argument(
        "--ttl", default=None, help="lifetime: 90s, 15m, 1h, 7d (default 1h; 15m with --url)"
    )
    parser.add_argument(
        "--url", action="store_true", help="print a login link to the admin page instead"
    )
    parser.set_defaults(handler=_token, load_config=_config_without_library)


def _token(args: argparse.Namespace, config: Config) -> int:
    secret = signing_secret(config)
    if not secret:
        raise ConfigError(
            "api.jwt_secret",
            "",
            config.source,
            "no secret to sign with: set JWT_SECRET or api.jwt_secret",
        )
    ttl_text = args.ttl or ("15m" if args.url else "1h")
    try:
        ttl = parse_ttl(ttl_text)
    except ValueError as error:
        raise ConfigError("--ttl", ttl_text, "command line", str(error)) from None
    token = issue_token(secret, role=args.role, ttl_s=ttl)
    print(login_link(config, token) if args.url else token)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
