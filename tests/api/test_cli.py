"""`videolib api` as systemd runs it: refuses without a secret, notifies, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from sqlalchemy.engine import URL

SECRET = "cli-api-secret-" + "x" * 40


def _env(database_url: URL, library_root: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url.set(drivername="postgresql").render_as_string(
            hide_password=False
        ),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "VIDEOLIB_LOG_LEVEL": "warning",
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_refuses_to_start_without_a_secret(database_url: URL, library_root: Path) -> None:
    env = _env(database_url, library_root)
    env.pop("JWT_SECRET", None)
    done = subprocess.run(
        [sys.executable, "-m", "videolib.shared.commands.cli", "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "jwt_secret" in done.stderr


def test_serves_notifies_and_stops_on_sigterm(
    database_url: URL, library_root: Path, tmp_path: Path
) -> None:
    notify_path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(notify_path)
        notify.settimeout(60)
        port = _free_port()
        env = _env(
            database_url, library_root, JWT_SECRET=SECRET, NOTIFY_SOCKET=notify_path,
            MEDIA_API_HOST="127.0.0.1", MEDIA_API_PORT=str(port),
        )  # fmt: skip
        command = [sys.executable, "-m", "videolib.shared.commands.cli", "api"]
        process = subprocess.Popen(command, env=env)
        try:
            assert notify.recv(64) == b"READY=1"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                assert r.status == 200
            process.send_signal(signal.SIGTERM)
            assert notify.recv(64) == b"STOPPING=1"
            assert process.wait(30) == 0  # raises TimeoutExpired past the bound
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
