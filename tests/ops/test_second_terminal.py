"""One local state: `videolib run` in one terminal, every other command from a second one.

Nothing names the library, the secret or the database: each command finds them as `run`
made them under ./var, and joins its embedded server (or starts one for its lifetime).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.media import make_video
from tests.ops.test_metric_names import free_port
from tests.ops.test_one_server import postmasters_of
from videolib.shared.db import migrate
from videolib.shared.tokens import verify_token

CLI = [sys.executable, "-m", "videolib.shared.commands.cli"]
#: What a newcomer's shell could have that would name the setup: none of it is set here.
UNSET = (
    "DATABASE_URL", "JWT_SECRET", "MEDIA_LIBRARY_PATH", "MEDIA_INBOX_PATH", "MEDIA_API_HOST",
    "VIDEOLIB_STATE_DIR", "VIDEOLIB_CONFIG",
)  # fmt: skip


def get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not in {seconds} s: {what}"
        time.sleep(0.2)


def answers(url: str, token: str) -> Callable[[], bool]:
    def up() -> bool:
        try:
            return "pagination" in get_json(url, token)
        except OSError:
            return False

    return up


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at `port`, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found


class Terminal:
    """A shell in `home` with nothing set but the ports a test session needs apart."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        # A config file that names only the metrics port (tests run side by side): the
        # library, secret and host are still the local run's.
        (home / "ports.toml").write_text(f"[daemon]\nmetrics_port = {free_port()}\n")
        self.env = {k: v for k, v in os.environ.items() if k not in UNSET}
        self.env.update(
            MEDIA_API_PORT=str(self.port),
            VIDEOLIB_CONFIG=str(home / "ports.toml"),
            VIDEOLIB_LOG_LEVEL="info",
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], cwd=self.home, env=self.env, capture_output=True, text=True, timeout=180
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """A long-running command; its log lines go to <home>/<command>.log (read on failure)."""
        with (self.home / f"{args[0]}.log").open("a") as log:
            return subprocess.Popen(
                [*CLI, *args],
                cwd=self.home,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )

    def log(self, command: str) -> str:
        return (self.home / f"{command}.log").read_text()


def stop(process: subprocess.Popen[str], signum: int = signal.SIGINT) -> int:
    if process.poll() is None:
        process.send_signal(signum)
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
    return process.returncode


@pytest.fixture
def terminal(run_home: Path) -> Iterator[Terminal]:
    yield Terminal(run_home)


def test_every_command_from_a_second_terminal_uses_runs_setup(terminal: Terminal) -> None:
    home, pgdata = terminal.home, terminal.home / "var" / "pgdata"
    run = terminal.start("run")
    try:
        assert run.stdout is not None
        first, second = run.stdout.readline(), run.stdout.readline()
        # The page's login link first, on loopback (item 3).
        assert first.startswith(
            f"videolib is running: http://127.0.0.1:{terminal.port}/admin/#token="
        )
        run_token = second.split()[-1]
        videos = f"http://127.0.0.1:{terminal.port}/api/media/videos"
        wait_for(answers(videos, run_token), 60, "run's API answers")
        assert listening_addresses(terminal.port) == {"127.0.0.1"}  # loopback only (item 3)

        # token: signed with the secret run made, accepted by run's API.
        token = terminal.run("token")
        assert token.returncode == 0, token.stderr
        secret = (home / "var" / "jwt_secret").read_text().strip()
        assert verify_token(token.stdout.strip(), secret).role == "SUPER_ADMIN"
        assert get_json(videos, token.stdout.strip())["pagination"]["total"] == 0
        link = terminal.run("token", "--url")
        assert link.stdout.startswith(f"http://127.0.0.1:{terminal.port}/admin/#token="), link
        token_text = token.stdout.strip()

        # scan: the same library root (./var/library) and the same database as run.
        clip = home / "clip.mp4"
        make_video(clip, width=240, height=320)
        clip.rename(home / "var" / "library" / "studios" / "clip.mp4")
        scan = terminal.run("scan", "studios")
        assert scan.returncode == 0, scan.stderr
        assert "found 1 video files" in scan.stdout, scan.stdout

        def listed() -> bool:
            return [v["path"] for v in get_json(videos, token_text)["data"]] == ["studios/clip.mp4"]

        wait_for(listed, 30, "run's API lists the scanned file")
        [video] = get_json(videos, token_text)["data"]
        assert video["orientation"] == "portrait"

        validate = terminal.run("validate", "--all")
        assert validate.returncode == 0, validate.stderr
        assert "Validated 1 videos: 1 valid, 0 failed" in validate.stdout

        thumbnails = terminal.run("thumbnails")
        assert thumbnails.returncode == 0, thumbnails.stderr
        assert "Thumbnails: 1 made, 0 failed" in thumbnails.stdout

        upgrade = terminal.run("db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr
        assert f"database at revision {migrate.head_revision()}" in upgrade.stdout

        doctor = terminal.run("doctor")
        assert doctor.returncode == 0, doctor.stdout
        assert f"embedded PostgreSQL under {pgdata}: reachable, schema at head" in doctor.stdout
        assert f"library root: {home}/var/library" in doctor.stdout
        assert "jwt secret: set" in doctor.stdout

        # api alone, beside run's: same server, same secret, same rows.
        other_port = free_port()
        api = terminal.start("api", "--port", str(other_port))
        try:
            other = f"http://127.0.0.1:{other_port}/api/media/videos"
            wait_for(answers(other, token_text), 60, "the second API answers")
            assert [v["id"] for v in get_json(other, token_text)["data"]] == [video["id"]]
            assert len(postmasters_of(pgdata)) == 1  # joined, not started a second one
        finally:
            code = stop(api, signal.SIGTERM)
        assert code == 0, terminal.log("api")
    finally:
        code = stop(run)
    assert code == 0, terminal.log("run")
    wait_for(lambda: not postmasters_of(pgdata), 30, "the server stops with run")


def test_daemon_alone_starts_the_server_for_its_lifetime(terminal: Terminal) -> None:
    home, pgdata = terminal.home, terminal.home / "var" / "pgdata"
    (home / "var" / "library" / "videos").mkdir(parents=True)
    daemon = terminal.start("daemon")
    try:

        def ready() -> bool:
            assert daemon.poll() is None, terminal.log("daemon")
            return "daemon_ready" in terminal.log("daemon")

        wait_for(ready, 60, "the daemon is ready")
        assert len(postmasters_of(pgdata)) == 1
        clip = home / "drop.mp4"
        make_video(clip)
        clip.rename(home / "var" / "library" / "videos" / "drop.mp4")

        # Another command joins the daemon's server and sees what it recorded.
        def recorded() -> bool:
            done = terminal.run("validate", "--all")
            return "Validated 1 videos: 1 valid" in done.stdout

        wait_for(recorded, 60, "the daemon records the drop")
    finally:
        code = stop(daemon, signal.SIGTERM)
    assert code == 0, terminal.log("daemon")
    wait_for(lambda: not postmasters_of(pgdata), 30, "the server stops with the daemon")
