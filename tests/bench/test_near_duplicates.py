"""bench/near_duplicates.py on 3 short sources: it renders, caches and prints its table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.near_duplicate_clips import TRANSFORMATIONS

REPO = Path(__file__).resolve().parents[2]


def _run(cache: Path) -> str:
    command = [sys.executable, str(REPO / "bench" / "near_duplicates.py")]
    command += ["--sources", "3", "--seconds", "10", "--workers", "1", "--cache", str(cache)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.timeout(600)  # renders 27 clips: ~30 s, more on a busy machine
def test_the_benchmark_prints_recall_per_transformation_precision_and_cost(
    tmp_path: Path,
) -> None:
    output = _run(tmp_path)
    for transformation in TRANSFORMATIONS:
        row = re.search(rf"^{transformation} +(\d\.\d+) +0\.9\d +(\d+)/3 ", output, re.M)
        assert row is not None, output
        assert 0 <= float(row.group(1)) <= 1
    assert re.search(r"^precision +\d\.\d+ .* over \d+ pairs of distinct sources", output, re.M)
    assert re.search(
        r"^index recall +\d\.\d+: \d+/\d+ accepted pairs found by the route's shared keys",
        output,
        re.M,
    )
    assert re.search(r"^fingerprint cost \d+\.\d+ s CPU per minute of video", output, re.M)
    # 3 sources x (the original and 8 copies), kept for the next run.
    clips = sorted((tmp_path / "10s").glob("*.m*"))
    assert len(clips) == 3 * 9
    written = [clip.stat().st_mtime_ns for clip in clips]
    assert "index recall" in _run(tmp_path)
    assert [clip.stat().st_mtime_ns for clip in clips] == written  # measured, not rendered
