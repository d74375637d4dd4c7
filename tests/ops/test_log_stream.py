"""One log stream: every stderr line of the real processes is a JSON object with an event.

aiohttp's access and server logs, asyncio's "Task exception was never retrieved",
warnings and Alembic's lines go through structlog's ProcessorFormatter (issue 10 §12).
stderr is a pipe here, as under systemd, so the format is JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import URL

from videolib.shared.db import migrate

SECRET = "log-stream-test-secret-" + "x" * 32
CLI = [sys.executable, "-m", "videolib.shared.commands.cli"]


def parsed_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line as a JSON object with an "event", or an assertion naming the first that is not."""
    events = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}\nin:\n{stderr}") from None
        assert isinstance(record, dict) and "event" in record, line
        events.append(record)
    return events


def env_for(database_url: URL, library_root: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url.set(drivername="postgresql").render_as_string(
            hide_password=False
        ),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
        "JWT_SECRET": SECRET,
        "VIDEOLIB_LOG_LEVEL": "info",
        **extra,
    }
    env.pop("JOURNAL_STREAM", None)
    env.pop("VIDEOLIB_CONFIG", None)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, then everything it wrote to stderr."""
    process.send_signal(signal.SIGTERM)
    try:
        _out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired as e:
        process.send_signal(signal.SIGABRT)
        _out, more = process.communicate(timeout=10)
        raise AssertionError((e.stderr or b"").decode() + more) from None
    assert process.returncode == 0, err
    return err


def test_api_stderr_is_json_lines_access_log_included(
    database_url: URL, library_root: Path, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    env = env_for(
        database_url, library_root, tmp_path, MEDIA_API_HOST="127.0.0.1", MEDIA_API_PORT=str(port)
    )
    api = subprocess.Popen(
        [*CLI, "api"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    started.append(api)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert api.poll() is None, "the API exited"
        try:
            return get(f"{base}/healthz") == 200
        except OSError:
            return False

    wait_for(answers, 60, "the API to answer")
    assert get(f"{base}/api/media/videos") == 401
    assert get(f"{base}/no/such/route") == 404
    events = parsed_lines(stop(api))
    names = [e["event"] for e in events]
    assert "api_started" in names and "api_stopped" in names
    requests = [e for e in events if e["event"] == "http_request"]
    assert {(r["path"], r["status"]) for r in requests} >= {
        ("/healthz", 200),
        ("/api/media/videos", 401),
        ("/no/such/route", 404),
    }
    assert all(r["request_id"] for r in requests if r["path"] != "/no/such/route")


def test_daemon_stderr_is_json_lines(
    database_url: URL, library_root: Path, tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    settings = tmp_path / "daemon.toml"
    settings.write_text("[daemon]\nmetrics_port = 0\nsettle_seconds = 0.3\n[probe]\nworkers = 1\n")
    env = env_for(database_url, library_root, tmp_path, VIDEOLIB_CONFIG=str(settings))
    daemon = subprocess.Popen(
        [*CLI, "daemon"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    started.append(daemon)
    assert daemon.stderr is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "daemon_ready" not in seen:  # one line at a time: the pipe blocks, no busy loop
        assert daemon.poll() is None and time.monotonic() < deadline, seen
        seen += daemon.stderr.readline()
    names = [e["event"] for e in parsed_lines(seen + stop(daemon))]
    assert "daemon_ready" in names and "daemon_stopping" in names


def test_db_upgrade_logs_its_migrations_as_one_json_event(
    database_url: URL, tmp_path: Path
) -> None:
    empty = f"empty_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        dsn = database_url.set(drivername="postgresql", database="postgres")
        connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{empty}"'))
    try:
        env = env_for(database_url.set(database=empty), tmp_path, tmp_path)
        done = subprocess.run(
            [*CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)'))
    assert done.returncode == 0, done.stderr
    events = parsed_lines(done.stderr)
    # Alembic's sentences ("Context impl PostgresqlImpl.", "Running upgrade ...") are quiet;
    # one event of ours says what happened, like every other line.
    assert not [e for e in events if e.get("logger", "").startswith("alembic")], events
    applied = [e for e in events if e["event"] == "migrations_applied"]
    assert len(applied) == 1, events
    assert applied[0]["from_revision"] is None
    assert applied[0]["to_revision"] == migrate.head_revision()
    assert f"database at revision {migrate.head_revision()}" in done.stdout


FOREIGN = textwrap.dedent(
    """
    import asyncio, gc, logging, warnings
    from videolib.shared.logging import configure_logging, get_logger

    configure_logging("info", "auto")
    get_logger("ours").info("our_event", n=1)
    logging.getLogger("aiohttp.server").error("Error handling request", exc_info=ValueError("x"))
    warnings.warn("something is deprecated", DeprecationWarning, stacklevel=1)

    async def main():
        async def fails():
            raise RuntimeError("nobody awaits me")
        task = asyncio.get_running_loop().create_task(fails())
        await asyncio.sleep(0.01)
        del task
        gc.collect()  # "Task exception was never retrieved", through asyncio's logger

    asyncio.run(main())
    raise SystemError("uncaught at the top")
    """
)


def test_foreign_records_and_an_uncaught_exception_are_json_lines() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", FOREIGN],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    events = {e["event"].splitlines()[0]: e for e in parsed_lines(done.stderr)}
    assert events["our_event"]["n"] == 1
    assert "ValueError: x" in events["Error handling request"]["exception"]
    assert events["Error handling request"]["logger"] == "aiohttp.server"
    assert any("something is deprecated" in name for name in events)
    never = events["Task exception was never retrieved"]
    assert "nobody awaits me" in never["exception"] and never["logger"] == "asyncio"
    assert "uncaught at the top" in events["uncaught_exception"]["exception"]
