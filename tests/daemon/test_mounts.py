"""An unmounted share never looks like mass deletion (issue 11 §1), against real mounts.

A share is a tmpfs (its own device) bind-mounted at a type folder: unmounted with
`umount -l` while the daemon runs, an empty tmpfs mounted over a folder, the daemon
restarted while unmounted, then mounted again. Each time: no record marked missing, and
after the remount every record valid with the same id, without a restart.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.daemon.harness import ObservedScheduler, eventually, fast, row, rows, running_service
from tests.media import make_video
from tests.mounts import mount_bind, share_at, tmpfs, unmount_lazily
from videolib.daemon.scheduler import WATCH_CHECK_S
from videolib.shared.config import Config
from videolib.shared.db.repository import MountRepository

FILES = ("a.mp4", "b.mp4", "c.mp4")
#: A remount is noticed within one watch check; the pass after it takes a moment more.
NOTICED_S = WATCH_CHECK_S * 6


def make_files(folder: Path, source: Path) -> None:
    for number, name in enumerate(FILES):
        shutil.copyfile(make_video(source / name, width=160 + 16 * number), folder / name)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    return folder


async def studio_ids(engine: AsyncEngine) -> dict[str, tuple[uuid.UUID, bool, str | None]]:
    return {
        v.path: (v.id, v.is_valid, v.invalid_reason)
        for v in await rows(engine)
        if v.path.startswith("studios/")
    }


def all_valid(found: dict[str, tuple[uuid.UUID, bool, str | None]]) -> bool:
    return len(found) >= len(FILES) and all(valid for _id, valid, _r in found.values())


def held(service: ObservedScheduler, kind: str = "unmounted") -> float:
    labels = {"directory_type": "studios", "kind": kind}
    return (
        service.metrics.registry.get_sample_value("videolib_daemon_missing_held_total", labels) or 0
    )


async def passes_after(service: ObservedScheduler, count: int) -> bool:
    return service.reconciled > count


async def test_umount_while_running_then_remount(
    config: Config,
    database_url: URL,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    source: Path,
) -> None:
    studios = library_root / "studios"
    with share_at(tmp_path / "share", studios) as store:
        make_files(store, source)
        async with running_service(fast(config), database_url) as service:
            before = await eventually(lambda: _valid(engine), 60, "the share's files listed")

            unmount_lazily(studios)  # the NAS drops off; the mount point is left, empty
            await eventually(lambda: _true(held(service) >= 1), NOTICED_S, "the pass held")
            assert await studio_ids(engine) == before  # nothing marked missing
            assert service.metrics.registry.get_sample_value("videolib_daemon_remounts_total")
            assert [h.directory_type for h in await MountRepository(engine).held()] == ["studios"]

            mount_bind(store, studios)  # back, without a restart
            await eventually(
                lambda: _no_holds(engine), NOTICED_S, "the held pass cleared by the remount"
            )
            assert await studio_ids(engine) == before  # 100 % valid, the same ids
            # Still watched: a drop into the share is listed by its events, not a pass.
            shutil.copyfile(make_video(source / "new.mp4", width=208), studios / "new.mp4")
            await eventually(lambda: row(engine, "studios/new.mp4"), 60, "a drop after it")


async def test_empty_tmpfs_over_a_folder_then_gone(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    studios = library_root / "studios"
    make_files(studios, source)
    async with running_service(fast(config), database_url) as service:
        before = await eventually(lambda: _valid(engine), 60, "the files listed")
        with tmpfs(studios, "1m"):  # an empty mount point over the folder
            await eventually(lambda: _true(held(service) >= 1), NOTICED_S, "the pass held")
            assert await studio_ids(engine) == before
        await eventually(lambda: _no_holds(engine), NOTICED_S, "the folder back")
        assert await studio_ids(engine) == before


async def test_restart_while_unmounted_marks_nothing(
    config: Config,
    database_url: URL,
    engine: AsyncEngine,
    library_root: Path,
    tmp_path: Path,
    source: Path,
) -> None:
    studios = library_root / "studios"
    with share_at(tmp_path / "share", studios) as store:
        make_files(store, source)
        async with running_service(fast(config), database_url):
            before = await eventually(lambda: _valid(engine), 60, "the share's files listed")
        unmount_lazily(studios)
        async with running_service(fast(config), database_url) as service:
            # running_service waited for the first pass: it saw the empty mount point.
            assert held(service) >= 1
            assert await studio_ids(engine) == before
            done = service.reconciled
            mount_bind(store, studios)
            await eventually(lambda: passes_after(service, done), NOTICED_S, "a pass after it")
            await eventually(lambda: _no_holds(engine), NOTICED_S, "the held pass cleared")
            assert await studio_ids(engine) == before
            # The daemon started watching the bare mount point: only a re-watch sees this.
            shutil.copyfile(make_video(source / "new.mp4", width=208), studios / "new.mp4")
            await eventually(lambda: row(engine, "studios/new.mp4"), 60, "a drop after it")


async def test_without_the_marker_nothing_is_marked_and_readyz_says_why(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, source: Path
) -> None:
    studios = library_root / "studios"
    make_files(studios, source)
    async with running_service(fast(config), database_url) as service:
        before = await eventually(lambda: _valid(engine), 60, "the files listed")
        marker = library_root / ".videolib-library"
        kept = marker.read_bytes()
        marker.unlink()

        async def not_ready() -> bool:
            return not service.readiness()[0]

        await eventually(not_ready, NOTICED_S, "readiness to drop")
        _ready, reason = service.readiness()
        assert "library not mounted" in reason and ".videolib-library" in reason
        gauge = service.metrics.registry.get_sample_value("videolib_daemon_library_mounted")
        assert gauge == 0
        (studios / FILES[0]).unlink()  # a delete event, and the next pass, mark nothing
        done = service.reconciled
        service._reconcile_now.set()
        await eventually(lambda: passes_after(service, done), 60, "a pass")
        assert await studio_ids(engine) == before
        marker.write_bytes(kept)
        await eventually(lambda: _true(service.readiness()[0]), NOTICED_S, "ready again")
        after = await eventually(lambda: _missing_one(engine), 60, "the deleted file marked")
        assert after == FILES[0]


async def _valid(engine: AsyncEngine) -> dict[str, tuple[uuid.UUID, bool, str | None]] | None:
    found = await studio_ids(engine)
    return found if all_valid(found) else None


async def _no_holds(engine: AsyncEngine) -> bool:
    return not await MountRepository(engine).held()


async def _true(value: bool) -> bool:
    return value


async def _missing_one(engine: AsyncEngine) -> str | None:
    gone = [
        p for p, (_i, valid, reason) in (await studio_ids(engine)).items() if reason == "missing"
    ]
    return gone[0].rsplit("/", 1)[-1] if gone else None
