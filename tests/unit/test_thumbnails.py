"""Thumbnail pieces without a database: retry timing, names, rotation, the frame grab."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import av
import pytest

from tests.media import make_text_file_named, make_truncated_mp4, make_video
from videolib.shared.media.frames import rotation_filters, write_thumbnail
from videolib.shared.thumbnails import MAX_RETRY_SECONDS, retry_delay, thumbnail_name


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(1, 600.0), (2, 1200.0), (3, 2400.0), (8, 76800.0), (9, MAX_RETRY_SECONDS), (50, 86400.0)],
)
def test_retry_delay_doubles_up_to_a_day(attempts: int, expected: float) -> None:
    assert retry_delay(attempts, 600.0) == expected


def test_thumbnail_name_spreads_over_folders() -> None:
    video_id = uuid.UUID("3f2a0000-0000-0000-0000-000000000001")
    assert thumbnail_name(video_id) == "3f/3f2a0000-0000-0000-0000-000000000001.jpg"


@pytest.mark.parametrize(
    ("rotation", "filters"),
    [
        (0, []),
        (90, [("transpose", "clock")]),
        (-270, [("transpose", "clock")]),
        (180, [("hflip", ""), ("vflip", "")]),
        (270, [("transpose", "cclock")]),
        (-90, [("transpose", "cclock")]),
    ],
)
def test_rotation_filters(rotation: int, filters: list[tuple[str, str]]) -> None:
    assert rotation_filters(rotation) == filters


def jpeg_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


@pytest.mark.parametrize(
    ("coded", "rotation", "expected"),
    [
        ((640, 360), 0, (320, 180)),
        ((640, 360), 90, (320, 568)),  # a phone clip: portrait as shown, not as coded
        ((640, 360), 270, (320, 568)),
        ((640, 360), 180, (320, 180)),
        ((160, 120), 0, (320, 240)),  # small sources are scaled up to the width
    ],
)
def test_thumbnail_keeps_the_displayed_orientation(
    tmp_path: Path, coded: tuple[int, int], rotation: int, expected: tuple[int, int]
) -> None:
    width, height = coded
    source = make_video(
        tmp_path / "clip.mp4", width=width, height=height, seconds=2, rotation=rotation
    )
    target = tmp_path / "out" / "ab" / "thumb.jpg"
    result = write_thumbnail(str(source), str(target), 320)
    assert result.error is None
    assert (result.width, result.height) == expected
    assert target.read_bytes()[:2] == b"\xff\xd8"
    assert jpeg_size(target) == expected
    assert [p.name for p in target.parent.iterdir()] == ["thumb.jpg"]  # no temp file left


def test_thumbnail_of_webm_and_avi(tmp_path: Path) -> None:
    for name, codec in (("a.webm", "vp9"), ("b.avi", "mpeg4")):
        source = make_video(tmp_path / name, codec=codec, width=160, height=120, audio=False)
        assert write_thumbnail(str(source), str(tmp_path / f"{name}.jpg"), 320).error is None


@pytest.mark.parametrize("maker", [make_truncated_mp4, make_text_file_named])
def test_bad_file_gives_a_reason_and_no_file(tmp_path: Path, maker: object) -> None:
    source = maker(tmp_path / "bad.mp4")  # type: ignore[operator]
    target = tmp_path / "out" / "bad.jpg"
    result = write_thumbnail(str(source), str(target), 320)
    assert result.error
    assert not target.exists()


def test_missing_file_gives_a_reason(tmp_path: Path) -> None:
    result = write_thumbnail(str(tmp_path / "gone.mp4"), str(tmp_path / "x.jpg"), 320)
    assert result.error == "No such file or directory"


def top_bright_video(path: Path, rotation: int) -> Path:
    """A clip whose coded picture is white in its top half and black below."""
    width, height = 64, 32
    with av.open(str(path), "w") as container:
        stream: Any = container.add_stream("h264", rate=5, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(-rotation)  # FFmpeg's angle is counter-clockwise
        for index in range(5):
            frame = av.VideoFrame(width, height, "yuv420p")
            luma, *chroma = frame.planes
            half = luma.line_size * (height // 2)
            luma.update(bytes([235]) * half + bytes([16]) * (luma.buffer_size - half))
            for plane in chroma:
                plane.update(bytes([128]) * plane.buffer_size)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def bright_side(jpeg: Path) -> str:
    """Which edge of the picture is the bright one: top, bottom, left or right."""
    with av.open(str(jpeg)) as container:
        frame = next(container.decode(video=0)).reformat(format="gray")
    plane = frame.planes[0]
    rows = [
        bytes(plane)[y * plane.line_size : y * plane.line_size + frame.width]
        for y in range(frame.height)
    ]
    edges = {
        "top": sum(rows[0]),
        "bottom": sum(rows[-1]),
        "left": sum(row[0] for row in rows) * frame.width // frame.height,
        "right": sum(row[-1] for row in rows) * frame.width // frame.height,
    }
    return max(edges, key=lambda edge: edges[edge])


@pytest.mark.parametrize(
    # A player turning the picture clockwise by `rotation` moves the top edge here.
    ("rotation", "edge"),
    [(0, "top"), (90, "right"), (180, "bottom"), (270, "left")],
)
def test_thumbnail_is_turned_the_way_a_player_turns_it(
    tmp_path: Path, rotation: int, edge: str
) -> None:
    source = top_bright_video(tmp_path / "clip.mp4", rotation)
    target = tmp_path / "thumb.jpg"
    assert write_thumbnail(str(source), str(target), 320).error is None
    assert bright_side(target) == edge
