"""`videolib run`: the README's main command, as a real process tree on an embedded database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.media import make_video
from tests.ops.test_metric_names import free_port
from videolib.shared.library_marker import read_marker


def get_json(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def wait_for(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_run_starts_everything_lists_a_drop_and_stops_on_one_signal(run_home: Path) -> None:
    tmp_path = run_home  # not under pytest's basetemp: see run_home
    port, metrics_port = free_port(), free_port()
    config = tmp_path / "config.toml"
    config.write_text(f"[daemon]\nmetrics_port = {metrics_port}\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "JWT_SECRET", "MEDIA_LIBRARY_PATH", "MEDIA_INBOX_PATH")
    }
    env.update(
        MEDIA_API_PORT=str(port),
        MEDIA_API_HOST="127.0.0.1",
        MEDIA_LIBRARY_PATH=str(tmp_path / "var" / "library"),
        VIDEOLIB_STATE_DIR=str(tmp_path / "var"),
        VIDEOLIB_LOG_LEVEL="warning",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "videolib.shared.commands.cli", "--config", str(config), "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(2)]
        assert banner[0].startswith(f"videolib is running: http://127.0.0.1:{port}/")
        token = banner[1].split()[-1]
        base = f"http://127.0.0.1:{port}/api/media/videos"
        # The nine folders were created on first start.
        assert (tmp_path / "var" / "library" / "highlights").is_dir()
        # ... and the library marker (local mode does `videolib init`): the library counts
        # as mounted, so the daemon is ready and may mark vanished files missing.
        assert read_marker(tmp_path / "var" / "library").library_id is not None

        def api_up() -> bool:
            try:
                return "pagination" in get_json(base, token)
            except OSError:
                return False

        wait_for(api_up, 90)  # three children start at once on a loaded machine
        make_video(tmp_path / "clip.mp4")
        (tmp_path / "clip.mp4").rename(tmp_path / "var" / "library" / "videos" / "clip.mp4")

        def listed() -> bool:
            data = get_json(base, token)["data"]
            return [v["path"] for v in data] == ["videos/clip.mp4"]

        wait_for(listed, 30)

        def thumbnailed() -> bool:  # by the worker `run` starts, from the engine's queue
            [video] = get_json(base, token)["data"]
            return video.get("thumbnailPath") is not None

        wait_for(thumbnailed, 60)
        [jpeg] = (tmp_path / "var" / "thumbnails").rglob("*.jpg")
        assert jpeg.read_bytes()[:2] == b"\xff\xd8"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    # Nothing of the tree is left listening.
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except OSError:
        pass
    else:
        raise AssertionError("the API still answers after videolib run stopped")
