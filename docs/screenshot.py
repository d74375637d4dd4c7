"""Take the README's screenshot (docs/library.png) of a fresh `videolib run --demo`.

    .venv/bin/python docs/screenshot.py [OUTPUT]

Starts `run --demo` in a temporary directory, as a newcomer would in a fresh clone, opens
the login link of its first line in Debian's chromium (Playwright, from the test extra),
waits until the demo's clips are listed with their thumbnails, and saves the page.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

REPOSITORY = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VALID_DEMO_CLIPS = 11  # shared/demo.py: twelve clips, one of them corrupt
UNSET = ("DATABASE_URL", "JWT_SECRET", "MEDIA_LIBRARY_PATH", "MEDIA_INBOX_PATH", "VIDEOLIB_CONFIG")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listed_with_thumbnails(videos: str, token: str) -> bool:
    request = urllib.request.Request(
        f"{videos}?limit=50", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            data = json.loads(response.read())["data"]
    except OSError:
        return False
    return len(data) == VALID_DEMO_CLIPS and all(v["thumbnailPath"] for v in data)


def main(output: Path) -> int:
    home = Path(tempfile.mkdtemp(prefix="videolib-screenshot-"))
    port = free_port()
    (home / "ports.toml").write_text(f"[daemon]\nmetrics_port = {free_port()}\n")
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(MEDIA_API_PORT=str(port), VIDEOLIB_LOG_LEVEL="warning")
    command = [sys.executable, "-m", "videolib.shared.commands.cli"]
    command += ["--config", str(home / "ports.toml"), "run", "--demo"]
    run = subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout is not None
        link = run.stdout.readline().split()[-1]
        token = run.stdout.readline().split()[-1]
        deadline = time.monotonic() + 120
        while not listed_with_thumbnails(f"http://127.0.0.1:{port}/api/media/videos", token):
            if time.monotonic() > deadline:
                raise SystemExit("the demo clips were not listed with thumbnails in 120 s")
            time.sleep(0.5)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(link)
            rows = page.locator("#rows tr[data-id]")
            expect(rows).to_have_count(VALID_DEMO_CLIPS, timeout=30000)
            for image in page.locator("img.thumb").all():
                expect(image).to_be_visible()
            page.wait_for_function(
                "[...document.querySelectorAll('img.thumb')].every(i => i.complete)"
            )
            page.screenshot(path=str(output), full_page=True)
            browser.close()
    finally:
        run.send_signal(signal.SIGINT)
        run.wait(timeout=30)
        if run.stdout is not None:
            run.stdout.close()
        shutil.rmtree(home, ignore_errors=True)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPOSITORY / "docs" / "library.png"))
