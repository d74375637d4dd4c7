"""Fixtures of the admin page's tests: the real API app on a free port, Debian's chromium.

The app runs in a thread with its own event loop: Playwright's sync API drives the browser
from the test's thread and must not run inside an asyncio loop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.media import make_video
from videolib.api.app import create_app
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import ThumbnailRepository, VideoRepository
from videolib.shared.ingest import scan
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool
from videolib.shared.thumbnails import ThumbnailMaker, ThumbnailSettings
from videolib.shared.tokens import issue_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET = "admin-page-test-secret-of-32-bytes-or-more"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def chromium_path() -> str:
    """Debian's chromium; the tests skip without it on a laptop, never in CI."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def build_app(config: Config) -> web.Application:
    """The API's own app, which includes the admin page."""
    return create_app(config)


def admin_config(config: Config, tmp_path: Path) -> Config:
    return config.replace("api", jwt_secret=SECRET).replace(
        "thumbnails", dir=str(tmp_path / "thumbnails")
    )


@dataclass
class Server:
    url: str
    config: Config
    token: str


class _ServerThread(threading.Thread):
    def __init__(self, factory: Callable[[], web.Application]) -> None:
        super().__init__(name="admin-test-server", daemon=True)
        self.factory = factory
        self.port = 0
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.stopping: asyncio.Event | None = None

    def run(self) -> None:
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self.stopping = asyncio.Event()
        runner: web.AppRunner | None = None
        try:
            runner = web.AppRunner(self.factory())
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
        except BaseException as error:
            self.error = error
            self.ready.set()
            if runner is not None:
                await runner.cleanup()
            return
        self.ready.set()
        await self.stopping.wait()
        await runner.cleanup()

    def stop(self) -> None:
        if self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.join(timeout=30)


async def _prepare_library(config: Config) -> None:
    """Record what is on disk and make the thumbnails, as the daemon would have."""
    async with open_engine(config.sqlalchemy_url(), pool_size=2) as engine:
        async with examiner_pool(config) as pool:
            await scan(
                ["videos", "studios", "gifs"],
                library=Library.from_config(config),
                repository=VideoRepository(engine),
                pool=pool,
            )
        repository = ThumbnailRepository(engine)
        settings = ThumbnailSettings.from_config(config)
        async with ThumbnailMaker(repository, Library.from_config(config), settings) as maker:
            await maker.make_many(await repository.backlog(missing_only=True))


def make_library(root: Path) -> None:
    """A small library: landscape, portrait, square, several qualities and types."""
    clips: list[tuple[str, dict[str, Any]]] = [
        ("videos/beach-sunset.mp4", {"width": 1280, "height": 720, "seconds": 3}),
        ("videos/phone-clip.mp4", {"width": 640, "height": 360, "rotation": 90, "seconds": 2}),
        ("videos/square-loop.mp4", {"width": 480, "height": 480, "seconds": 1}),
        ("studios/acme/interview.mp4", {"width": 1920, "height": 1080, "fps": 2, "seconds": 4}),
        ("gifs/cat.mp4", {"width": 320, "height": 240, "seconds": 1, "audio": False}),
    ]
    for stored, options in clips:
        path = root / stored
        path.parent.mkdir(parents=True, exist_ok=True)
        make_video(path, noise=True, **options)


@pytest.fixture
def server(config: Config, library_root: Path, tmp_path: Path) -> Iterator[Server]:
    """The API with the admin page on 127.0.0.1, over a library of five generated videos."""
    chromium_path()
    config = admin_config(config, tmp_path)
    make_library(library_root)
    asyncio.run(_prepare_library(config))
    thread = _ServerThread(lambda: build_app(config))
    thread.start()
    started = thread.ready.wait(timeout=60)
    if thread.error is not None:
        raise thread.error
    assert started, "the admin test server did not start within 60 s"
    try:
        yield Server(f"http://127.0.0.1:{thread.port}", config, issue_token(SECRET, ttl_s=3600))
    finally:
        thread.stop()


@pytest.fixture
def browser(server: Server) -> Iterator[Any]:
    """Chromium, started after the server and stopped before it.

    Per test, not per session: Playwright's sync API marks the main thread's event loop as
    running while it lives, and the database fixtures call asyncio.run().
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, width: int = 1280, height: int = 900) -> Any:
    """A page in a fresh context (no cookies) that records script errors and CSP refusals."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15000)
    page = context.new_page()
    page.script_errors = []
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            # An answered 4xx is the test's doing (a bad token); anything else is a fault.
            and not message.text.startswith("Failed to load resource")
            and page.script_errors.append(message.text)
        ),
    )
    return page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop-sized page; the test fails if the page had a script error."""
    page = new_page(browser)
    yield page
    assert page.script_errors == []
