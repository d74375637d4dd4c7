"""Hostile trees: loops, dangling links, paths too long, unreadable folders.

Each is one error entry and one log line; the scan goes on and records the good file.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

import structlog

from tests.api.conftest import Client
from tests.media import make_video
from videolib.daemon.metrics import DaemonMetrics
from videolib.daemon.reconcile import reconcile
from videolib.shared.config import Config
from videolib.shared.db.repository import DirectoryLocks, VideoRepository
from videolib.shared.ingest import ScanResult, walk
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool

SCAN = "/api/media/videos/scan"
NOBODY = 65534


def _deep_folder(parent: Path) -> str:
    """A folder nested past PATH_MAX (4096): its own path cannot be opened (ENAMETOOLONG)."""
    name = "d" * 200
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(25):  # 25 * 201 > 4096
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    return "long/" + "/".join([name] * 25)


def hostile_tree(library_root: Path) -> dict[str, str]:
    """A good clip among hostile entries; stored path -> what the error says."""
    folder = library_root / "videos"
    make_video(folder / "good.mp4")
    (folder / "loop-a.mp4").symlink_to("loop-b.mp4")
    (folder / "loop-b.mp4").symlink_to("loop-a.mp4")
    (folder / "dangling.mp4").symlink_to("nowhere.mp4")
    (folder / "long").mkdir()
    deep = _deep_folder(folder / "long")
    expected = {
        "loop-a.mp4": "symlink loop",
        "loop-b.mp4": "symlink loop",
        "dangling.mp4": "No such file or directory",
        deep[: deep.index("/", 300)]: "File name too long",
    }
    return expected


def check_errors(errors: list[str], expected: dict[str, str]) -> None:
    assert len(errors) == len(expected), errors
    for where, reason in expected.items():
        assert any(where in error and reason in error for error in errors), (where, errors)


async def test_api_scan_reports_each_hostile_entry_and_goes_on(
    client: Client, auth: dict[str, str], library_root: Path
) -> None:
    expected = hostile_tree(library_root)
    response = await client.post(SCAN, json={"directoryType": "videos"}, headers=auth)
    assert response.status == 200, await response.text()
    result = await response.json()
    assert (result["created"], result["failed"]) == (1, len(expected))
    check_errors(result["errors"], expected)
    listed = await (await client.get("/api/media/videos", headers=auth)).json()
    assert [v["path"] for v in listed["data"]] == ["videos/good.mp4"]


async def test_reconcile_logs_one_line_per_hostile_entry_and_records_the_rest(
    config: Config, repository: VideoRepository, library_root: Path
) -> None:
    expected = hostile_tree(library_root)
    with structlog.testing.capture_logs() as logs:
        async with examiner_pool(config) as pool:
            result = await reconcile(
                Library.from_config(config),
                repository,
                DirectoryLocks(repository.engine),
                pool,
                DaemonMetrics(),
            )
    assert result is not None
    check_errors(result.errors, expected)
    skipped = [entry for entry in logs if entry["event"] == "walk_entry_skipped"]
    assert len(skipped) == len(expected), skipped
    assert list(await repository.fingerprints(["videos/good.mp4"])) == ["videos/good.mp4"]


def _walk_as(uid: int | None, library: Library, found: Connection) -> None:
    """Walk `videos` (as `uid` when given); send the paths, the errors, the logged skips."""
    if uid is not None:
        os.setgid(uid)
        os.setuid(uid)  # no CAP_DAC_OVERRIDE any more: chmod 000 holds
    result = ScanResult()
    with structlog.testing.capture_logs() as logs:
        paths = [file.stored_path for file in walk(library, "videos", result)]
    logged = [entry["path"] for entry in logs if entry["event"] == "walk_entry_skipped"]
    found.send((paths, result.errors, logged))
    found.close()


def test_an_unreadable_folder_is_one_error_and_the_walk_goes_on() -> None:
    # Root reads a chmod 000 folder anyway, so as root (CI) the walk runs in a spawned child
    # that has given up root; the tree lives outside pytest's 0700 temporary folder.
    base = Path(tempfile.mkdtemp(prefix="videolib-unreadable-"))
    try:
        base.chmod(0o755)
        library = Library(base / "library", base / "library" / "inbox")
        (library.root / "videos" / "locked").mkdir(parents=True)
        make_video(library.root / "videos" / "locked" / "hidden.mp4")
        make_video(library.root / "videos" / "open.mp4")
        (library.root / "videos" / "locked").chmod(0)
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        uid = NOBODY if os.geteuid() == 0 else None
        child = context.Process(target=_walk_as, args=(uid, library, send))
        child.start()
        assert receive.poll(60), "the walk did not answer within 60 s"
        paths, errors, logged = receive.recv()
        child.join(60)
        assert child.exitcode == 0
    finally:
        (base / "library" / "videos" / "locked").chmod(0o755)
        shutil.rmtree(base)
    assert paths == ["videos/open.mp4"]
    assert errors == ["videos/locked: Permission denied"]
    assert logged == ["videos/locked"]  # one log line
