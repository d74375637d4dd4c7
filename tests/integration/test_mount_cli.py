"""`videolib init`, `videolib scan` over an unmounted folder, `videolib reconcile`."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL

from tests.integration.test_cli import SECRET, dsn, videolib
from tests.media import make_video
from tests.mounts import tmpfs
from videolib.shared.db.engine import open_engine
from videolib.shared.db.schema import videos


@pytest.fixture
def env(database_url: URL, library_root: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": dsn(database_url),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "JWT_SECRET": SECRET,
        "VIDEOLIB_LOG_LEVEL": "warning",
    }


def states(url: URL) -> dict[str, tuple[str, bool, str | None]]:
    async def read() -> dict[str, tuple[str, bool, str | None]]:
        async with open_engine(url, pool_size=1) as engine, engine.connect() as connection:
            result = await connection.execute(
                select(videos.c.path, videos.c.id, videos.c.is_valid, videos.c.invalid_reason)
            )
            return {r.path: (str(r.id), r.is_valid, r.invalid_reason) for r in result}

    return asyncio.run(read())


def fill(folder: Path, count: int, source: Path) -> None:
    original = make_video(source / "one.mp4")
    for number in range(count):
        copy = folder / f"v{number}.mp4"
        shutil.copyfile(original, copy)
        with copy.open("ab") as out:  # a distinct hash each: not one content many times
            out.write(number.to_bytes(4, "big"))


def test_scan_over_an_empty_mount_point_holds_and_marks_nothing(
    env: dict[str, str],
    library_root: Path,
    database_url: URL,
    tmp_path: Path,
) -> None:
    fill(library_root / "studios", 3, tmp_path)
    assert videolib("scan", "studios", env=env).returncode == 0
    before = states(database_url)
    with tmpfs(library_root / "studios", "1m"):  # the share's mount point, empty
        held = videolib("scan", "studios", env=env)
    assert held.returncode == 1, held.stdout + held.stderr
    assert "- Marked 0 vanished files missing" in held.stdout
    assert "- Held 3 missing marks of studios (the folder is on device" in held.stdout
    assert "videolib reconcile --apply-missing studios" in held.stdout
    assert states(database_url) == before  # nothing lost
    listed = videolib("reconcile", env=env)
    assert "studios: 3 of 3 held (unmounted)" in listed.stdout


def test_mass_missing_is_held_then_applied_by_reconcile(
    env: dict[str, str],
    library_root: Path,
    database_url: URL,
    tmp_path: Path,
) -> None:
    fill(library_root / "videos", 4, tmp_path)
    (library_root / "videos" / "notes.txt").write_text("stays: not an empty folder")
    small = tmp_path / "small-limits.toml"
    small.write_text("[daemon]\nmax_missing_fraction = 0.5\nmin_missing_files = 2\n")
    mass = {**env, "VIDEOLIB_CONFIG": str(small)}
    assert videolib("scan", "videos", env=mass).returncode == 0
    for number in range(3):
        (library_root / "videos" / f"v{number}.mp4").unlink()

    held = videolib("scan", "videos", env=mass)
    assert held.returncode == 1
    assert "3 of 4 records (75%) would be marked missing" in held.stdout
    assert sum(not valid for _i, valid, _r in states(database_url).values()) == 0

    applied = videolib("reconcile", "--apply-missing", "videos", env=mass)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "videos: marked 3 vanished files missing" in applied.stdout
    after = states(database_url)
    assert sorted(p for p, (_i, _v, r) in after.items() if r == "missing") == [
        f"videos/v{n}.mp4" for n in range(3)
    ]
    assert "no held passes" in videolib("reconcile", env=mass).stdout


def test_reconcile_names_a_bad_type(env: dict[str, str]) -> None:
    bad = videolib("reconcile", "--apply-missing", "movies", env=env)
    assert bad.returncode == 2
    assert "--apply-missing = 'movies': one of studios" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_init_writes_the_marker_and_refuses_an_empty_mount_point(
    env: dict[str, str],
    library_root: Path,
    tmp_path: Path,
) -> None:
    marker = library_root / ".videolib-library"
    marker.unlink()
    first = videolib("init", env=env)
    assert first.returncode == 0, first.stderr
    assert "wrote" in first.stdout and marker.exists()
    library_id = first.stdout.split()[1].rstrip(":")
    assert library_id in marker.read_text()
    assert "kept" in videolib("init", env=env).stdout  # idempotent

    fill(library_root / "videos", 1, tmp_path)
    assert videolib("scan", "videos", env=env).returncode == 0
    (library_root / "videos" / "v0.mp4").unlink()
    marker.unlink()  # now: records, every folder empty, no marker: a share not mounted
    refused = videolib("init", env=env)
    assert refused.returncode == 2
    assert "is the share mounted?" in refused.stderr and not marker.exists()
    forced = videolib("init", "--force", env=env)
    assert forced.returncode == 0 and library_id in marker.read_text()  # the same library
