"""Stash's video pHash: the frame times and seeks as Stash's ffmpeg CLI sees them (pure),
and on real files the very hash Stash computes, stable across a re-encode.

The expected hashes of the generated clips were computed by Stash's own pipeline: the
ffmpeg CLI as pkg/hash/videophash/phash.go runs it (Debian's ffmpeg 5.1), imaging's
sprite and goimagehash's PerceptionHash (bench/stash_reference/).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
import pytest

from tests.scenes import make_scene_video, reencode
from videolib.shared.media import stash_phash
from videolib.shared.media.goimagehash import to_unsigned
from videolib.shared.media.similarity import hamming

#: Stash's duplicate checker calls hashes up to this many bits apart "low accuracy" matches:
#: distinct videos must be further apart, re-encodes closer.
STASH_LOOSEST = 10


def test_frame_offsets_are_stash_s() -> None:
    offsets = stash_phash.frame_offsets(10.0)
    assert len(offsets) == 25
    assert offsets[0] == pytest.approx(0.5) and offsets[1] == pytest.approx(0.86)
    assert offsets[-1] == pytest.approx(9.14)  # 5 % + 24 x 3.6 %: the last is not at 95 %


@pytest.mark.parametrize(
    ("duration_us", "seconds"),
    [
        (10_000_000, 10.0),
        (10_004_999, 10.0),
        (10_005_000, 10.01),  # half away from zero, as Go's math.Round
        (2_345_678, 2.35),
        (40_000, 0.04),
    ],
)
def test_duration_is_ffprobe_s_rounded_to_hundredths(duration_us: int, seconds: float) -> None:
    assert stash_phash.stash_duration(duration_us) == seconds


@pytest.mark.parametrize(
    ("seconds", "microseconds"),
    [
        (0.5, 500_000),
        (2.3, 2_300_000),
        # Go prints this float as "2.2999999999999998"; FFmpeg keeps 6 decimals of it.
        (0.5 + 5 * (0.9 * 10 / 25) - 1e-15, 2_299_999),
        (3600.123456789, 3_600_123_456),
    ],
)
def test_seek_is_what_ffmpeg_parses_from_go_s_decimal(seconds: float, microseconds: int) -> None:
    assert stash_phash.seek_microseconds(seconds) == microseconds


@pytest.mark.parametrize(
    ("microseconds", "time_base", "pts"),
    [
        (500_000, Fraction(1, 10240), 5120),
        (2_299_999, Fraction(1, 25), 57),  # 57.499975 frames: the nearest is 57
        (20_000, Fraction(1, 25), 1),  # exactly half a frame: away from zero
        (3_600_500_000, Fraction(1, 90000), 324_045_000),
    ],
)
def test_first_kept_pts_rounds_like_av_rescale_q(
    microseconds: int, time_base: Fraction, pts: int
) -> None:
    assert stash_phash.first_kept_pts(microseconds, time_base) == pts


def test_tile_places_frames_row_major_on_a_5_by_5_canvas() -> None:
    frames = [np.full((90, 160, 3), index, dtype=np.uint8) for index in range(25)]
    canvas = stash_phash.tile(frames)
    assert canvas.shape == (450, 800, 3)
    assert canvas[0, 0, 0] == 0 and canvas[0, 160, 0] == 1 and canvas[90, 0, 0] == 5
    assert canvas[449, 799, 0] == 24


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("phash")
    made = {
        "scene_1": make_scene_video(folder / "scene_1.mp4", 1),
        "scene_2": make_scene_video(folder / "scene_2.mp4", 2),
        # B-frames and a long GOP: the seek decodes on from an earlier keyframe.
        "b_frames": make_scene_video(
            folder / "b_frames.mp4", 5, seconds=6, fps=25, codec="libx264", gop=250, b_frames=3
        ),
    }
    made["scene_1_reencoded"] = reencode(made["scene_1"], folder / "scene_1.avi", width=240)
    return made


#: clip -> Stash's pHash of it (`%016x`), from Stash's own pipeline.
STASH_HASHES = {
    "scene_1": "f5aa57c08ade4495",
    "scene_2": "d58ad7812a7f2f80",
    "scene_1_reencoded": "ffae55c08ace4095",
    "b_frames": "81287bd545c5d7d1",
}


@pytest.mark.parametrize("clip", sorted(STASH_HASHES))
def test_video_phash_is_the_one_stash_computes(clips: dict[str, Path], clip: str) -> None:
    ours = to_unsigned(stash_phash.video_phash(str(clips[clip])))
    # Equal today; a bit or two of slack for a future encoder that writes other pixels.
    assert hamming(ours, int(STASH_HASHES[clip], 16)) <= 2, f"{ours:016x}"


def test_a_reencode_keeps_the_hash_and_another_video_does_not(clips: dict[str, Path]) -> None:
    hashes = {name: stash_phash.video_phash(str(path)) for name, path in clips.items()}
    assert hamming(hashes["scene_1"], hashes["scene_1_reencoded"]) <= STASH_LOOSEST
    assert hamming(hashes["scene_1"], hashes["scene_2"]) > STASH_LOOSEST


def test_a_file_without_frames_is_a_value_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    with pytest.raises((ValueError, av.error.FFmpegError)):
        stash_phash.video_phash(str(text))
