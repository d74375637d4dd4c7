"""`videolib run`: the whole product on one machine, as one process tree.

The embedded PostgreSQL (when DATABASE_URL is unset) is started here and held for the
children; `videolib api` and `videolib daemon` run as child processes, so this module
needs neither package. One Ctrl-C (or SIGTERM) stops all of them cleanly; a SIGKILL of this
process stops them too: each child gets SIGTERM when it dies (PR_SET_PDEATHSIG), and the
embedded server's guard stops the server once they have exited too: they hold its pipe
(shared/db/embedded_guard.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping

from sqlalchemy.engine import URL

from videolib.shared.commands.init import Refuse, init_library
from videolib.shared.config import LOCAL_API_HOST, Config
from videolib.shared.db import migrate
from videolib.shared.db.embedded import guard_pipes
from videolib.shared.db.engine import database_url, open_engine
from videolib.shared.db.repository import translate_errors
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.parent_death import die_with_this_process
from videolib.shared.tokens import issue_token, login_link, signing_secret

log = get_logger(__name__)

STOP_GRACE_S = 10.0
#: The processes of a local run. One worker runs the deferred jobs (thumbnails,
#: fingerprints); its /metrics on a free port, so a local run never fights over one.
CHILDREN = (("api",), ("daemon",), ("worker", "--metrics-port", "0"))


def prepare_library(library: Library) -> None:
    """Create the library root, its nine folders and the inbox on first start."""
    for directory_type in DIRECTORY_TYPES:
        library.directory(directory_type).mkdir(parents=True, exist_ok=True)


def child_environment(
    config: Config, url: URL, secret: str, environ: Mapping[str, str]
) -> dict[str, str]:
    """The environment the children run with: the same settings, made explicit."""
    env = dict(environ)
    env.update(
        DATABASE_URL=url.set(drivername="postgresql").render_as_string(hide_password=False),
        MEDIA_LIBRARY_PATH=str(config.library_root.absolute()),
        MEDIA_INBOX_PATH=str(config.inbox_path.absolute()),
        # The children have a DATABASE_URL, so they would take the server defaults.
        MEDIA_API_HOST=config.api.host,
        JWT_SECRET=secret,
    )
    return env


def banner(config: Config, token: str, program: str = "videolib") -> str:
    """What `run` prints once everything started: the page's login link first."""
    host = LOCAL_API_HOST if config.api.host in ("0.0.0.0", "::") else config.api.host
    inbox = config.inbox_path.absolute()
    return "\n".join(
        [
            f"videolib is running: {login_link(config, token)}",
            f"  admin token (12 h): {token}",
            f"  try: curl -H 'Authorization: Bearer {token[:12]}...' "
            f"http://{host}:{config.api.port}/api/media/videos",
            f"  drop videos into {config.library_root.absolute()}/<type>/ or {inbox}/",
            f"  from a second terminal here: {program} token, scan TYPE, doctor, ... (same setup)",
            "  stop with Ctrl-C",
        ]
    )


def run(
    config: Config, config_path: str | None, environ: Mapping[str, str], *, demo: bool = False
) -> int:
    """Start database, migrations, API and daemon; return when they have stopped.

    `demo` first adds the demo library's clips that are missing (shared/demo.py); the
    daemon's first reconciliation records them.
    """
    library = Library.from_config(config)
    prepare_library(library)
    if demo:
        from videolib.shared.demo import add_demo_clips  # PyAV's import: for --demo only

        added = add_demo_clips(library)
        log.info("demo_clips_added", count=len(added), root=str(library.root))
    secret = signing_secret(config)  # run's config always names the secret file (local run)
    with database_url(config) as url:
        asyncio.run(_migrate(url, library))
        env = child_environment(config, url, secret, environ)
        command = [sys.executable, "-m", "videolib.shared.commands.cli"]
        if config_path:
            command += ["--config", config_path]
        with _children([[*command, *child] for child in CHILDREN], env) as processes:
            token = issue_token(secret, ttl_s=12 * 3600)
            print(banner(config, token, _program_name(sys.argv[0])), flush=True)
            return _wait(processes)


def _program_name(argv0: str) -> str:
    """How this `videolib` was called (`.venv/bin/videolib` under make), for the banner."""
    return argv0 if os.path.basename(argv0) == "videolib" else "videolib"


async def _migrate(url: URL, library: Library) -> None:
    async with open_engine(url, pool_size=1) as engine:
        await translate_errors(migrate.upgrade)(engine)
        # `run` is the one-machine job, whatever the database: `videolib init` is done here
        # (it still refuses an empty mount point over a database with records).
        decision = await init_library(library, engine)
        if isinstance(decision, Refuse):
            log.error("library_not_initialised", reason=decision.reason)


@contextlib.contextmanager
def _children(
    commands: list[list[str]], env: dict[str, str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command in commands:
            # Started from the main thread, which lives as long as this process: prctl's
            # death signal follows the thread that forked (shared/parent_death.py). Each
            # child holds the embedded server's guard pipe: after our SIGKILL the server
            # stays up until the children have finished their graceful stop.
            child = subprocess.Popen(
                command, env=env, preexec_fn=die_with_this_process, pass_fds=guard_pipes()
            )
            processes.append(child)
        yield processes
    finally:
        _stop(processes)


def _wait(processes: list[subprocess.Popen[bytes]]) -> int:
    """Wait until a signal arrives or a child exits; the exit code says which."""
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            for process in processes:
                code = process.poll()
                if code is not None:
                    log.error("child_exited", command=process.args, exit_code=code)
                    return code or 1
            time.sleep(0.2)
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child still running, then SIGKILL what outlives the grace period."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            log.warning("child_killed", command=process.args)
            process.kill()
            process.wait()
