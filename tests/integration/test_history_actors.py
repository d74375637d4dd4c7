"""Who the history names (issue 11 §6): the process that wrote, when no admin did."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL

from tests.integration.test_cli import dsn, env, videolib
from tests.media import make_video

__all__ = ["env"]  # the fixture, shared with the CLI tests


async def test_a_cli_scan_is_recorded_as_cli(
    env: dict[str, str], database_url: URL, library_root: Path
) -> None:
    make_video(library_root / "videos" / "one.mp4")
    scanned = videolib("scan", "videos", env=env)
    assert scanned.returncode == 0, scanned.stderr
    connection = await asyncpg.connect(dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT e.kind, e.actor, v.path FROM video_events e JOIN videos v ON v.id = e.video_id"
        )
    finally:
        await connection.close()
    assert [(r["kind"], r["actor"], r["path"]) for r in rows] == [
        ("ingested", "cli", "videos/one.mp4")
    ]
