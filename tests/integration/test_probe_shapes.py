"""probe() on real-world file shapes (ISSUE12 item 1): right on both backends, and the same.

Each shape is one that Debian's ffprobe 5.1 and PyAV's FFmpeg 8 would read differently,
or both wrongly, if the choice were left to them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from tests.media_shapes import (
    make_anamorphic,
    make_cut_faststart_mp4,
    make_live_webm,
    make_mkv_with_cover,
    make_mp4_with_cover,
    make_offset_clip,
    make_two_video_tracks,
)
from videolib.shared.errors import ProbeError
from videolib.shared.media.probe import Metadata, probe, run_ffprobe

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
MKV = "matroska,webm"

Maker = Callable[[Path], Path]

# shape: (file name, maker, (duration, width, height, orientation, quality, codec, container))
SHAPES: dict[str, tuple[str, Maker, tuple[int, int, int, str, str, str, str]]] = {
    # A 2 s clip whose timestamps start at 3600 s: 2 s, not 3602 s.
    "offset_mp4": ("offset.mp4", make_offset_clip, (2, 320, 240, "landscape", "SD", "h264", MP4)),
    "offset_mkv": ("offset.mkv", make_offset_clip, (2, 320, 240, "landscape", "SD", "h264", MKV)),
    "offset_ts": (
        "offset.ts",
        make_offset_clip,
        (2, 320, 240, "landscape", "SD", "h264", "mpegts"),
    ),
    "offset_flv": ("offset.flv", make_offset_clip, (2, 320, 240, "landscape", "SD", "h264", "flv")),
    # The second track is the default: it describes the file, not the first.
    "second_track_default_mp4": (
        "two.mp4",
        lambda p: make_two_video_tracks(p, sizes=((160, 120), (320, 240)), default=1),
        (1, 320, 240, "landscape", "SD", "h264", MP4),
    ),
    # The default wins over a larger track.
    "smaller_default_mkv": (
        "two.mkv",
        lambda p: make_two_video_tracks(p, sizes=((320, 240), (160, 120)), default=1),
        (1, 160, 120, "landscape", "SD", "h264", MKV),
    ),
    # A 600x600 cover is never the video, first or last.
    "mp4_cover_last": (
        "cover-last.mp4",
        lambda p: make_mp4_with_cover(p, cover_first=False),
        (1, 320, 240, "landscape", "SD", "h264", MP4),
    ),
    "mp4_cover_first": (
        "cover-first.mp4",
        lambda p: make_mp4_with_cover(p, cover_first=True),
        (1, 320, 240, "landscape", "SD", "h264", MP4),
    ),
    "mkv_cover_attachment": (
        "cover.mkv",
        make_mkv_with_cover,
        (1, 320, 240, "landscape", "SD", "h264", MKV),
    ),
    # 720x576 at SAR 64:45 (PAL 16:9) shows as 1024x576.
    "anamorphic_mp4": (
        "pal.mp4",
        lambda p: make_anamorphic(p, size=(720, 576), sample_aspect=Fraction(64, 45)),
        (1, 1024, 576, "landscape", "SD", "h264", MP4),
    ),
    "anamorphic_mkv": (
        "pal.mkv",
        lambda p: make_anamorphic(p, size=(720, 576), sample_aspect=Fraction(64, 45)),
        (1, 1024, 576, "landscape", "SD", "h264", MKV),
    ),
    # Square by its coded size, landscape as shown (1440x1080 HDV at 4:3 pixels: 1920x1080).
    "anamorphic_hdv": (
        "hdv.mkv",
        lambda p: make_anamorphic(p, size=(1440, 1080), sample_aspect=Fraction(4, 3)),
        (1, 1920, 1080, "landscape", "FHD", "h264", MKV),
    ),
    # A MediaRecorder-like WebM: no duration in its header, 3 s of packets.
    "live_webm": ("live.webm", make_live_webm, (3, 160, 120, "landscape", "SD", "vp8", MKV)),
}


def _ffprobe_or_skip() -> str:
    """The ffprobe binary; skip on a laptop without one, never in CI (STYLE)."""
    found = shutil.which("ffprobe")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("ffprobe is required in CI")
        pytest.skip("ffprobe not installed")
    return found


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shapes")
    return {shape: maker(folder / name) for shape, (name, maker, _) in SHAPES.items()}


def _expected(shape: str) -> Metadata:
    duration, width, height, orientation, quality, codec, container = SHAPES[shape][2]
    return Metadata(duration, width, height, orientation, quality, False, codec, container)


@pytest.mark.parametrize("backend", ["pyav", "ffprobe"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shape_metadata(shapes: dict[str, Path], shape: str, backend: str) -> None:
    binary = _ffprobe_or_skip() if backend == "ffprobe" else None
    assert probe(shapes[shape], backend=backend, ffprobe_path=binary) == _expected(shape)


def test_offset_mp4_is_read_differently_by_the_libraries(shapes: dict[str, Path]) -> None:
    # Why the rule is ours: ffprobe 5.1 counts the start in the format duration.
    report = run_ffprobe(shapes["offset_mp4"], _ffprobe_or_skip(), 10.0)
    assert float(report["format"]["start_time"]) == pytest.approx(3600)
    assert float(report["format"]["duration"]) == pytest.approx(3602)


def test_live_webm_has_no_duration_in_its_header(shapes: dict[str, Path]) -> None:
    report = run_ffprobe(shapes["live_webm"], _ffprobe_or_skip(), 10.0)
    assert "duration" not in report["format"]
    assert all("duration" not in stream for stream in report["streams"])


def test_mp4_cover_first_is_stream_zero(shapes: dict[str, Path]) -> None:
    # The shape is what it claims: the cover is stream 0 and the larger picture.
    report = run_ffprobe(shapes["mp4_cover_first"], _ffprobe_or_skip(), 10.0)
    cover = report["streams"][0]
    assert cover["disposition"]["attached_pic"] == 1
    assert (cover["width"], cover["height"]) == (600, 600)


@pytest.mark.parametrize("backend", ["pyav", "ffprobe"])
def test_faststart_mp4_cut_short_is_corrupt_naming_the_missing_bytes(
    tmp_path: Path, backend: str
) -> None:
    binary = _ffprobe_or_skip() if backend == "ffprobe" else None
    path = make_cut_faststart_mp4(tmp_path / "cut.mp4", cut_bytes=1000)
    size = path.stat().st_size
    with pytest.raises(ProbeError) as raised:
        probe(path, backend=backend, ffprobe_path=binary)
    assert raised.value.invalid_reason == "corrupt"
    assert raised.value.reason == (
        f"truncated: the sample table needs {size + 1000} bytes, the file has {size}"
        " (1000 bytes missing)"
    )


@pytest.mark.parametrize("backend", ["pyav", "ffprobe"])
def test_whole_faststart_mp4_and_one_with_a_trailer_are_valid(tmp_path: Path, backend: str) -> None:
    binary = _ffprobe_or_skip() if backend == "ffprobe" else None
    whole = make_cut_faststart_mp4(tmp_path / "whole.mp4", cut_bytes=0)
    assert probe(whole, backend=backend, ffprobe_path=binary).duration_seconds == 2
    # Bytes after the last chunk (a tag, a copy made unique) are not a cut.
    with whole.open("ab") as file:
        file.write(b"trailer" * 100)
    assert probe(whole, backend=backend, ffprobe_path=binary).duration_seconds == 2
