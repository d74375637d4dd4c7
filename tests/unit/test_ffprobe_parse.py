"""parse_ffprobe on literal ffprobe JSON reports: no ffprobe needed."""

from __future__ import annotations

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
