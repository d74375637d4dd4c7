"""The extended corpus (tests/corpus.py): each file is its shape, probes right on both
backends, and gets a thumbnail of the shape a player shows."""

from __future__ import annotations

import itertools
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import av
import pytest

from tests.corpus import AV1_ENCODERS
from videolib.shared.media.frames import write_thumbnail
from videolib.shared.media.probe import Metadata, probe, run_ffprobe

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
MKV = "matroska,webm"

# case: (duration_seconds, width, height, orientation, quality, has_audio, codec, container)
EXPECTED: dict[str, tuple[int, int, int, str, str, bool, str, str]] = {
    "hevc_8bit_mp4": (1, 320, 240, "landscape", "SD", True, "hevc", MP4),
    "hevc_10bit_mp4": (1, 240, 320, "portrait", "SD", True, "hevc", MP4),  # turned 90
    "hevc_8bit_mkv": (1, 320, 240, "landscape", "SD", True, "hevc", MKV),
    "hevc_10bit_mkv": (1, 320, 240, "landscape", "SD", False, "hevc", MKV),
    "fragmented_mp4": (1, 320, 240, "landscape", "SD", True, "h264", MP4),
    "cmaf_video_track": (2, 320, 240, "landscape", "SD", False, "h264", MP4),
    "prores_mov": (1, 320, 240, "landscape", "SD", True, "prores", MP4),
    "mpeg2_ps": (1, 768, 576, "landscape", "SD", True, "mpeg2video", "mpeg"),  # 4:3
    "mpeg2_ts": (1, 1024, 576, "landscape", "SD", True, "mpeg2video", "mpegts"),  # 16:9
    "vp9_alpha_webm": (1, 160, 120, "landscape", "SD", False, "vp9", MKV),
    "h264_1080i_m2ts": (1, 1920, 1080, "landscape", "FHD", True, "h264", "mpegts"),
    "variable_frame_rate": (2, 320, 240, "landscape", "SD", True, "h264", MP4),  # 1.99 s
    "one_frame": (0, 320, 240, "landscape", "SD", False, "h264", MP4),  # 0.1 s
    "two_hours_1fps": (7200, 160, 90, "landscape", "SD", False, "h264", MP4),
    "timecode_mov": (1, 320, 240, "landscape", "SD", True, "h264", MP4),
    "av1_mp4": (1, 320, 240, "landscape", "SD", True, "av1", MP4),
    "av1_webm": (1, 320, 240, "landscape", "SD", True, "av1", MKV),
}

# What makes each file the shape it is named for, as ffprobe reports it: "video.x" is the
# video stream's field x, "data." the first data stream's, "format." the format's; "boxes"
# the mp4's top-level boxes, "frame_steps_ms" the times between frames. Checked so that the
# corpus cannot quietly lose a shape (an encoder option renamed in a PyAV upgrade, say)
# while the probe tests still pass.
SHAPE_FACTS: dict[str, dict[str, object]] = {
    "hevc_8bit_mp4": {"video.codec_tag_string": "hvc1", "video.pix_fmt": "yuv420p"},
    "hevc_10bit_mp4": {"video.pix_fmt": "yuv420p10le", "video.rotation": -90},
    "hevc_8bit_mkv": {"video.codec_name": "hevc", "video.pix_fmt": "yuv420p"},
    "hevc_10bit_mkv": {"video.pix_fmt": "yuv420p10le"},
    "fragmented_mp4": {"boxes": {"ftyp", "moov", "moof", "mdat"}},
    "cmaf_video_track": {
        "boxes": {"ftyp", "moov", "moof", "mdat"},
        "format.tags.compatible_brands": "iso6cmfcmp41",
        "format.nb_streams": 1,
    },
    "prores_mov": {"video.codec_name": "prores", "video.pix_fmt": "yuv422p10le"},
    "mpeg2_ps": {"format.format_name": "mpeg", "video.sample_aspect_ratio": "16:15"},
    "mpeg2_ts": {"format.format_name": "mpegts", "video.sample_aspect_ratio": "64:45"},
    "vp9_alpha_webm": {"video.tags.alpha_mode": "1"},
    "h264_1080i_m2ts": {"video.field_order": "tt", "video.height": 1080},
    "variable_frame_rate": {"video.nb_frames": "40", "frame_steps_ms": {33, 100}},
    "one_frame": {"video.nb_frames": "1"},
    "two_hours_1fps": {"video.nb_frames": "7200", "video.r_frame_rate": "1/1"},
    "timecode_mov": {"data.codec_tag_string": "tmcd", "data.tags.timecode": "01:00:00:00"},
    "av1_mp4": {"video.codec_name": "av1"},
    "av1_webm": {"video.codec_name": "av1"},
}

# case: the thumbnail's size at 160 px wide: the shape shown, not the pixels stored.
THUMBNAIL_SIZES: dict[str, tuple[int, int]] = {
    **{case: (160, 120) for case in EXPECTED},
    "hevc_10bit_mp4": (160, 214),
    "mpeg2_ps": (160, 120),  # 768x576, not the 160x128 of the coded 720x576
    "mpeg2_ts": (160, 90),  # 1024x576
    "h264_1080i_m2ts": (160, 90),
    "two_hours_1fps": (160, 90),
}


def cases() -> list[str]:
    """The case names, in a stable order."""
    return sorted(EXPECTED)


def ffprobe_or_skip() -> str:
    """The ffprobe binary; skip on a laptop without one, never in CI (STYLE)."""
    found = shutil.which("ffprobe")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("ffprobe is required in CI")
        pytest.skip("ffprobe not installed")
    return found


def corpus_file(corpus: dict[str, Path], case: str) -> Path:
    """The case's file; an AV1 case skips, with the reason, where PyAV has no AV1 encoder."""
    if case not in corpus and case.startswith("av1"):
        pytest.skip(f"PyAV's FFmpeg has no AV1 encoder (looked for {', '.join(AV1_ENCODERS)})")
    return corpus[case]


def test_the_corpus_has_every_case(extended_corpus: dict[str, Path]) -> None:
    av1 = {case for case in EXPECTED if case.startswith("av1")}
    assert set(extended_corpus) in (set(EXPECTED), set(EXPECTED) - av1)
    assert set(SHAPE_FACTS) == set(THUMBNAIL_SIZES) == set(EXPECTED)


@pytest.mark.parametrize("case", cases())
def test_pyav_metadata(extended_corpus: dict[str, Path], case: str) -> None:
    assert probe(corpus_file(extended_corpus, case)) == Metadata(*EXPECTED[case])


@pytest.mark.parametrize("case", cases())
def test_ffprobe_gives_the_same_metadata(extended_corpus: dict[str, Path], case: str) -> None:
    path = corpus_file(extended_corpus, case)
    from_ffprobe = probe(path, backend="ffprobe", ffprobe_path=ffprobe_or_skip())
    assert from_ffprobe == probe(path, backend="pyav") == Metadata(*EXPECTED[case])


@pytest.mark.parametrize("case", cases())
def test_each_file_is_its_shape(extended_corpus: dict[str, Path], case: str) -> None:
    path = corpus_file(extended_corpus, case)
    report = run_ffprobe(path, ffprobe_or_skip(), 10.0)
    found = {selector: fact_of(report, path, selector) for selector in SHAPE_FACTS[case]}
    assert found == SHAPE_FACTS[case]


@pytest.mark.parametrize("case", cases())
def test_each_file_gets_a_thumbnail_of_its_shown_shape(
    extended_corpus: dict[str, Path], case: str, tmp_path: Path
) -> None:
    target = tmp_path / "thumb.jpg"
    result = write_thumbnail(str(corpus_file(extended_corpus, case)), str(target), 160)
    assert result.error is None
    assert (result.width, result.height) == THUMBNAIL_SIZES[case]
    with av.open(str(target)) as jpeg:
        codec = jpeg.streams.video[0].codec_context.name
        frame = next(jpeg.decode(video=0))
    assert (codec, frame.width, frame.height) == ("mjpeg", *THUMBNAIL_SIZES[case])


def fact_of(report: dict[str, Any], path: Path, selector: str) -> object:
    """One fact of an ffprobe report (see SHAPE_FACTS), None when absent."""
    if selector == "boxes":
        return top_level_boxes(path) & {"ftyp", "moov", "moof", "mdat"}
    if selector == "frame_steps_ms":
        return frame_steps_ms(path)
    where, *keys = selector.split(".")
    value: Any = report["format"] if where == "format" else stream_of(report, where)
    if keys == ["rotation"]:  # the display matrix, in ffprobe's side data
        return next(s["rotation"] for s in value.get("side_data_list", []) if "rotation" in s)
    for key in keys:
        value = (value or {}).get(key)
    return value


def stream_of(report: dict[str, Any], codec_type: str) -> dict[str, Any] | None:
    return next((s for s in report["streams"] if s["codec_type"] == codec_type), None)


def top_level_boxes(path: Path) -> set[str]:
    """The types of an ISO BMFF file's top-level boxes (ftyp, moov, moof, mdat...)."""
    types, data = set(), path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:  # a 64-bit size follows the type
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        types.add(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return types


def frame_steps_ms(path: Path) -> set[int]:
    """The distinct times from one video frame to the next, in whole milliseconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        assert time_base is not None
        times = sorted(
            float(p.pts * time_base) for p in container.demux(stream) if p.pts is not None
        )
    return {round(1000 * (later - earlier)) for earlier, later in itertools.pairwise(times)}
