"""No orphan processes: kill -9 a daemon or `videolib run`, and nothing of its tree lives on.

Real processes on a test database and library; /proc says who is left (tests/processes.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import processes
from tests.media import make_video
from tests.ops.test_metric_names import free_port, http_get
from tests.ops.test_run import get_json
from videolib.shared.config import Config, asyncpg_url
from videolib.shared.db.engine import open_engine
from videolib.shared.jobs.defer import defer_thumbnails
from videolib.shared.tokens import issue_token

pytestmark = pytest.mark.timeout(120)

#: Workers must go within this long of their owner's death (issue 10, item 7).
WORKER_EXIT_S = 2.0
REPO = Path(__file__).resolve().parents[2]


def _wait_for(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"not in {seconds:g} s: {what}")


def _tree(pid: int) -> dict[int, str]:
    return {child: processes.command_line(child) for child in processes.descendants(pid)}


POOL_OWNER = """
import asyncio, sys
from tests.integration.test_workers import SETTINGS, hang_after_saying
from videolib.shared.media.workers import ExaminerPool

async def main() -> None:
    async with ExaminerPool(2, SETTINGS, 600.0, job=hang_after_saying) as pool:
        await asyncio.gather(*(pool.examine(path) for path in sys.argv[1:]))

asyncio.run(main())
"""


def test_busy_workers_die_within_2_s_of_their_owner(tmp_path: Path) -> None:
    paths = [tmp_path / "hang-1.mp4", tmp_path / "hang-2.mp4"]
    owner = subprocess.Popen(
        [sys.executable, "-c", POOL_OWNER, *map(str, paths)], cwd=REPO, stderr=subprocess.PIPE
    )
    try:
        # Both workers are inside the job (a hung probe), not waiting on their pipe.
        _wait_for(lambda: all(p.with_suffix(".started").exists() for p in paths), 60, "busy")
        tree = _tree(owner.pid)
        assert sum("multiprocessing.spawn" in line for line in tree.values()) == 2, tree
        owner.kill()
        owner.wait()
        assert processes.wait_gone(tree, WORKER_EXIT_S) == set(), tree
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        assert owner.stderr is not None
        owner.stderr.close()


def _daemon_environment(config: Config, tmp_path: Path, metrics_port: int = 0) -> dict[str, str]:
    settings = tmp_path / "daemon.toml"
    settings.write_text(
        f"[daemon]\nsettle_seconds = 0.3\nquiet_seconds = 0.05\nmetrics_port = {metrics_port}\n"
        "[probe]\nworkers = 2\n[worker]\nmetrics_port = 0\nstalled_seconds = 2.0\n"
    )
    return {
        **os.environ,
        "VIDEOLIB_CONFIG": str(settings),
        "DATABASE_URL": config.database.url,
        "MEDIA_LIBRARY_PATH": str(config.library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
    }


def test_kill_9_of_a_daemon_leaves_no_worker(
    config: Config, library_root: Path, tmp_path: Path
) -> None:
    for name in ("a.mp4", "b.mp4"):
        make_video(library_root / "videos" / name)
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "daemon"]
    daemon = subprocess.Popen(
        command, env=_daemon_environment(config, tmp_path), stderr=subprocess.DEVNULL
    )
    try:
        # The examiners are up and have worked (thumbnails are a worker's, not the daemon's).
        _wait_for(lambda: _count_videos(config) == 2, 60, "two records")
        tree = _tree(daemon.pid)
        workers = [pid for pid, line in tree.items() if "multiprocessing.spawn" in line]
        assert len(workers) == 2, tree  # two examiners
        daemon.kill()
        daemon.wait()
        # Workers, and the resource tracker that lives as long as they do, are gone.
        assert processes.wait_gone(tree, WORKER_EXIT_S) == set(), tree
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def _count_videos(config: Config) -> int:
    import asyncpg

    async def count() -> int:
        connection = await asyncpg.connect(config.database.url)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM videos") or 0)
        finally:
            await connection.close()

    return asyncio.run(count())


def _media_worker_serving(owner: int) -> bool:
    """A media worker of `owner` is past its start-up: it asked to die with its owner and
    then ignores SIGTERM (shared/media/workers.py `_serve`), as /proc shows."""
    for pid, command in _tree(owner).items():
        if "multiprocessing.spawn" not in command:
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        ignored = next(line for line in status.splitlines() if line.startswith("SigIgn:"))
        if int(ignored.split()[1], 16) >> (signal.SIGTERM - 1) & 1:
            return True
    return False


async def _add_stuck_video(config: Config, library_root: Path) -> uuid.UUID:
    """A valid record whose file is a FIFO without a writer: its frame grab blocks."""
    import asyncpg

    os.mkfifo(library_root / "videos" / "stuck.mp4")
    connection = await asyncpg.connect(config.database.url)
    try:
        video_id: uuid.UUID = await connection.fetchval(
            "INSERT INTO videos (path, filename, directory_type)"
            " VALUES ('videos/stuck.mp4', 'stuck.mp4', 'videos') RETURNING id"
        )
        return video_id
    finally:
        await connection.close()


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_busy_worker_stops_in_budget_and_leaves_no_media_worker(
    how: str, config: Config, library_root: Path, tmp_path: Path
) -> None:
    video_id = asyncio.run(_add_stuck_video(config, library_root))
    # Thumbnails only: a maintenance worker's periodic pass would find the FIFO no video
    # file and end the grab's job before it can block.
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "worker"]
    command += ["--queue", "thumbnails"]
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            command, env=_daemon_environment(config, tmp_path), stderr=output, stdout=output
        )
    try:

        async def defer() -> None:  # what an ingest does
            async with open_engine(asyncpg_url(config.database.url), 1) as engine:
                await defer_thumbnails(engine, [video_id])

        asyncio.run(defer())
        _wait_for(lambda: _started(log, "make_thumbnail"), 60, "the grab to start")
        _wait_for(lambda: _media_worker_serving(worker.pid), 60, "its media worker")
        tree = _tree(worker.pid)
        began = time.monotonic()
        worker.send_signal(getattr(signal, how))
        worker.wait(30)
        if how == "SIGTERM":
            assert worker.returncode == 0
            # The daemon's bound (tests/daemon/test_process.py): its own steps take 2.5 s
            # at most (shared/jobs/worker.py STOP_BUDGET_S), the rest is the exit.
            assert time.monotonic() - began < 5.0
        assert processes.wait_gone(tree, WORKER_EXIT_S) == set(), tree
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def _started(log: Path, task: str) -> bool:
    """A job of `task` started (the periodic maintenance jobs start their own too)."""
    return any("job_started" in line and task in line for line in log.read_text().splitlines())


class Run:
    """`videolib run` on an embedded database under `home`, as the README starts it."""

    def __init__(self, home: Path) -> None:
        port, self.metrics_port = free_port(), free_port()
        config = home / "config.toml"
        config.write_text(f"[daemon]\nmetrics_port = {self.metrics_port}\n")
        unset = ("DATABASE_URL", "JWT_SECRET", "MEDIA_LIBRARY_PATH", "MEDIA_INBOX_PATH")
        env = {k: v for k, v in os.environ.items() if k not in unset}
        env.update(
            MEDIA_API_PORT=str(port),
            MEDIA_API_HOST="127.0.0.1",
            MEDIA_LIBRARY_PATH=str(home / "var" / "library"),
            VIDEOLIB_STATE_DIR=str(home / "var"),
            VIDEOLIB_LOG_LEVEL="warning",
        )
        cli = [sys.executable, "-m", "videolib.shared.commands.cli"]
        command = [*cli, "--config", str(config), "run"]
        self.log = home / "run.log"  # the children's log lines, read when a test fails
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=home, env=env, stdout=subprocess.PIPE, stderr=log, text=True
            )
        assert self.process.stdout is not None
        banner = [self.process.stdout.readline() for _ in range(2)]
        assert banner[0].startswith("videolib is running"), banner
        self.token = banner[1].split()[-1]
        self.videos = f"http://127.0.0.1:{port}/api/media/videos"
        self.api = f"http://127.0.0.1:{port}/api/media"
        self.pgdata = home / "var" / "pgdata"

        def api_up() -> bool:
            try:
                return get_json(self.videos, self.token)["pagination"] is not None
            except OSError:
                return False

        _wait_for(api_up, 60, "the API answers")

    def postmaster(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])

    def guard(self) -> int:
        [guard] = [p for p, line in _tree(self.process.pid).items() if "embedded_guard" in line]
        return guard

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()


#: After a SIGKILL of `videolib run`, nothing of it is left after this long (item 7).
RUN_EXIT_S = 10.0


def test_kill_9_of_run_leaves_nothing_and_a_survivor_server_is_adopted(run_home: Path) -> None:
    tmp_path = run_home
    first = Run(tmp_path)
    try:
        postgres = first.postmaster()
        tree = {*_tree(first.process.pid), postgres}
        assert len(tree) >= 4, tree  # API, daemon, its workers, the guard, the server
        first.process.kill()
        first.process.wait()
        assert processes.wait_gone(tree, RUN_EXIT_S) == set(), tree
    finally:
        first.close()

    # A server that outlived everything (its guard killed too) is adopted by the next run...
    second = Run(tmp_path)
    try:
        postgres = second.postmaster()
        os.kill(second.guard(), 9)
        children = set(_tree(second.process.pid))
        second.process.kill()
        second.process.wait()
        left = processes.wait_gone(children, RUN_EXIT_S)
        assert left == set(), [processes.command_line(p) for p in left] + [second.log.read_text()]
        assert processes.alive(postgres)
    finally:
        second.close()
    third = Run(tmp_path)
    try:
        assert third.postmaster() == postgres
        assert get_json(third.videos, third.token)["data"] == []
        # ...and stopped when that run stops: the killed run's handle was forgotten.
        third.process.send_signal(2)
        assert third.process.wait(timeout=30) == 0
        assert processes.wait_gone({postgres}, RUN_EXIT_S) == set()
    finally:
        third.close()


def _post_until_accepted(url: str, token: str, body: dict[str, object]) -> dict[str, Any]:
    """POST, again while it answers 409: a worker's periodic pass may hold the type's lock
    (shared/jobs/maintenance_jobs.py), as a client of a busy library would see."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return _post_json(url, token, body)
        except urllib.error.HTTPError as error:
            if error.code != 409 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _post_json(url: str, token: str, body: dict[str, object]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


#: How long the guard is given to (wrongly) stop the server under a frozen child.
GUARD_PATIENCE_S = 5.0


def test_kill_9_of_run_lets_the_children_finish_their_writes_first(run_home: Path) -> None:
    # Files that take each worker seconds to hash (sparse: the disk stays empty), so that
    # an API scan of them is still running when `run` is killed.
    studios = run_home / "var" / "library" / "studios"
    studios.mkdir(parents=True)
    seed = make_video(run_home / "seed.mp4")
    for n in range(4):
        slow = studios / f"slow-{n}.mp4"
        slow.write_bytes(seed.read_bytes())
        os.truncate(slow, SLOW_FILE_BYTES)
    first = Run(run_home)
    api = 0
    try:
        reconciled = "videolib_daemon_reconcile_last_success_timestamp_seconds"
        _wait_for(lambda: _daemon_metric(first.metrics_port, reconciled) > 0, 90, "reconciled")
        body = {"directoryType": "studios", "skipExisting": False, "async": True}
        job = _post_until_accepted(f"{first.api}/videos/scan", first.token, body)["jobId"]
        assert get_json(f"{first.api}/scans/{job}", first.token)["status"] == "running"
        children = _tree(first.process.pid)
        [api] = [pid for pid, line in children.items() if line.endswith(" api")]
        guard, postgres = first.guard(), first.postmaster()
        # A slow graceful stop, made certain: the API is frozen while its parent dies, and
        # gets the SIGTERM of that death only when it is let go.
        os.kill(api, signal.SIGSTOP)
        first.process.kill()
        first.process.wait()
        # The guard must not stop the server under a child that still uses it (it did, at
        # once: its pipe's only writer was the killed parent).
        assert processes.wait_gone({guard}, GUARD_PATIENCE_S) == {guard}
        assert processes.alive(postgres)
        os.kill(api, signal.SIGCONT)
        # The API hands its scan back; then everything goes, server too.
        left = processes.wait_gone({*children, postgres}, RUN_EXIT_S)
        assert left == set(), [processes.command_line(p) for p in left]
    finally:
        if api and processes.alive(api):  # a failed check above: never leave it frozen
            os.kill(api, signal.SIGCONT)
        first.close()
    second = Run(run_home)
    try:
        # Handed back by the stopped API, not "failed" as orphaned: the next run's API or
        # worker scans it to the end.
        _wait_for(
            lambda: get_json(f"{second.api}/scans/{job}", second.token)["status"] != "running",
            90,
            "the scan finished by the next run",
        )
        ended = get_json(f"{second.api}/scans/{job}", second.token)
        assert (ended["status"], ended["error"]) == ("succeeded", None), ended
    finally:
        second.close()


#: SIGTERM under load: `videolib api` and `videolib daemon` are gone within this (item 7).
SIGTERM_EXIT_S = 3.0


def _stop_with_sigterm(process: subprocess.Popen[bytes]) -> tuple[int, float, str]:
    """SIGTERM; (exit code, seconds to exit, stderr)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        _out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return process.returncode, time.monotonic() - started, err.decode(errors="replace")


#: Sparse files this large take each worker seconds to hash: far more than the stop may take.
SLOW_FILE_BYTES = 1 << 30


def _daemon_metric(port: int, name: str) -> float:
    """One sample of the daemon's /metrics (0 while it does not answer yet)."""
    try:
        _status, text = http_get(f"http://127.0.0.1:{port}/metrics")
    except OSError:
        return 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return 0.0


def test_sigterm_stops_a_busy_daemon_within_3_s_without_traceback(
    config: Config, library_root: Path, tmp_path: Path
) -> None:
    seed = make_video(tmp_path / "seed.mp4")
    metrics_port = free_port()
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "daemon"]
    env = _daemon_environment(config, tmp_path, metrics_port)
    daemon = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        reconciled = "videolib_daemon_reconcile_last_success_timestamp_seconds"
        _wait_for(lambda: _daemon_metric(metrics_port, reconciled) > 0, 60, "first reconcile")
        # The load: files that keep both workers hashing for seconds each (sparse, so the
        # disk stays empty), each moved in whole so that it settles at once.
        for n in range(6):
            slow = tmp_path / f"slow-{n}.mp4"
            slow.write_bytes(seed.read_bytes())
            os.truncate(slow, SLOW_FILE_BYTES)
            slow.rename(library_root / "videos" / slow.name)
        in_flight = "videolib_daemon_in_flight"
        _wait_for(lambda: _daemon_metric(metrics_port, in_flight) > 0, 60, "files in flight")
        tree = _tree(daemon.pid)
        code, seconds, stderr = _stop_with_sigterm(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert (code, "Traceback" in stderr) == (0, False), stderr[-3000:]
    assert seconds < SIGTERM_EXIT_S, stderr[-3000:]
    assert processes.wait_gone(tree, WORKER_EXIT_S) == set()


def test_sigterm_stops_a_busy_api_within_3_s_without_traceback(
    config: Config, tmp_path: Path
) -> None:
    port = free_port()
    env = {**_daemon_environment(config, tmp_path), "MEDIA_API_PORT": str(port)}
    env.update(MEDIA_API_HOST="127.0.0.1", JWT_SECRET="s" * 32)
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "api"]
    api = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/api/media/videos"
    token = issue_token("s" * 32, ttl_s=600)
    answered = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                get_json(url, token)
                answered += 1
            except OSError:
                time.sleep(0.01)

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        _wait_for(lambda: answered >= 50, 60, "the API is under load")
        tree = _tree(api.pid)
        code, seconds, stderr = _stop_with_sigterm(api)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        if api.poll() is None:
            api.kill()
            api.communicate()
    assert (code, "Traceback" in stderr) == (0, False), stderr[-3000:]
    assert seconds < SIGTERM_EXIT_S
    assert processes.wait_gone(tree, WORKER_EXIT_S) == set()
