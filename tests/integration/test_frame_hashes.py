"""Frame hashes of real generated files: copies match their original, other clips do not."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from tests.media import make_scene_video, make_text_file_named, make_truncated_mp4
from videolib.shared.media.frame_hashes import compute_frame_hashes
from videolib.shared.media.similarity import FLAT, compare, index_keys, query_keys


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scenes")
    return {
        "original": make_scene_video(folder / "original.mp4", seed=1),
        # Trimmed by 2 s, another container and size: a web copy of a cut.
        "trimmed": make_scene_video(
            folder / "trimmed.mkv", seed=1, skip_seconds=2, width=256, height=144
        ),
        "flipped": make_scene_video(folder / "flipped.mp4", seed=1, mirrored=True),
        # A keyframe a second: only keyframes are decoded.
        "web": make_scene_video(
            folder / "web.mp4", seed=1, width=480, height=270, keyframe_every=5
        ),
        "other": make_scene_video(folder / "other.mp4", seed=2),
        "intro_a": make_scene_video(folder / "intro_a.mp4", seed=3, seconds=6, black_intro=6),
        "intro_b": make_scene_video(folder / "intro_b.mp4", seed=4, seconds=6, black_intro=6),
    }


def test_one_hash_a_second_as_shown_and_mirrored(clips: dict[str, Path]) -> None:
    hashes = compute_frame_hashes(str(clips["original"]))
    assert len(hashes.seconds) == len(hashes.mirrored) == 12
    assert FLAT not in hashes.seconds
    assert all(-(1 << 63) <= value < 1 << 63 for value in hashes.seconds + hashes.mirrored)
    assert hashes.seconds != hashes.mirrored


def test_a_trimmed_copy_matches_at_its_offset(clips: dict[str, Path]) -> None:
    original = compute_frame_hashes(str(clips["original"]))
    trimmed = compute_frame_hashes(str(clips["trimmed"]))
    match = compare(original, trimmed)
    assert match is not None and not match.mirrored
    assert match.offset_seconds == -2 and match.a_start <= 3 and match.score >= 0.8
    assert set(query_keys(trimmed)) & set(index_keys(original))


def test_a_flipped_copy_matches_the_mirror(clips: dict[str, Path]) -> None:
    original = compute_frame_hashes(str(clips["original"]))
    flipped = compute_frame_hashes(str(clips["flipped"]))
    match = compare(original, flipped)
    assert match is not None and match.mirrored and match.offset_seconds == 0
    assert set(query_keys(flipped)) & set(index_keys(original))
    assert set(query_keys(original)) & set(index_keys(flipped))


def test_a_copy_read_by_its_keyframes_only_matches_one_decoded_whole(
    clips: dict[str, Path],
) -> None:
    original = compute_frame_hashes(str(clips["original"]))
    web = compute_frame_hashes(str(clips["web"]))
    assert len(web.seconds) == len(original.seconds)
    match = compare(original, web)
    assert match is not None and match.offset_seconds == 0 and match.score >= 0.9


def test_a_different_clip_does_not_match(clips: dict[str, Path]) -> None:
    original = compute_frame_hashes(str(clips["original"]))
    other = compute_frame_hashes(str(clips["other"]))
    assert compare(original, other) is None
    assert compare(other, original) is None


def test_two_clips_with_the_same_black_intro_do_not_match(clips: dict[str, Path]) -> None:
    # Half of each is the same 6 s of black (Immich #9794): those seconds are flat.
    a = compute_frame_hashes(str(clips["intro_a"]))
    b = compute_frame_hashes(str(clips["intro_b"]))
    assert a.seconds[:6] == b.seconds[:6] == (FLAT,) * 6
    assert compare(a, b) is None


@pytest.mark.parametrize("make", [make_text_file_named, make_truncated_mp4])
def test_a_bad_file_raises_a_named_error(tmp_path: Path, make: object) -> None:
    path = make(tmp_path / "bad.mp4")  # type: ignore[operator]
    with pytest.raises((ValueError, av.error.FFmpegError)):
        compute_frame_hashes(str(path))
