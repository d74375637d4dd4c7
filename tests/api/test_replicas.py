"""Two real `videolib api` processes on one database, as behind nginx's upstream (issue 13 §5).

Nothing a client holds is tied to the replica that gave it: a scan started through one is
followed through the other (jobs live in scan_jobs), a cursor from one pages on the other
(signed with the shared secret), and so does the admin page's session cookie. A scan is a
job of the engine (shared/jobs/scan_jobs.py): the replica running it killed in the middle,
the other takes it over once its heartbeat is stale, and finishes it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import eventually
from tests.media import make_video
from videolib.shared.db.schema import videos
from videolib.shared.tokens import issue_token

SECRET = "replica-secret-" + "x" * 40
SCAN = "/api/media/videos/scan"
STALLED_S = 3.0


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def logged(self, event: str) -> int:
        """How many log lines of this event the process wrote."""
        return self.log.read_text(errors="replace").count(event)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def start_replica(database_url: URL, library_root: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[Replica] = []

    def start(name: str) -> Replica:
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url.set(drivername="postgresql").render_as_string(
                hide_password=False
            ),
            "MEDIA_LIBRARY_PATH": str(library_root),
            "VIDEOLIB_STATE_DIR": str(tmp_path / name),
            "VIDEOLIB_LOG_LEVEL": "info",
            "JWT_SECRET": SECRET,
            "MEDIA_API_HOST": "127.0.0.1",
            "MEDIA_API_PORT": str(port),
        }
        settings = tmp_path / f"{name}.toml"
        # A job whose worker died is taken again this long after its last heartbeat.
        settings.write_text(f"[worker]\nstalled_seconds = {STALLED_S}\n")
        env["VIDEOLIB_CONFIG"] = str(settings)
        command = [sys.executable, "-m", "videolib.shared.commands.cli", "api"]
        log = tmp_path / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, env=env, stdout=output, stderr=output)
        replica = Replica(process, f"http://127.0.0.1:{port}", log)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        if replica.process.poll() is None:
            replica.process.send_signal(signal.SIGTERM)
        try:
            replica.process.wait(30)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait(10)


async def serving(http: aiohttp.ClientSession, *replicas: Replica) -> None:
    for replica in replicas:

        async def healthy(replica: Replica = replica) -> bool:
            assert replica.process.poll() is None, "the API process exited"
            try:
                async with http.get(f"{replica.base}/healthz") as response:
                    return response.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await eventually(healthy, 60, f"{replica.base} to serve")


async def get_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> dict[str, Any]:
    async with http.get(url, **kwargs) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def test_a_scan_started_through_one_replica_is_followed_through_the_other(
    start_replica: Any, library_root: Path, tmp_path: Path
) -> None:
    one, two = start_replica("one"), start_replica("two")
    original = make_video(tmp_path / "one.mp4", seconds=0.2)
    for index in range(6):
        shutil.copyfile(original, library_root / "studios" / f"{index}.mp4")
    auth = {"Authorization": f"Bearer {issue_token(SECRET)}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        await serving(http, one, two)
        body = {"directoryType": "studios", "async": True}
        async with http.post(f"{one.base}{SCAN}", json=body) as response:
            assert response.status == 202, await response.text()
            location = response.headers["Location"]

        async def finished() -> dict[str, Any] | None:
            job = await get_json(http, f"{two.base}{location}")
            return job if job["status"] != "running" else None

        job = await eventually(finished, 60, "the scan, followed through the other replica")
        assert job["status"] == "succeeded", job
        assert job["result"]["created"] == 6
        assert job == await get_json(http, f"{one.base}{location}")  # one story, both sides

        # A cursor issued by one replica pages on the other.
        first = await get_json(http, f"{one.base}/api/media/videos?limit=4")
        cursor = first["pagination"]["nextCursor"]
        rest = await get_json(
            http, f"{two.base}/api/media/videos", params={"limit": 4, "cursor": cursor}
        )
        ids = [v["id"] for v in first["data"]] + [v["id"] for v in rest["data"]]
        assert len(ids) == len(set(ids)) == 6


FILES = 2000  # enough that the scan takes many seconds, and the kill lands in its middle


@pytest.mark.timeout(300)  # two API starts, a stall to wait out and 2,000 files on a busy machine
async def test_a_scan_survives_the_kill_of_the_replica_running_it(
    start_replica: Any, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    one, two = start_replica("one"), start_replica("two")
    original = make_video(tmp_path / "one.mp4", seconds=0.2)
    for index in range(FILES):
        shutil.copyfile(original, library_root / "videos" / f"{index:05d}.mp4")
    auth = {"Authorization": f"Bearer {issue_token(SECRET)}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        await serving(http, one, two)
        # Both serve the scans queue; `two` is frozen while `one` takes the job, so that
        # the replica the scan was started through is the one running it.
        two.process.send_signal(signal.SIGSTOP)
        try:
            body = {"directoryType": "videos", "async": True}
            async with http.post(f"{one.base}{SCAN}", json=body) as response:
                assert response.status == 202, await response.text()
                location = response.headers["Location"]

            async def started_by_one() -> bool:
                return bool(one.logged("scan_job_started") == 1)

            await eventually(started_by_one, 120, "the first replica to start the scan")
        finally:
            two.process.send_signal(signal.SIGCONT)

        async def some_written() -> int:
            async with engine.connect() as connection:
                count = await connection.scalar(select(func.count()).select_from(videos)) or 0
            return count if count >= 50 else 0

        await eventually(some_written, 120, "the first rows")
        running = await get_json(http, f"{two.base}{location}")
        assert running["status"] == "running"  # seen live through the other replica
        assert running["result"]["created"] < FILES, running
        one.process.kill()
        one.process.wait(10)
        async with engine.connect() as connection:
            before_kill = await connection.scalar(select(func.count()).select_from(videos))
        assert (before_kill or 0) < FILES  # killed in the middle

        async def ended() -> dict[str, Any] | None:
            job = await get_json(http, f"{two.base}{location}")
            return job if job["status"] != "running" else None

        job = await eventually(ended, 180, "the other replica to finish the scan")
        assert job["status"] == "succeeded", job
        assert job["error"] is None and job["finishedAt"] is not None
        # The second try scanned the whole folder: the first try's files were skipped.
        result = job["result"]
        assert result["scanned"] == result["created"] + result["skipped"] == FILES, result
        assert result["failed"] == 0
        assert two.logged("scan_job_started") == 1 and two.logged("scan_job_rescanned") == 1
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(videos))
        paths = await connection.scalar(select(func.count(videos.c.path.distinct())))
    assert count == paths == FILES  # every file recorded exactly once

    async def engine_job_done() -> bool:  # the engine logs a job's end just after it
        async with engine.connect() as connection:
            pending = await connection.scalar(
                text(
                    "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'run_scan'"
                    " AND status IN ('queued', 'picked')"
                )
            )
        return bool(pending == 0)

    await eventually(engine_job_done, 30, "the engine's job done, not left to run again")
