"""Pure pieces of the job engine's use: the worker's path map, queue names, CLI errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from videolib.shared.config import load_config
from videolib.shared.errors import ConfigError
from videolib.shared.jobs.path_map import mapped_path, parse_path_map
from videolib.shared.jobs.registry import QUEUES, TASK_KINDS, kinds_of, parse_queues

WORKER = [sys.executable, "-m", "videolib.shared.commands.cli"]
MAP = {"videos": Path("/mnt/nas1/videos"), "videos/2024": Path("/mnt/fast/2024")}


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("videos/a.mp4", Path("/mnt/nas1/videos/a.mp4")),
        ("videos/2024/b.mp4", Path("/mnt/fast/2024/b.mp4")),  # the longest prefix wins
        ("videos/2024x/c.mp4", Path("/mnt/nas1/videos/2024x/c.mp4")),  # whole parts only
        ("playback/d.mp4", None),  # not mapped: under library.root
    ],
)
def test_mapped_path(stored: str, expected: Path | None) -> None:
    assert mapped_path(stored, MAP) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("videos=/mnt/v", {"videos": Path("/mnt/v")}),
        (
            " videos = /mnt/v ; playback/2024=/p ;",
            {"videos": Path("/mnt/v"), "playback/2024": Path("/p")},
        ),
    ],
)
def test_parse_path_map(text: str, expected: dict[str, Path]) -> None:
    assert parse_path_map(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("videos", "is not library-path=/local/directory"),
        ("/media/videos=/mnt/v", "must be a library path"),
        ("videos/../etc=/mnt/v", "must be a library path"),
        ("videos=mnt/v", "must be an absolute directory"),
        ("videos=/a; videos=/b", "mapped twice"),
    ],
)
def test_a_bad_path_map_says_which_entry(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_path_map(text)


def test_a_bad_path_map_in_the_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[worker]\npath_map = "videos=relative/dir"\n')
    with pytest.raises(ConfigError) as error:
        load_config(config, {"MEDIA_LIBRARY_PATH": str(tmp_path)})
    assert error.value.key == "worker.path_map"
    assert "must be an absolute directory" in error.value.message


def test_queues_and_kinds() -> None:
    assert parse_queues("thumbnails, maintenance,thumbnails") == ("thumbnails", "maintenance")
    assert parse_queues("") == ()
    assert kinds_of(()) == TASK_KINDS
    assert {k.queue for k in kinds_of(("thumbnails",))} == {"thumbnails"}
    assert {k.queue for k in kinds_of(("fingerprints",))} == {"fingerprints"}
    assert {k.name for k in kinds_of(("integrity",))} == {
        "plan_integrity",
        "verify_integrity_chunk",
    }
    assert {"thumbnails", "fingerprints", "maintenance", "validate", "integrity", "scans"} <= set(
        QUEUES
    )
    with pytest.raises(ValueError, match="unknown queue 'fast'"):
        parse_queues("fast")


@pytest.mark.parametrize(
    ("arguments", "config_text", "line"),
    [
        (["--queue", "fast"], "", "--queue = 'fast': unknown queue 'fast'"),
        (["--concurrency", "0"], "", "--concurrency = '0': expected a whole number >= 1"),
        ([], '[worker]\nqueues = "nope"\n', "worker.queues = 'nope': unknown queue"),
        ([], '[worker]\npath_map = "videos"\n', "worker.path_map = 'videos': entry"),
    ],
)
def test_worker_cli_errors_are_one_line_naming_the_argument_or_key(
    arguments: list[str], config_text: str, line: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    result = subprocess.run(
        [*WORKER, "--config", str(config), "worker", *arguments],
        env={"MEDIA_LIBRARY_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("videolib worker: "), result.stderr
    assert line in lines[0]
    assert "Traceback" not in result.stderr
