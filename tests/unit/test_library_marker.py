"""The library marker on disk, and what `videolib init` decides to do with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from videolib.shared.commands.init import Keep, Refuse, Write, decide_init
from videolib.shared.library_marker import MarkerFile, read_marker, write_marker

ID = "3f2b8f0e-8c1d-4d36-9a51-6c1f0b7f2a10"
OTHER = "0b9d6a8c-1f6e-4a4f-8f21-2d6a3c0e9b77"
NEW = "5a1c2e3d-0000-4000-8000-000000000001"


def test_written_marker_reads_back(tmp_path: Path) -> None:
    path = write_marker(tmp_path, ID)
    assert path == tmp_path / ".videolib-library"
    assert read_marker(tmp_path) == MarkerFile(path, ID)
    assert [p.name for p in tmp_path.iterdir()] == [".videolib-library"]  # no temporary left


@pytest.mark.parametrize(
    ("content", "expected_id", "error"),
    [
        (None, None, None),
        ("", None, "no library id in it"),
        ("not an id\n", None, "no library id in it"),
        (f"# comment\n{ID}\n", ID, None),
    ],
)
def test_read_marker(
    tmp_path: Path, content: str | None, expected_id: str | None, error: str | None
) -> None:
    if content is not None:
        (tmp_path / ".videolib-library").write_text(content)
    marker = read_marker(tmp_path)
    assert (marker.library_id, marker.error) == (expected_id, error)


MARKED = MarkerFile(Path("/lib/.videolib-library"), ID)
ABSENT = MarkerFile(Path("/lib/.videolib-library"), None)
BROKEN = MarkerFile(Path("/lib/.videolib-library"), None, "Permission denied")


@pytest.mark.parametrize(
    ("case", "marker", "recorded", "records", "empty", "force", "expected"),
    [
        ("new library", ABSENT, None, False, True, False, Write(NEW)),
        ("marker lost, folders full", ABSENT, ID, True, False, False, Write(ID)),
        ("empty mount point", ABSENT, ID, True, True, False, Refuse),
        ("empty mount point, forced", ABSENT, ID, True, True, True, Write(ID)),
        ("already marked", MARKED, ID, True, False, False, Keep(ID)),
        ("marked, id not recorded yet", MARKED, None, False, False, False, Keep(ID)),
        ("another library's share", MARKED, OTHER, True, False, False, Refuse),
        ("another library's, forced", MARKED, OTHER, True, False, True, Write(OTHER)),
        ("unreadable", BROKEN, ID, True, False, True, Refuse),
    ],
)
def test_decide_init(
    case: str,
    marker: MarkerFile,
    recorded: str | None,
    records: bool,
    empty: bool,
    force: bool,
    expected: object,
) -> None:
    decision = decide_init(
        marker, recorded, holds_records=records, folders_empty=empty, force=force, new_id=NEW
    )
    if expected is Refuse:
        assert isinstance(decision, Refuse), case
    else:
        assert decision == expected, case
