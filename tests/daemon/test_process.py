"""A real `videolib daemon` process: SIGTERM, kill -9 in a burst, restart, reconcile."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually, rows, sha256
from tests.media import make_video
from videolib.shared.config import Config


def start_daemon(config: Config, tmp_path: Path) -> subprocess.Popen[bytes]:
    settings = tmp_path / "daemon.toml"
    settings.write_text(
        "[daemon]\nsettle_seconds = 0.3\nquiet_seconds = 0.05\nmetrics_port = 0\n"
        "[probe]\nworkers = 2\n"
    )
    env = {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": config.database.url,
        "MEDIA_LIBRARY_PATH": str(config.library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
    }
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "daemon"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stderr:
            process.stderr.close()


async def wait_ready(process: subprocess.Popen[bytes]) -> None:
    """Wait for the `daemon_ready` log line."""
    assert process.stderr is not None
    os.set_blocking(process.stderr.fileno(), False)
    seen = b""
    deadline = time.monotonic() + 30
    while b"daemon_ready" not in seen:
        assert process.poll() is None, seen.decode(errors="replace")
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        seen += process.stderr.read() or b""
        await asyncio.sleep(0.05)


async def test_sigterm_exits_zero_within_seconds(
    config: Config, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    daemon = start_daemon(config, tmp_path)
    processes.append(daemon)
    await wait_ready(daemon)
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(daemon.wait, 10) == 0
    assert time.monotonic() - started < 5


async def test_kill_9_in_a_burst_then_changes_while_down_are_reconciled(
    config: Config,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    originals = [make_video(source / f"{i:02}.mp4", seconds=0.5, noise=True) for i in range(30)]
    videos = library_root / "videos"
    daemon = start_daemon(config, tmp_path)
    processes.append(daemon)
    await wait_ready(daemon)
    for original in originals[:20]:
        shutil.copyfile(original, videos / original.name)

    async def some_recorded() -> bool:
        return len(await rows(engine)) >= 3

    await eventually(some_recorded, 30, "the burst to start being recorded")
    daemon.kill()  # SIGKILL in the middle of the burst
    daemon.wait(10)
    ids_before = {v.path: v.id for v in await rows(engine)}

    # While it is down: a rename, a move to another type, a delete, new files.
    recorded = sorted(ids_before)
    renamed_from = recorded[0]
    (library_root / renamed_from).rename(videos / "renamed.mp4")
    moved_from = recorded[1]
    (library_root / moved_from).rename(library_root / "studios" / "moved.mp4")
    deleted = recorded[2]
    (library_root / deleted).unlink()
    for original in originals[20:]:
        shutil.copyfile(original, videos / original.name)

    restarted = start_daemon(config, tmp_path)
    processes.append(restarted)
    await wait_ready(restarted)
    on_disk = {
        f"{folder.name}/{file.name}": file
        for folder in (videos, library_root / "studios")
        for file in folder.iterdir()
    }

    async def reconciled() -> bool:
        valid = {v.path: v for v in await rows(engine) if v.is_valid}
        return set(valid) == set(on_disk) and all(
            v.file_hash == sha256(on_disk[p]) for p, v in valid.items()
        )

    await eventually(reconciled, 60, "the reconciliation after restart")
    final = await rows(engine)
    assert len({v.path for v in final}) == len(final)
    assert len({v.file_hash for v in final}) == len(final), "a file recorded twice"
    by_path = {v.path: v for v in final}
    assert by_path[deleted].invalid_reason == "missing"
    assert by_path["videos/renamed.mp4"].id == ids_before[renamed_from]
    assert by_path["studios/moved.mp4"].id == ids_before[moved_from]
    restarted.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(restarted.wait, 10) == 0
