"""The `videolib api` subcommand: serve the admin API until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

from videolib.shared.config import Config
from videolib.shared.errors import ConfigError
from videolib.shared.logging import get_logger
from videolib.shared.systemd import Notifier
from videolib.shared.tokens import signing_secret

log = get_logger(__name__)

#: In-flight requests get this long to finish after a stop signal.
SHUTDOWN_GRACE_S = 10.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `videolib api` to the CLI (entry point group videolib.commands)."""
    parser = commands.add_parser("api", help="serve the admin HTTP API")
    parser.add_argument("--host", help="bind address (default: api.host, MEDIA_API_HOST)")
    parser.add_argument("--port", type=int, help="port (default: api.port, MEDIA_API_PORT)")
    parser.set_defaults(handler=_api)


def _api(args: argparse.Namespace, config: Config) -> int:
    if args.host:
        config = config.replace("api", host=args.host)
    if args.port is not None:
        config = config.replace("api", port=args.port)
    # A local run's secret file when api.jwt_secret is empty: the one `run` and `token` use.
    config = config.replace("api", jwt_secret=signing_secret(config))
    if not config.api.jwt_secret:
        raise ConfigError(
            "api.jwt_secret", "", config.source, "the API needs a secret: set JWT_SECRET"
        )
    import uvloop  # the server's imports only when it runs

    # libuv's event loop: a sixth less CPU per list request than asyncio's own (bench/api.py).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(config, Notifier.from_environ(os.environ)))
    return 0


async def serve(config: Config, notifier: Notifier) -> None:
    """Run the app until a stop signal; in-flight requests finish, then the pool closes."""
    from aiohttp import web  # the server's imports only when it runs

    from videolib.api.access_log import AccessLogger
    from videolib.api.app import create_app

    runner = web.AppRunner(
        create_app(config),
        shutdown_timeout=SHUTDOWN_GRACE_S,
        handle_signals=False,
        access_log_class=AccessLogger,
    )
    await runner.setup()  # opens the database and the probe workers (cleanup_ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, config.api.host, config.api.port)
        await site.start()
        log.info("api_started", host=config.api.host, port=config.api.port)
        notifier.ready()
        await stop.wait()
        notifier.stopping()
        log.info("api_stopping")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        # Stops listening, lets in-flight requests finish (up to the grace), then runs
        # the cleanup contexts: scans cancelled, workers stopped, pool disposed.
        await runner.cleanup()
    log.info("api_stopped")
