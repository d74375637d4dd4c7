"""`videolib run --demo`: a dozen generated clips, recorded with the shapes they were made in."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.ops.test_second_terminal import Terminal, get_json, stop, wait_for
from videolib.shared.demo import DEMO_CLIPS, add_demo_clips
from videolib.shared.library import Library

#: path -> (orientation, quality, hasAudio) the API must show for each valid clip.
EXPECTED = {
    "studios/harbour-at-dawn.mp4": ("landscape", "FHD", True),
    "videos/phone-clip.mp4": ("portrait", "FHD", True),  # coded 1920x1080, rotated 90
    "highlights/aerial-4k.mp4": ("landscape", "UHD", True),
    "curated/square-loop.mp4": ("square", "HD", True),
    "videos/portrait-story.mp4": ("portrait", "HD", True),
    "gifs/silent-loop.mp4": ("landscape", "SD", False),
    "playback/interview.mkv": ("landscape", "HD", True),
    "compilations/reel.webm": ("landscape", "SD", True),
    "private/archive.mov": ("landscape", "SD", False),
    "studios/rooftop-take.mp4": ("landscape", "HD", True),
    "videos/rooftop-take-copy.mp4": ("landscape", "HD", True),
}
CORRUPT = "videos/broken-upload.mp4"


def test_demo_clips_are_added_once(tmp_path: Path) -> None:
    library = Library(tmp_path / "library", tmp_path / "library" / "inbox")
    assert add_demo_clips(library) == [clip.path for clip in DEMO_CLIPS]
    files = sorted(p for p in library.root.rglob("*") if p.is_file())
    assert [p.relative_to(library.root).as_posix() for p in files] == sorted(
        [*EXPECTED, CORRUPT]
    )  # and no hidden temporary left beside them
    written = {p: p.stat().st_mtime_ns for p in files}
    assert add_demo_clips(library) == []
    assert {p: p.stat().st_mtime_ns for p in files} == written
    copy, original = (library.absolute(p) for p in ("videos/rooftop-take-copy.mp4",
                                                     "studios/rooftop-take.mp4"))  # fmt: skip
    assert copy.read_bytes() == original.read_bytes()


def test_run_demo_lists_the_demo_library(run_home: Path) -> None:
    terminal = Terminal(run_home)
    run = terminal.start("run", "--demo")
    try:
        assert run.stdout is not None
        run.stdout.readline()
        token = run.stdout.readline().split()[-1]
        videos = f"http://127.0.0.1:{terminal.port}/api/media/videos"

        def all_listed() -> bool:
            try:
                return bool(get_json(f"{videos}?limit=50", token)["pagination"]["total"] == 11)
            except OSError:
                return False

        wait_for(all_listed, 90, "the eleven valid demo clips are listed")
        listed = get_json(f"{videos}?limit=50", token)["data"]
        shapes = {v["path"]: (v["orientation"], v["quality"], v["hasAudio"]) for v in listed}
        assert shapes == EXPECTED
        [corrupt] = get_json(f"{videos}?isValid=false", token)["data"]
        assert corrupt["path"] == CORRUPT and corrupt["invalidReason"]
        [pair] = get_json(f"{videos}/duplicates", token)["data"]
        assert sorted(v["path"] for v in pair["videos"]) == [
            "studios/rooftop-take.mp4",
            "videos/rooftop-take-copy.mp4",
        ]
    finally:
        code = stop(run, signal.SIGINT)
    assert code == 0, terminal.log("run")
