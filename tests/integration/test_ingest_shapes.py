"""A scan records real-world shapes right: a faststart mp4 cut short is corrupt (ISSUE12 item 1)."""

from __future__ import annotations

import dataclasses
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.media_shapes import make_anamorphic, make_cut_faststart_mp4, make_offset_clip
from videolib.shared.config import Config
from videolib.shared.db.repository import VideoRepository
from videolib.shared.db.schema import videos
from videolib.shared.ingest import scan
from videolib.shared.library import Library
from videolib.shared.runtime import examiner_pool


async def _scan_videos(config: Config, repository: VideoRepository) -> dict[str, dict[str, object]]:
    async with examiner_pool(config) as pool:
        await scan(
            ["videos"],
            library=Library.from_config(config),
            repository=repository,
            pool=pool,
            skip_existing=True,
        )
    async with repository.engine.connect() as connection:
        result = await connection.execute(select(videos))
    return {row.path: dict(row._mapping) for row in result}


@pytest.mark.parametrize("backend", ["pyav", "ffprobe"])
async def test_scan_records_a_cut_faststart_mp4_corrupt_with_the_missing_bytes(
    config: Config, repository: VideoRepository, library_root: Path, backend: str
) -> None:
    if backend == "ffprobe" and shutil.which("ffprobe") is None:
        pytest.skip("ffprobe not installed")
    config = dataclasses.replace(config, probe=dataclasses.replace(config.probe, backend=backend))
    folder = library_root / "videos"
    cut = make_cut_faststart_mp4(folder / "interrupted copy.mp4", cut_bytes=4096)
    make_cut_faststart_mp4(folder / "whole.mp4", cut_bytes=0)
    make_offset_clip(folder / "from the recording.mp4")
    make_anamorphic(folder / "pal.mkv", size=(720, 576), sample_aspect=Fraction(64, 45))

    recorded = await _scan_videos(config, repository)

    row = recorded["videos/interrupted copy.mp4"]
    assert (row["is_valid"], row["invalid_reason"]) == (False, "corrupt")
    assert row["probe_error"] == (
        f"truncated: the sample table needs {cut.stat().st_size + 4096} bytes,"
        f" the file has {cut.stat().st_size} (4096 bytes missing)"
    )
    # Recorded, not lost: its size and hash are kept beside the reason.
    assert row["file_size"] == cut.stat().st_size and row["file_hash"]
    assert recorded["videos/whole.mp4"]["is_valid"] is True
    offset = recorded["videos/from the recording.mp4"]
    assert (offset["is_valid"], offset["duration_seconds"]) == (True, 2)
    pal = recorded["videos/pal.mkv"]
    assert (pal["width"], pal["height"]) == (1024, 576)
