"""parse_ffprobe on literal ffprobe JSON reports: no ffprobe needed."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from videolib.shared.errors import ProbeError
from videolib.shared.media.probe import Metadata, StreamFacts, parse_ffprobe

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"


def _report(video: dict[str, Any] | None, *, duration: str | None = "12.480000") -> dict[str, Any]:
    """An ffprobe report with one video stream (if given) and one audio stream."""
    streams: list[dict[str, Any]] = [{"index": 1, "codec_type": "audio", "codec_name": "aac"}]
    if video is not None:
        streams.insert(0, {"index": 0, "codec_type": "video", "codec_name": "h264", **video})
    fmt: dict[str, Any] = {"format_name": MP4}
    if duration is not None:
        fmt["duration"] = duration
    return {"path": "x.mp4", "streams": streams, "format": fmt}


def test_display_matrix_minus_90_is_a_clockwise_quarter_turn() -> None:
    video = {
        "width": 1920,
        "height": 1080,
        "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}],
    }
    facts = parse_ffprobe(_report(video))
    assert facts == StreamFacts(1920, 1080, 90, 12.48, 1, "h264", MP4)
    metadata = Metadata.from_facts(facts)
    assert (metadata.width, metadata.height, metadata.orientation) == (1080, 1920, "portrait")
    assert (metadata.quality, metadata.duration_seconds, metadata.has_audio) == ("FHD", 12, True)


def test_legacy_rotate_tag() -> None:
    video = {"width": 1920, "height": 1080, "tags": {"rotate": "90"}}
    assert parse_ffprobe(_report(video)).rotation == 90


def test_display_matrix_wins_over_the_tag() -> None:
    video = {
        "width": 640,
        "height": 480,
        "tags": {"rotate": "90"},
        "side_data_list": [{"side_data_type": "Display Matrix", "rotation": 180}],
    }
    assert parse_ffprobe(_report(video)).rotation == 180


def test_no_rotation() -> None:
    assert parse_ffprobe(_report({"width": 640, "height": 480})).rotation == 0


def test_no_video_stream_is_corrupt() -> None:
    with pytest.raises(ProbeError) as raised:
        parse_ffprobe(_report(None))
    assert raised.value.invalid_reason == "corrupt"


def test_cover_art_is_not_the_video_stream() -> None:
    cover = {"width": 600, "height": 600, "disposition": {"attached_pic": 1}}
    report = _report(None)
    report["streams"].insert(0, {"codec_type": "video", "codec_name": "mjpeg", **cover})
    with pytest.raises(ProbeError):
        parse_ffprobe(report)


def test_missing_format_duration_falls_back_to_the_stream() -> None:
    report = _report({"width": 640, "height": 480, "duration": "2.600000"}, duration=None)
    assert parse_ffprobe(report).duration == pytest.approx(2.6)


def test_no_duration_anywhere() -> None:
    facts = parse_ffprobe(_report({"width": 640, "height": 480}, duration="N/A"))
    assert facts.duration is None
    assert Metadata.from_facts(facts).duration_seconds is None


def _stream(index: int, **fields: Any) -> dict[str, Any]:
    return {"index": index, "codec_type": "video", "codec_name": "h264", **fields}


def test_the_default_track_describes_the_file_not_the_first() -> None:
    report = _report(None)
    report["streams"] = [
        _stream(0, width=160, height=120, disposition={"default": 0}),
        _stream(1, width=320, height=240, codec_name="hevc", disposition={"default": 1}),
    ]
    facts = parse_ffprobe(report)
    assert (facts.coded_width, facts.coded_height, facts.video_codec) == (320, 240, "hevc")


def test_a_cover_first_and_larger_is_passed_over() -> None:
    report = _report(None)
    report["streams"] = [
        _stream(0, codec_name="mjpeg", width=600, height=600, disposition={"attached_pic": 1}),
        _stream(1, width=320, height=240, disposition={"default": 1}),
    ]
    assert parse_ffprobe(report).coded_width == 320


def test_without_a_default_the_higher_bitrate_wins_at_equal_size() -> None:
    report = _report(None)
    report["streams"] = [
        _stream(0, width=320, height=240, bit_rate="100000"),
        _stream(1, width=320, height=240, bit_rate="900000", codec_name="vp9"),
    ]
    assert parse_ffprobe(report).video_codec == "vp9"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("64:45", Fraction(64, 45)),
        ("1:1", Fraction(1)),
        ("0:1", None),
        ("N/A", None),
        (None, None),
    ],
)
def test_sample_aspect_ratio(field: str | None, expected: Fraction | None) -> None:
    video: dict[str, Any] = {"width": 720, "height": 576}
    if field is not None:
        video["sample_aspect_ratio"] = field
    assert parse_ffprobe(_report(video)).sample_aspect == expected


def test_anamorphic_report_is_displayed_wide() -> None:
    video = {"width": 720, "height": 576, "sample_aspect_ratio": "64:45"}
    metadata = Metadata.from_facts(parse_ffprobe(_report(video)))
    assert (metadata.width, metadata.height) == (1024, 576)


def test_ffprobe_5_mp4_at_an_offset_of_3600_s_lasts_2_s() -> None:
    # ffprobe 5.1's report of an mp4 made with -output_ts_offset 3600 (stream from tkhd/mdhd).
    report = _report(
        {"width": 320, "height": 240, "start_time": "3600.000000", "duration": "2.000000"},
        duration="3602.000000",
    )
    report["streams"].pop()  # no audio
    report["format"]["start_time"] = "3600.000000"
    facts = parse_ffprobe(report)
    assert facts.duration == pytest.approx(2.0)
    assert facts.start_time == 3600.0
