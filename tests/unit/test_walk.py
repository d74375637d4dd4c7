"""The rescan's pure pieces: the merge-join of disk and records, the bounded error list."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videolib.shared.db.records import Fingerprint
from videolib.shared.ingest import ERRORS_KEPT, ScanResult
from videolib.shared.library import Library
from videolib.shared.walk import FoundFile, Present, Vanished, merge_join, walk_in_order

SEEN = Fingerprint(1, 1, None)
GONE = Fingerprint(1, 1, "missing")


def found(*paths: str) -> list[FoundFile]:
    return [FoundFile(path, path, 1, 1) for path in paths]


def recorded(*paths: str) -> list[tuple[str, Fingerprint]]:
    return [(path, SEEN) for path in paths]


@pytest.mark.parametrize(
    ("on_disk", "records", "expected"),
    [
        ([], [], []),
        (["v/a"], [], [("present", "v/a", False)]),
        ([], ["v/a"], [("vanished", "v/a")]),
        (["v/a"], ["v/a"], [("present", "v/a", True)]),
        (
            ["v/a", "v/c"],
            ["v/b", "v/c", "v/d"],
            [
                ("present", "v/a", False),
                ("vanished", "v/b"),
                ("present", "v/c", True),
                ("vanished", "v/d"),
            ],
        ),
        (  # a folder's files sort after a same-named file: "." < "/"
            ["v/a.mp4", "v/a/x.mp4", "v/a0.mp4"],
            ["v/a/x.mp4", "v/a0.mp4"],
            [
                ("present", "v/a.mp4", False),
                ("present", "v/a/x.mp4", True),
                ("present", "v/a0.mp4", True),
            ],
        ),
        (  # code point order, as PostgreSQL's COLLATE "C" gives it: "Z" < "a" < "é"
            ["v/Z", "v/a", "v/é"],
            ["v/Z", "v/é"],
            [("present", "v/Z", True), ("present", "v/a", False), ("present", "v/é", True)],
        ),
    ],
)
def test_merge_join_pairs_each_path_once(
    on_disk: list[str], records: list[str], expected: list[tuple[object, ...]]
) -> None:
    pairs = [
        ("present", p.file.stored_path, p.recorded is not None)
        if isinstance(p, Present)
        else ("vanished", p.path)
        for p in merge_join(found(*on_disk), recorded(*records))
    ]
    assert pairs == expected


def test_merge_join_passes_the_fingerprints_on() -> None:
    pairs = list(merge_join(found("v/a"), [("v/a", GONE), ("v/b", GONE)]))
    assert pairs == [Present(found("v/a")[0], GONE), Vanished("v/b", GONE)]


@pytest.mark.parametrize(
    ("on_disk", "records"),
    [(["v/b", "v/a"], []), ([], ["v/b", "v/a"]), (["v/a", "v/a"], []), ([], ["v/a", "v/a"])],
)
def test_merge_join_refuses_unsorted_input(on_disk: list[str], records: list[str]) -> None:
    # Out of order, present files would be taken for vanished ones and marked missing.
    with pytest.raises(ValueError, match="out of order"):
        list(merge_join(found(*on_disk), recorded(*records)))


def test_the_walk_comes_in_code_point_order(tmp_path: Path) -> None:
    library = Library(tmp_path / "library", tmp_path / "library" / "inbox")
    names = ["a.mp4", "a/x.mp4", "a/b/y.mp4", "a0.mp4", "Z.mp4", "é.mp4", "b-c/z.mp4", "b.mp4"]
    for name in names:
        path = library.root / "videos" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    os.symlink(library.root / "videos" / "b.mp4", library.root / "videos" / "link.mp4")
    walked = list(walk_in_order(library, "videos", lambda path, why: None))
    own = [f.stored_path for f in walked if not f.linked]
    assert own == sorted(f"videos/{name}" for name in names)
    assert [(f.stored_path, f.linked) for f in walked if f.linked] == [("videos/b.mp4", True)]


def test_a_scan_result_keeps_the_first_errors_and_counts_all() -> None:
    result = ScanResult()
    for index in range(ERRORS_KEPT + 50):
        result.fail(f"videos/{index}.mp4: unreadable")
    result.note("gifs: directory not found")
    body = result.as_dict()
    assert body["errors"] == [f"videos/{i}.mp4: unreadable" for i in range(ERRORS_KEPT)]
    assert (body["errorsTotal"], body["failed"]) == (ERRORS_KEPT + 51, ERRORS_KEPT + 50)
