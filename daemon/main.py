"""The daemon process: wait for the database, run the scheduler, stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator, Mapping

from videolib.shared.config import Config
from videolib.shared.db.repository.leader import daemon_session_name
from videolib.shared.db.trigram import announce_unindexed_search
from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.logging import get_logger
from videolib.shared.runtime import examiner_pool, open_database
from videolib.shared.systemd import Notifier

from .health import backoff_delays
from .scheduler import Scheduler
from .supervision import LoopFailedError

#: A background loop kept crashing: systemd's Restart=on-failure starts a fresh daemon.
EXIT_LOOP_FAILED = 1

log = get_logger(__name__)


async def serve(config: Config, environ: Mapping[str, str]) -> int:
    """Run the daemon until SIGTERM or SIGINT; exit code 0 after a clean stop, 1 when a
    background loop kept crashing (daemon/supervision.py).

    A database that is away at start is waited for with backoff (it may boot after us);
    a second signal stops at once (uvicorn `server.py: handle_exit`).
    """
    stop = asyncio.Event()
    # Its sessions carry this name, so that a daemon taking over finds and ends the open
    # transactions of this one if it froze (shared/db/repository/leader.py).
    name = daemon_session_name()
    with _stop_on_signals(stop):
        delays = backoff_delays(0.5, 30.0)
        logged = announced = False
        while not stop.is_set():
            try:
                async with (
                    # Sized by database.pool_size.
                    open_database(config, application_name=name) as engine,
                    examiner_pool(config) as pool,
                ):
                    if logged:
                        log.info("database_available")
                    if not announced:  # once per process, not after every outage
                        await announce_unindexed_search(engine)
                        announced = True
                    scheduler = Scheduler(
                        config,
                        engine,
                        pool,
                        notifier=Notifier.from_environ(environ),
                        session_name=name,
                    )
                    await scheduler.run(stop)
                    return 0
            except LoopFailedError as failure:
                log.error("daemon_exiting", reason=str(failure), exit_code=EXIT_LOOP_FAILED)
                return EXIT_LOOP_FAILED
            except DatabaseUnavailableError as error:
                if not logged:
                    log.warning("database_unavailable", error=str(error), at="start")
                    logged = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), next(delays))
    return 0


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal(signum: signal.Signals) -> None:
        if stop.is_set():
            os._exit(1)
        stop.set()  # before logging: a log write can fail (stderr closed) and must not matter
        log.info("stop_requested", signal=signum.name)

    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
