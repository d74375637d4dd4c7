"""bench/scale.py's library: rows and files that a reconciliation finds unchanged."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL

from bench.scale import inotify_watches, make_files, seed_rows
from videolib.shared.config import Config
from videolib.shared.db.repository import VideoRepository
from videolib.shared.ingest import scan
from videolib.shared.library import Library
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.runtime import examiner_pool


async def test_every_file_matches_its_row_so_a_scan_reads_none(
    config: Config, repository: VideoRepository, database_url: URL, library_root: Path
) -> None:
    # 100 folders: every one of the interleaved type slots is used once.
    db = await asyncpg.connect(database_url.set(drivername="postgresql").render_as_string(False))
    try:
        await seed_rows(db, 600, 100)
        made, folders, _ = await make_files(db, library_root, 400)
        counts = await db.fetchrow(
            "SELECT count(*) FILTER (WHERE is_valid) AS valid, count(*) AS rows,"
            " count(DISTINCT directory_type) AS types, count(DISTINCT quality) AS qualities,"
            " count(DISTINCT orientation) AS shapes,"
            " count(*) FILTER (WHERE directory_type = 'inbox') AS in_inbox FROM videos"
        )
        gone = await db.fetchval("SELECT count(*) FROM videos WHERE NOT is_valid")
    finally:
        await db.close()
    assert counts is not None
    assert made == 400 and 0 < folders <= 100
    # Valid rows beyond the files were removed; missing and deleted ones have no file.
    assert (counts["valid"], counts["rows"]) == (400, 400 + gone)
    assert (counts["types"], counts["qualities"], counts["shapes"]) == (8, 4, 3)
    assert counts["in_inbox"] == 0  # the daemon would move them
    on_disk = list(library_root.rglob("*.mp4"))
    assert len(on_disk) == 400 and all(p.stat().st_blocks == 0 for p in on_disk)  # sparse

    async with examiner_pool(config) as pool:
        result = await scan(
            list(DIRECTORY_TYPES),
            library=Library.from_config(config),
            repository=repository,
            pool=pool,
        )
    assert (result.scanned, result.skipped) == (400, 400)
    assert (result.created, result.updated, result.missing, result.failed) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("before", "needed", "inside"),
    [(8192, 60_000, 60_000), (524_288, 60_000, 524_288), (60_000, 60_000, 60_000)],
)
def test_watch_limit_is_raised_only_when_short_and_put_back(
    tmp_path: Path, before: int, needed: int, inside: int
) -> None:
    setting = tmp_path / "max_user_watches"
    setting.write_text(f"{before}\n")
    with pytest.raises(RuntimeError), inotify_watches(needed, setting):
        assert int(setting.read_text()) == inside
        raise RuntimeError("the benchmark failed")  # restored all the same
    assert int(setting.read_text()) == before
