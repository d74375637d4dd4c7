"""probe() over generated videos: expected metadata, both backends agree, bad files fail."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import av
import pytest

from tests.media import (
    make_corpus,
    make_empty_file,
    make_text_file_named,
    make_truncated_mp4,
    make_video,
)
from videolib.shared.errors import ProbeError
from videolib.shared.media.classify import normalise_rotation
from videolib.shared.media.hashing import sha256_file
from videolib.shared.media.mp4_matrix import read_tracks, rotation_degrees
from videolib.shared.media.probe import Metadata, probe, run_ffprobe

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
MKV = "matroska,webm"

# case: (duration_seconds, width, height, orientation, quality, has_audio, codec, container)
EXPECTED: dict[str, tuple[int, int, int, str, str, bool, str, str]] = {
    "landscape_fhd": (1, 1920, 1080, "landscape", "FHD", True, "h264", MP4),
    "phone_rotated": (1, 1080, 1920, "portrait", "FHD", True, "h264", MP4),
    "square": (1, 480, 480, "square", "SD", True, "h264", MP4),
    "sd": (1, 640, 480, "landscape", "SD", True, "h264", MP4),
    "hd": (1, 1280, 720, "landscape", "HD", True, "h264", MP4),
    "portrait_hd": (1, 720, 1280, "portrait", "HD", True, "h264", MP4),
    "uhd": (1, 3840, 2160, "landscape", "UHD", True, "h264", MP4),
    "no_audio": (1, 320, 240, "landscape", "SD", False, "h264", MP4),
    "short_2_4": (2, 320, 240, "landscape", "SD", False, "h264", MP4),
    "long_2_6": (3, 320, 240, "landscape", "SD", False, "h264", MP4),
    "mkv": (1, 320, 240, "landscape", "SD", True, "h264", MKV),
    "webm_vp9": (1, 160, 120, "landscape", "SD", True, "vp9", MKV),
    "mov": (1, 320, 240, "landscape", "SD", True, "h264", MP4),
    "flv": (1, 320, 240, "landscape", "SD", True, "h264", "flv"),
    "avi_mpeg4": (1, 320, 240, "landscape", "SD", True, "mpeg4", "avi"),
    "m4v": (1, 320, 240, "landscape", "SD", True, "h264", MP4),
    "uppercase": (1, 320, 240, "landscape", "SD", True, "h264", MP4),
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
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_corpus_covers_every_expectation(corpus: dict[str, Path]) -> None:
    assert set(corpus) == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_pyav_metadata(corpus: dict[str, Path], case: str) -> None:
    assert probe(corpus[case]) == Metadata(*EXPECTED[case])


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_ffprobe_gives_the_same_metadata(corpus: dict[str, Path], case: str) -> None:
    binary = _ffprobe_or_skip()
    from_ffprobe = probe(corpus[case], backend="ffprobe", ffprobe_path=binary)
    assert from_ffprobe == probe(corpus[case], backend="pyav") == Metadata(*EXPECTED[case])


def test_phone_video_has_the_display_matrix_ffprobe_reports(corpus: dict[str, Path]) -> None:
    report = run_ffprobe(corpus["phone_rotated"], _ffprobe_or_skip(), 10.0)
    video = report["streams"][0]
    # ffprobe shows a clockwise phone rotation as -90 (the matrix angle is counter-clockwise).
    assert [s["rotation"] for s in video["side_data_list"]] == [-90]


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_backends_agree_on_every_quarter_turn(tmp_path: Path, suffix: str, rotation: int) -> None:
    path = make_video(tmp_path / f"turned{suffix}", rotation=rotation)
    from_pyav = probe(path)
    assert from_pyav == probe(path, backend="ffprobe", ffprobe_path=_ffprobe_or_skip())
    assert (from_pyav.width, from_pyav.height) == ((240, 320) if rotation % 180 else (320, 240))


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".m4v"])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_mp4_header_matrix_is_the_decoded_frames(
    tmp_path: Path, suffix: str, rotation: int
) -> None:
    # The pyav backend reads the matrix from the header instead of decoding a frame.
    path = make_video(tmp_path / f"turned{suffix}", rotation=rotation)
    with path.open("rb") as file:
        tracks = read_tracks(file)
    with av.open(os.fspath(path)) as container:
        assert tracks is not None
        assert [track.track_id for track in tracks] == [s.id for s in container.streams]
        video = container.streams.video[0]
        index = video.index  # read while the container is open
        frame = next(container.decode(video))
    angle = rotation_degrees(tracks[index].matrix)
    assert int(angle) == frame.rotation  # VideoFrame.rotation truncates to an int
    assert normalise_rotation(-angle) == rotation  # the angle is counter-clockwise


BAD_FILES = {
    "truncated": lambda d: make_truncated_mp4(d / "truncated.mp4"),
    "text": lambda d: make_text_file_named(d / "notes.mkv"),
    "empty": lambda d: make_empty_file(d / "empty.mp4"),
}


@pytest.mark.parametrize("backend", ["pyav", "ffprobe"])
@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_is_corrupt(tmp_path: Path, kind: str, backend: str) -> None:
    binary = _ffprobe_or_skip() if backend == "ffprobe" else None
    path = BAD_FILES[kind](tmp_path)
    with pytest.raises(ProbeError) as raised:
        probe(path, backend=backend, ffprobe_path=binary)
    assert raised.value.invalid_reason == "corrupt"
    assert raised.value.path == str(path)


@pytest.mark.parametrize("backend", ["pyav", "ffprobe"])
def test_missing_file_is_unreadable(tmp_path: Path, backend: str) -> None:
    binary = _ffprobe_or_skip() if backend == "ffprobe" else None
    with pytest.raises(ProbeError) as raised:
        probe(tmp_path / "gone.mp4", backend=backend, ffprobe_path=binary)
    assert raised.value.invalid_reason == "unreadable"


def test_ffprobe_time_limit_is_unreadable(tmp_path: Path) -> None:
    sleeper = tmp_path / "slow-ffprobe"
    sleeper.write_text("#!/bin/sh\nexec sleep 30\n")
    sleeper.chmod(0o755)
    (tmp_path / "x.mp4").write_bytes(b"")
    with pytest.raises(ProbeError) as raised:
        probe(tmp_path / "x.mp4", backend="ffprobe", ffprobe_path=str(sleeper), timeout_s=0.2)
    assert raised.value.invalid_reason == "unreadable"
    assert "timed out" in raised.value.reason


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (1 << 20) + 17, 3 * (1 << 20) - 1])
def test_sha256_file(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "blob").write_bytes(data)
    assert sha256_file(tmp_path / "blob") == hashlib.sha256(data).hexdigest()


def test_sha256_of_a_video(corpus: dict[str, Path]) -> None:
    path = corpus["uhd"]
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
