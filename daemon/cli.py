"""The `videolib daemon` subcommand."""

from __future__ import annotations

import argparse
import asyncio
import os

from videolib.shared.config import Config


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `videolib daemon` to the CLI (entry point group videolib.commands)."""
    parser = commands.add_parser(
        "daemon", help="watch the library: ingest drops, follow renames, reconcile"
    )
    parser.add_argument(
        "--polling",
        action="store_true",
        help="poll instead of inotify (network mounts); same as daemon.polling",
    )
    parser.set_defaults(handler=_daemon)


def _daemon(args: argparse.Namespace, config: Config) -> int:
    from videolib.daemon.main import serve  # the daemon's imports only when it runs

    if args.polling:
        config = config.replace("daemon", polling=True)
    return asyncio.run(serve(config, os.environ))
