"""Stored paths <-> disk paths, including an inbox outside the library root."""

from __future__ import annotations

from pathlib import Path

import pytest

from videolib.shared.errors import PathError, UnsafePathError
from videolib.shared.library import Library


@pytest.fixture
def library(tmp_path: Path) -> Library:
    (tmp_path / "lib" / "videos").mkdir(parents=True)
    (tmp_path / "drop").mkdir()
    return Library(tmp_path / "lib", tmp_path / "drop")


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("videos/a.mp4", "lib/videos/a.mp4"),
        ("studios/x/y z.mp4", "lib/studios/x/y z.mp4"),
        ("inbox/up.mp4", "drop/up.mp4"),  # the inbox lives where MEDIA_INBOX_PATH says
    ],
)
def test_absolute(library: Library, tmp_path: Path, stored: str, expected: str) -> None:
    assert library.absolute(stored) == tmp_path / expected


@pytest.mark.parametrize(
    "stored", ["../etc/passwd", "/etc/passwd", "videos/../../x.mp4", "movies/a.mp4", ""]
)
def test_absolute_refuses_paths_leaving_the_library(library: Library, stored: str) -> None:
    with pytest.raises(UnsafePathError):
        library.absolute(stored)


def test_stored_path(library: Library, tmp_path: Path) -> None:
    assert library.stored_path(tmp_path / "lib" / "videos" / "a.mp4") == "videos/a.mp4"
    assert library.stored_path(tmp_path / "drop" / "b.mp4") == "inbox/b.mp4"


def test_stored_path_refuses_outside_and_unknown_types(library: Library, tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="outside the library root"):
        library.stored_path(tmp_path / "elsewhere.mp4")
    with pytest.raises(UnsafePathError, match="directory types"):
        library.stored_path(tmp_path / "lib" / "loose.mp4")


def test_unknown_directory_type(library: Library) -> None:
    with pytest.raises(PathError, match="unknown directory type"):
        library.directory("movies")
