"""Two real `videolib daemon` processes on one library: one leads, one stands by, and the
standby takes over within 10 s of the leader's death (issue 13 §4).

Each test kills the leader one way: kill -9, a cut network (tests/daemon/proxy.py), a
frozen process whose lock session is then ended with pg_terminate_backend, or left to the
server's idle_session_timeout (leader.lease_seconds). The failover
time printed is from the kill to the standby's /readyz saying "leader" (`pytest -s`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import _dsn
from tests.daemon.harness import eventually, rows, sha256
from tests.daemon.proxy import CuttableProxy
from tests.media import make_video
from videolib.shared.config import Config

#: The issue's bound on a takeover; the defaults (check 1 s, lease 5 s) must meet it.
FAILOVER_S = 10.0


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    async def ready(self) -> None:
        """Wait for `daemon_ready` and note the metrics port it names."""

        async def came() -> int | None:
            assert self.process.poll() is None, self.log.read_text()
            found = [e for e in self.events() if e.get("event") == "daemon_ready"]
            return int(found[0]["metrics_port"]) if found else None

        self.port = await eventually(came, 60, "daemon_ready")

    async def readyz(self) -> dict[str, Any]:
        return await asyncio.to_thread(_get_json, f"http://127.0.0.1:{self.port}/readyz")

    async def role(self) -> str:
        return str((await self.readyz())["role"])

    async def metric(self, name: str) -> float:
        body = await asyncio.to_thread(_get, f"http://127.0.0.1:{self.port}/metrics")
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    return float(sample.value)
        raise AssertionError(f"no {name} in /metrics")

    async def recorded_files(self) -> float:
        """Files this daemon recorded (created or updated), from its own counter."""
        body = await asyncio.to_thread(_get, f"http://127.0.0.1:{self.port}/metrics")
        total = 0.0
        for family in text_string_to_metric_families(body.decode()):
            if family.name == "videolib_daemon_files":
                total += sum(
                    s.value
                    for s in family.samples
                    if s.name.endswith("_total") and s.labels.get("outcome") != "skipped"
                )
        return total


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def _get_json(url: str) -> dict[str, Any]:
    try:
        return dict(json.loads(_get(url)))
    except urllib.error.HTTPError as error:  # 503 still carries the JSON
        return dict(json.loads(error.read()))


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        with_signal(daemon.process, signal.SIGCONT)  # a frozen one must be able to die
        if daemon.process.poll() is None:
            daemon.process.kill()
        daemon.process.wait(10)


def with_signal(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    if process.poll() is None:
        os.kill(process.pid, signum)


def start_daemon(config: Config, tmp_path: Path, name: str, dsn: str) -> Daemon:
    home = tmp_path / name
    home.mkdir()
    settings = home / "daemon.toml"
    settings.write_text(
        "[daemon]\nsettle_seconds = 0.3\nquiet_seconds = 0.05\nmetrics_port = 0\n"
        "[probe]\nworkers = 1\n[integrity]\nenabled = false\n"
    )
    env = {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": dsn,
        "MEDIA_LIBRARY_PATH": str(config.library_root),
        "VIDEOLIB_STATE_DIR": str(home / "state"),
    }
    log = home / "daemon.log"
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "daemon"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    return Daemon(process, log)


async def two_daemons(
    config: Config, tmp_path: Path, daemons: list[Daemon], first_dsn: str | None = None
) -> tuple[Daemon, Daemon]:
    """Start one, wait until it leads, then a second: (leader, standby)."""
    leader = start_daemon(config, tmp_path, "one", first_dsn or config.database.url)
    daemons.append(leader)
    await leader.ready()
    assert await leader.role() == "leader"
    standby = start_daemon(config, tmp_path, "two", config.database.url)
    daemons.append(standby)
    await standby.ready()
    return leader, standby


async def assert_one_leader(leader: Daemon, standby: Daemon) -> None:
    ready_leader, ready_standby = await leader.readyz(), await standby.readyz()
    assert (ready_leader["role"], ready_standby["role"]) == ("leader", "standby")
    # A healthy standby is ready: an alert or a unit restart must not fire for it.
    assert ready_standby["ready"] is True
    assert ready_standby["leader"] == ready_leader["leader"]
    assert await leader.metric("videolib_daemon_leader") == 1
    assert await standby.metric("videolib_daemon_leader") == 0


async def takes_over(standby: Daemon, killed_at: float) -> float:
    """Wait for the standby to lead; seconds since `killed_at`."""

    async def leads() -> bool:
        return await standby.role() == "leader"

    await eventually(leads, 30, "the standby to lead")
    return time.monotonic() - killed_at


async def drop_and_wait(engine: AsyncEngine, source: Path, library_root: Path, name: str) -> None:
    original = make_video(source / name, seconds=0.5, noise=True)
    shutil.copyfile(original, library_root / "videos" / name)

    async def listed() -> bool:
        return any(
            v.path == f"videos/{name}" and v.file_hash == sha256(original)
            for v in await rows(engine)
        )

    await eventually(listed, 60, f"videos/{name} to be listed")


async def assert_no_duplicates(engine: AsyncEngine) -> None:
    found = await rows(engine)
    assert len({v.path for v in found}) == len(found)
    assert len({v.file_hash for v in found}) == len(found), "a file recorded twice"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    return folder


async def test_kill_9_of_the_leader_the_standby_leads_within_10_s(
    config: Config,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    source: Path,
    daemons: list[Daemon],
) -> None:
    leader, standby = await two_daemons(config, tmp_path, daemons)
    await assert_one_leader(leader, standby)
    await drop_and_wait(engine, source, library_root, "while-both.mp4")
    assert await standby.recorded_files() == 0  # it stood by: the leader recorded it

    killed_at = time.monotonic()
    leader.process.kill()
    took = await takes_over(standby, killed_at)
    print(f"\nfailover after kill -9: {took:.2f} s")
    assert took < FAILOVER_S
    assert await standby.metric("videolib_daemon_leader") == 1
    await drop_and_wait(engine, source, library_root, "after-kill.mp4")
    await assert_no_duplicates(engine)
    assert len(await rows(engine)) == 2


async def test_network_cut_of_the_leader_the_standby_leads_and_the_old_one_stands_by(
    config: Config,
    database_url: URL,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    source: Path,
    daemons: list[Daemon],
) -> None:
    host = database_url.query["host"]
    assert isinstance(host, str)
    proxy = CuttableProxy(f"{host}/.s.PGSQL.{database_url.port or 5432}")
    await proxy.start()
    via_proxy = database_url.set(host="127.0.0.1", port=proxy.port, query={})
    try:
        leader, standby = await two_daemons(
            config, tmp_path, daemons, first_dsn=_dsn(via_proxy, database_url.database or "")
        )
        await assert_one_leader(leader, standby)
        await drop_and_wait(engine, source, library_root, "while-both.mp4")
        recorded_by_old = await leader.recorded_files()
        assert recorded_by_old >= 1

        killed_at = time.monotonic()
        await proxy.cut()
        took = await takes_over(standby, killed_at)
        print(f"\nfailover after a network cut: {took:.2f} s")
        assert took < FAILOVER_S

        async def old_stands_by() -> bool:
            return await leader.role() == "standby"

        await eventually(old_stands_by, 30, "the cut-off leader to stand by")
        await drop_and_wait(engine, source, library_root, "after-cut.mp4")
        await proxy.restore()  # it can reach the database again, and still stands by
        await drop_and_wait(engine, source, library_root, "after-restore.mp4")
        assert await leader.role() == "standby"
        assert await leader.recorded_files() == recorded_by_old  # it wrote nothing since
        await assert_no_duplicates(engine)
        assert len(await rows(engine)) == 3
    finally:
        await proxy.cut()


@pytest.mark.parametrize("ended_from_outside", [True, False], ids=["terminated", "lease"])
async def test_frozen_leader_the_standby_leads_and_the_thawed_one_stands_by(
    ended_from_outside: bool,
    config: Config,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    source: Path,
    daemons: list[Daemon],
) -> None:
    leader, standby = await two_daemons(config, tmp_path, daemons)
    await assert_one_leader(leader, standby)
    await drop_and_wait(engine, source, library_root, "while-both.mp4")
    recorded_by_old = await leader.recorded_files()

    killed_at = time.monotonic()
    with_signal(leader.process, signal.SIGSTOP)
    if ended_from_outside:  # the case: an admin or a fencing agent ends it
        async with engine.connect() as connection:
            ended = (
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks"
                        " WHERE locktype = 'advisory' AND granted"
                    )
                )
            ).scalar()
        assert ended is True
    # Else nobody does: the server ends the silent lock session after leader.lease_seconds.
    took = await takes_over(standby, killed_at)
    how = "pg_terminate_backend" if ended_from_outside else "the lease"
    print(f"\nfailover after SIGSTOP and {how}: {took:.2f} s")
    assert took < FAILOVER_S
    await drop_and_wait(engine, source, library_root, "while-frozen.mp4")

    with_signal(leader.process, signal.SIGCONT)

    async def old_stands_by() -> bool:
        return await leader.role() == "standby"

    await eventually(old_stands_by, 30, "the thawed leader to stand by")
    await drop_and_wait(engine, source, library_root, "after-thaw.mp4")
    assert await leader.recorded_files() == recorded_by_old  # it wrote nothing since
    assert any(e.get("event") == "leader_lost" for e in leader.events())
    await assert_no_duplicates(engine)
    assert len(await rows(engine)) == 3
