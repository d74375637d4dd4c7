"""names.py: which names are videos, which are ignored, library-relative paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videolib.shared.errors import PathError, UnsafePathError
from videolib.shared.media.names import (
    directory_type_of,
    is_ignored,
    is_video_name,
    relative_library_path,
)


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("clip.mp4", False),
        (".hidden.mp4", True),
        ("._clip.mp4", True),  # macOS resource fork
        (".DS_Store", True),
        ("clip.mp4.part", True),
        ("clip.mp4.crdownload", True),
        ("clip.mp4.tmp", True),
        ("clip.mp4.filepart", True),
        ("clip.mp4.PART", True),
        ("clip.mp4~", True),
        ("partial.mp4", False),
        ("a~b.mp4", False),
    ],
)
def test_is_ignored(name: str, ignored: bool) -> None:
    assert is_ignored(name) is ignored


@pytest.mark.parametrize(
    ("name", "video"),
    [
        ("clip.mp4", True),
        ("CLIP.MP4", True),
        ("clip.Mkv", True),
        ("a.mov", True),
        ("a.avi", True),
        ("a.webm", True),
        ("a.m4v", True),
        ("a.flv", True),
        ("a.mp3", False),
        ("a.txt", False),
        ("mp4", False),
        ("._clip.mp4", False),
        (".clip.mp4", False),
        ("clip.mp4.part", False),
        ("clip.mp4~", False),
        ("archive.mp4.tmp", False),
    ],
)
def test_is_video_name(name: str, video: bool) -> None:
    assert is_video_name(name) is video


@pytest.mark.parametrize(
    ("relative_path", "expected"),
    [
        ("studios/a/x.mp4", "studios"),
        ("gifs/x.mp4", "gifs"),
        ("highlights/x.mp4", "highlights"),
        ("inbox/x.mp4", "inbox"),
        ("videos", "videos"),
        ("other/x.mp4", None),
        ("Studios/x.mp4", None),
        ("x.mp4", None),
        ("", None),
    ],
)
def test_directory_type_of(relative_path: str, expected: str | None) -> None:
    assert directory_type_of(relative_path) == expected


def test_relative_path_uses_slashes(tmp_path: Path) -> None:
    target = tmp_path / "studios" / "a" / "x.mp4"
    assert relative_library_path(tmp_path, target) == "studios/a/x.mp4"


def test_relative_path_accepts_a_relative_argument(tmp_path: Path) -> None:
    assert relative_library_path(tmp_path, Path("videos/x.mp4")) == "videos/x.mp4"


@pytest.mark.parametrize("outside", ["../x.mp4", "studios/../../x.mp4", "/etc/passwd"])
def test_relative_path_outside_root_is_unsafe(tmp_path: Path, outside: str) -> None:
    root = tmp_path / "library"
    root.mkdir()
    with pytest.raises(UnsafePathError):
        relative_library_path(root, root / outside)


def test_symlink_out_of_root_is_unsafe(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "library", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (elsewhere / "x.mp4").write_bytes(b"")
    (root / "link.mp4").symlink_to(elsewhere / "x.mp4")
    with pytest.raises(UnsafePathError):
        relative_library_path(root, root / "link.mp4")


def test_symlink_inside_root_resolves(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "x.mp4").write_bytes(b"")
    (tmp_path / "link.mp4").symlink_to(tmp_path / "videos" / "x.mp4")
    assert relative_library_path(tmp_path, tmp_path / "link.mp4") == "videos/x.mp4"


def test_non_utf8_name_is_a_path_error(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.mp4")  # Latin-1 bytes: a lone surrogate on the Python side
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(PathError) as raised:
        relative_library_path(tmp_path, path)
    assert not isinstance(raised.value, UnsafePathError)
    assert "UTF-8" in raised.value.reason
