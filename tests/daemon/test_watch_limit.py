"""Watches exhausted part way (issue 11 §2): a real daemon in a user namespace of its own.

`max_user_watches` is counted per user namespace (Linux 5.11+), and a new one's limit,
/proc/sys/user/max_inotify_watches, is writable by its root: the daemon gets a small limit
without touching the machine's. The library's root and its folders fit in it, a deep tree
does not, and watchdog swallows the refusals below the root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually, rows
from tests.media import make_video
from videolib.shared.config import Config

#: The root, its nine type folders and the inbox take 11; the deep tree gets the rest.
WATCHES = 16
DEPTH = 24
LISTED_WITHIN_S = 90.0


#: The whole id range, as outside: the daemon reaches files of every owner (the database's
#: socket belongs to its server's user), as root does. `--map-root-user` maps uid 0 only,
#: and a wider map must be written from outside the namespace.
IDENTITY_MAP = "0 0 4294967295\n"


def map_ids(pid: int) -> None:
    """Give the namespace `pid` just entered the identity map (we are root outside)."""
    ours = os.readlink("/proc/self/ns/user")
    deadline = time.monotonic() + 10
    while os.readlink(f"/proc/{pid}/ns/user") == ours:  # `unshare` has not run yet
        assert time.monotonic() < deadline, "unshare did not enter a user namespace"
        time.sleep(0.01)
    for name in ("uid_map", "gid_map"):
        Path(f"/proc/{pid}/{name}").write_text(IDENTITY_MAP)


def user_namespaces() -> None:
    """Skip where user namespaces are refused; never in CI (it runs as root, and allows them)."""
    tried = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            "echo 1 > /proc/sys/user/max_inotify_watches",
        ],
        capture_output=True,
        text=True,
    )
    if tried.returncode != 0 or os.geteuid() != 0:
        reason = f"no user namespace with its own inotify limit here: {tried.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


class LimitedDaemon:
    """`videolib daemon` under `unshare --user --map-root-user` with `WATCHES` watches."""

    def __init__(self, config: Config, tmp_path: Path) -> None:
        settings = tmp_path / "daemon.toml"
        settings.write_text(
            "[daemon]\nsettle_seconds = 0.3\nquiet_seconds = 0.05\nmetrics_port = 0\n"
            "poll_interval_seconds = 0.2\n[probe]\nworkers = 2\n"
        )
        env = {
            **os.environ,
            "VIDEOLIB_CONFIG": str(settings),
            "DATABASE_URL": config.database.url,
            "MEDIA_LIBRARY_PATH": str(config.library_root),
            "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
        }
        # `unshare` without --fork execs: the pid is the daemon's, and so are its signals.
        # The shell waits for its id map (a line on stdin), then execs again: capabilities
        # in the namespace come with an exec as its (mapped) root.
        limited = (
            f"echo {WATCHES} > /proc/sys/user/max_inotify_watches "
            '&& exec "$0" -m videolib.shared.commands.cli daemon'
        )
        wait_for_map = 'read mapped && exec sh -c "$1" "$0"'
        command = ["unshare", "--user", "sh", "-c", wait_for_map, sys.executable, limited]
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdin is not None
        map_ids(self.process.pid)
        self.process.stdin.write(b"mapped\n")
        self.process.stdin.close()
        self.lines: list[dict[str, Any]] = []
        self._partial = b""

    def read_log(self) -> list[dict[str, Any]]:
        """Every JSON log line so far (the daemon logs JSON into a pipe)."""
        assert self.process.stderr is not None
        os.set_blocking(self.process.stderr.fileno(), False)
        self._partial += self.process.stderr.read() or b""
        *complete, self._partial = self._partial.split(b"\n")
        for line in complete:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                self.lines.append({"event": "not_json", "text": line.decode(errors="replace")})
        return self.lines

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.read_log() if line.get("event") == event]

    async def ready(self) -> int:
        """Wait for `daemon_ready`; its metrics port."""

        async def came() -> list[dict[str, Any]]:
            assert self.process.poll() is None, self.read_log()
            return self.logged("daemon_ready")

        try:
            [ready] = await eventually(came, 30, "daemon_ready")
        except AssertionError as error:
            raise AssertionError(f"{error}; the daemon logged {self.read_log()}") from None
        return int(ready["metrics_port"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture
def limited_daemon(config: Config, tmp_path: Path) -> Iterator[Callable[[], LimitedDaemon]]:
    user_namespaces()
    started: list[LimitedDaemon] = []

    def start() -> LimitedDaemon:
        started.append(LimitedDaemon(config, tmp_path))
        return started[-1]

    yield start
    for daemon in started:
        daemon.stop()


async def polled_for_the_limit(port: int) -> list[str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    return sorted(
        sample.labels["path"]
        for family in text_string_to_metric_families(text)
        if family.name == "videolib_daemon_polled_folders"
        for sample in family.samples
        if sample.labels.get("reason") == "watch_limit" and sample.value == 1
    )


async def _logged(daemon: LimitedDaemon, event: str) -> list[dict[str, Any]]:
    return daemon.logged(event)


def deep_tree(top: Path) -> list[Path]:
    """`top` and DEPTH folders nested below it."""
    folders = [top]
    for level in range(DEPTH):
        folders.append(folders[-1] / f"level{level:02d}")
    folders[-1].mkdir(parents=True)
    return folders


def drop(folders: list[Path], seed: bytes, name: str) -> list[str]:
    """One distinct video per folder; the stored paths expected."""
    for number, folder in enumerate(folders):
        (folder / f"{name}.mp4").write_bytes(seed + f"{name}{number}".encode())
    return [str(folder / f"{name}.mp4") for folder in folders]


async def test_subtrees_past_the_watch_limit_are_polled_and_every_file_listed(
    config: Config,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    limited_daemon: Callable[[], LimitedDaemon],
    record_property: Callable[[str, object], None],
) -> None:
    seed = make_video(tmp_path / "seed.mp4", width=160, height=120, seconds=0.5).read_bytes()
    videos = library_root / "videos"
    deep = deep_tree(videos / "deep")
    expected = drop(deep, seed, "before")  # found by the first pass
    daemon = limited_daemon()
    port = await daemon.ready()
    # Refused at start, below the root: polled, with the fully exhausted limit's log line.
    [refused_at_start] = await polled_for_the_limit(port)
    assert refused_at_start.startswith(str(videos / "deep" / "level"))
    [line] = daemon.logged("inotify_limit_reached")
    assert line["path"] == refused_at_start and line["subtree"] is True
    assert "max_user_watches" in line["fix"]

    # The first pass is over: what comes now is seen by a watch or a poll, or not at all.
    await eventually(lambda: _logged(daemon, "reconcile_finished"), 30, "the first pass")
    started = time.monotonic()
    expected += drop(deep, seed, "after")  # watched levels by inotify, the rest polled
    # A deep tree made while running: watchdog's reader thread is refused this time.
    late = deep_tree(videos / "late")
    expected += drop(late, seed, "late")

    async def late_polled() -> list[str]:
        return [p for p in await polled_for_the_limit(port) if p.startswith(str(late[0]))]

    [refused_later] = await eventually(late_polled, 30, "the late tree's refused subtree polled")

    def stored(path: str) -> str:
        return str(Path(path).relative_to(library_root))

    wanted = {stored(path) for path in expected}

    async def all_listed() -> bool:
        listed = {v.path for v in await rows(engine) if v.is_valid and v.file_hash}
        return wanted <= listed

    await eventually(all_listed, LISTED_WITHIN_S, f"all {len(wanted)} files listed")
    listed = time.monotonic() - started
    assert daemon.process.poll() is None
    record_property("files", len(wanted))
    record_property("listed_seconds", round(listed, 2))
    print(
        f"{len(wanted)} files in two {DEPTH}-deep trees with {WATCHES} watches: all listed "
        f"{listed:.1f} s after the drops; polled {refused_at_start}, {refused_later}"
    )
