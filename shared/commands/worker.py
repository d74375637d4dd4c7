"""The `videolib worker [--queue Q ...] [--concurrency N]` subcommand: run deferred jobs.

Runs on any host that mounts the library (`[worker] path_map` where it is mounted
elsewhere); as many as wanted, on one database. Exit 0 after SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from videolib.shared.config import Config
from videolib.shared.errors import ConfigError
from videolib.shared.runtime import open_database
from videolib.shared.systemd import Notifier


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `videolib worker` to the CLI (entry point group videolib.commands)."""
    parser = commands.add_parser(
        "worker", help="run deferred jobs (thumbnails, fingerprints) from the queue"
    )
    parser.add_argument(
        "--queue",
        action="append",
        default=None,
        metavar="QUEUE",
        help="a queue to work (repeatable; default worker.queues, else all)",
    )
    parser.add_argument(
        "--concurrency", default=None, metavar="N", help="jobs at once (worker.concurrency)"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, metavar="PORT", help="worker.metrics_port"
    )
    parser.set_defaults(handler=_worker)


def settings_from(args: argparse.Namespace, config: Config) -> tuple[tuple[str, ...], int]:
    """The queues and concurrency of this run; raises ConfigError naming the argument or key."""
    from videolib.shared.jobs.registry import parse_queues

    if args.queue is not None:
        text, key, origin = ",".join(args.queue), "--queue", "command line"
    else:
        text, key, origin = config.worker.queues, "worker.queues", config.source
    try:
        queues = parse_queues(text)
    except ValueError as error:
        raise ConfigError(key, text, origin, str(error)) from None
    concurrency = config.worker.concurrency
    if args.concurrency is not None:
        try:
            concurrency = int(args.concurrency)
        except ValueError:
            concurrency = 0
        if concurrency < 1:
            raise ConfigError(
                "--concurrency", args.concurrency, "command line", "expected a whole number >= 1"
            )
    return queues, concurrency


def _worker(args: argparse.Namespace, config: Config) -> int:
    from videolib.shared.jobs.worker import lower_priority

    queues, concurrency = settings_from(args, config)
    lower_priority()  # a backfill gives way to the daemon and the API on this host
    if args.metrics_port is not None:
        config = config.replace("worker", metrics_port=args.metrics_port)
    code = asyncio.run(serve(config, queues, concurrency, Notifier.from_environ(os.environ)))
    # The stop has let go of everything (jobs handed back, media processes killed, connections
    # closed). What the interpreter's teardown adds is a full collection of a large heap,
    # ~0.4 s of CPU, which a process at nice 10 on a busy host gets a sliver of: it outlasted
    # a 10 s stop in CI, after `worker_stopped`. So the process ends here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def serve(
    config: Config, queues: tuple[str, ...], concurrency: int, notifier: Notifier
) -> int:
    """Run until SIGTERM/SIGINT; READY=1 to systemd once the engine's loop is up."""
    from videolib.shared.jobs.worker import JobWorker, stop_on_signals

    stop = asyncio.Event()
    with stop_on_signals(stop):
        async with open_database(config, pool_size=concurrency + 2) as engine:
            worker = JobWorker(config, engine, queues=queues, concurrency=concurrency)
            running = asyncio.create_task(worker.run(stop))
            ready = asyncio.create_task(worker.ready.wait())
            await asyncio.wait({running, ready}, return_when=asyncio.FIRST_COMPLETED)
            if ready.done():
                notifier.ready()
            ready.cancel()
            await running
            notifier.stopping()
    return 0
