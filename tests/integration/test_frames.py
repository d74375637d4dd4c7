"""The frame grab on files whose timestamps start far from zero: the frame at 10 % of the
content, counted from its start, not the first frame (issue 12)."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from tests.corpus import make_offset_clip, second_luma
from tests.media_shapes import make_two_video_tracks
from videolib.shared.media.frame_hashes import compute_frame_hashes
from videolib.shared.media.frames import POSITION, write_frame_at, write_thumbnail

SECONDS = 10


def mean_luma(jpeg: Path) -> tuple[tuple[int, int], float]:
    """The JPEG's size and its mean luma, on the limited range the clip was coded in."""
    with av.open(str(jpeg)) as container:
        frame = next(container.decode(video=0))
    plane = frame.planes[0]
    data = bytes(plane)
    rows = [
        data[y * plane.line_size : y * plane.line_size + frame.width] for y in range(frame.height)
    ]
    full_range = sum(map(sum, rows)) / (frame.width * frame.height)  # the JPEG's 0..255
    return (frame.width, frame.height), 16 + full_range * 219 / 255


@pytest.mark.parametrize(
    ("muxer", "suffix"), [("flv", ".flv"), ("mpegts", ".ts"), ("matroska", ".mkv"), ("mp4", ".mp4")]
)
@pytest.mark.parametrize("start_seconds", [3600, 36_000])
def test_a_clip_starting_late_gets_the_frame_at_its_tenth(
    tmp_path: Path, muxer: str, suffix: str, start_seconds: int
) -> None:
    source = make_offset_clip(
        tmp_path / f"cut{suffix}", muxer=muxer, start_seconds=start_seconds, seconds=SECONDS
    )
    with av.open(str(source)) as container:  # the shape: it starts late (within a frame)
        assert container.start_time / 1e6 == pytest.approx(start_seconds, abs=0.1)
    target = tmp_path / "thumb.jpg"
    result = write_thumbnail(str(source), str(target), 160)
    assert result.error is None
    size, luma = mean_luma(target)
    assert size == (result.width, result.height) == (160, 120)
    # Each second of the clip has its own grey: the thumbnail's says which one it shows.
    shown = min(range(SECONDS), key=lambda second: abs(second_luma(second) - luma))
    assert shown == int(SECONDS * POSITION)  # second 1, not the first frame's second 0


@pytest.mark.parametrize(("muxer", "suffix"), [("flv", ".flv"), ("mpegts", ".ts")])
@pytest.mark.parametrize("position", [0.0, 0.5, 0.95])
def test_a_strip_frame_of_a_clip_starting_late_is_at_its_position(
    tmp_path: Path, muxer: str, suffix: str, position: float
) -> None:
    # The page's strip of frames (h12-play) seeks the same way as the thumbnail.
    source = make_offset_clip(tmp_path / f"cut{suffix}", muxer=muxer, start_seconds=3600)
    target = tmp_path / "frame.jpg"
    assert write_frame_at(str(source), str(target), position, 160).error is None
    _, luma = mean_luma(target)
    shown = min(range(SECONDS), key=lambda second: abs(second_luma(second) - luma))
    assert shown == int(SECONDS * position)


@pytest.mark.parametrize(
    ("name", "sizes", "shown"),
    [
        # The default second track is the one the probe describes: 4:3 at 320 wide...
        ("two.mp4", ((160, 90), (320, 240)), (160, 120)),
        # ...and a smaller default beats a larger first track.
        ("two.mkv", ((320, 180), (160, 120)), (160, 120)),
    ],
)
def test_pictures_come_from_the_stream_the_probe_describes(
    tmp_path: Path,
    name: str,
    sizes: tuple[tuple[int, int], tuple[int, int]],
    shown: tuple[int, int],
) -> None:
    clip = make_two_video_tracks(tmp_path / name, sizes=sizes, default=1)
    jpeg = tmp_path / "thumb.jpg"
    result = write_thumbnail(str(clip), str(jpeg), 160)
    assert result.error is None
    # A 16:9 first track would give 160x90: the thumbnail is of the 4:3 default track.
    assert (result.width, result.height) == shown
    assert compute_frame_hashes(str(clip)).seconds  # hashes read the same stream, and work
