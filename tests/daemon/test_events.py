"""Event -> action decisions, case by case."""

from __future__ import annotations

import pytest

from videolib.daemon.debounce import Signal
from videolib.daemon.events import (
    Action,
    FsEvent,
    Ignore,
    Kind,
    MarkMissing,
    MarkMissingTree,
    Move,
    MoveTree,
    Touch,
    TypeFolderGone,
    Walk,
    decide_event,
    stored_path,
)

C, M, CL, MV, D = Kind.CREATED, Kind.MODIFIED, Kind.CLOSED, Kind.MOVED, Kind.DELETED


@pytest.mark.parametrize(
    ("event", "action"),
    [
        (FsEvent(C, "videos/a.mp4"), Touch("videos/a.mp4", Signal.APPEAR)),
        (FsEvent(M, "videos/a.MP4"), Touch("videos/a.MP4", Signal.WRITE)),
        (FsEvent(CL, "studios/x/a.mkv"), Touch("studios/x/a.mkv", Signal.CLOSE)),
        (FsEvent(D, "videos/a.mp4"), MarkMissing("videos/a.mp4")),
        # ignored names and non-videos
        (FsEvent(C, "videos/a.mp4.part"), Ignore("not a video name")),
        (FsEvent(M, "videos/._a.mp4"), Ignore("not a video name")),
        (FsEvent(C, "videos/notes.txt"), Ignore("not a video name")),
        (FsEvent(C, "videos/.hidden/a.mp4"), Ignore("not a video name")),
        (FsEvent(C, None), Ignore("outside the library")),
        # renames
        (FsEvent(MV, "videos/a.mp4", "videos/b.mp4"), Move("videos/a.mp4", "videos/b.mp4")),
        (FsEvent(MV, "videos/a.mp4", "studios/s/a.mp4"), Move("videos/a.mp4", "studios/s/a.mp4")),
        # a partial download renamed to its final name is ingested at the rename
        (FsEvent(MV, "videos/a.mp4.part", "videos/a.mp4"), Touch("videos/a.mp4", Signal.RENAMED)),
        (FsEvent(MV, "videos/.tmp123", "videos/a.mp4"), Touch("videos/a.mp4", Signal.RENAMED)),
        (FsEvent(MV, None, "videos/a.mp4"), Touch("videos/a.mp4", Signal.RENAMED)),
        # moved out of the library, or to a non-video name
        (FsEvent(MV, "videos/a.mp4", None), MarkMissing("videos/a.mp4")),
        (FsEvent(MV, "videos/a.mp4", "videos/a.mp4.bak~"), MarkMissing("videos/a.mp4")),
        (FsEvent(MV, "videos/a.txt", "videos/b.txt"), Ignore("not a video name")),
        # folders
        (FsEvent(C, "videos/new", is_directory=True), Walk("videos/new")),
        (FsEvent(D, "videos/old", is_directory=True), MarkMissingTree("videos/old")),
        (FsEvent(MV, "videos/a", "videos/b", True), MoveTree("videos/a", "videos/b")),
        (FsEvent(MV, "videos/a", "studios/a", True), MoveTree("videos/a", "studios/a")),
        (FsEvent(MV, None, "videos/in", True), Walk("videos/in")),
        (FsEvent(MV, "videos/out", None, True), MarkMissingTree("videos/out")),
        (FsEvent(M, "videos/a", is_directory=True), Ignore("folder modified")),
        # a whole type folder gone is a mount problem, never a mass deletion
        (FsEvent(D, "studios", is_directory=True), TypeFolderGone("studios")),
        (FsEvent(MV, "studios", None, True), TypeFolderGone("studios")),
        (FsEvent(C, "studios", is_directory=True), Walk("studios")),
        (FsEvent(MV, None, "studios", True), Walk("studios")),
    ],
)
def test_decide_event(event: FsEvent, action: Action) -> None:
    assert decide_event(event) == action


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        ("/lib/videos/a.mp4", "videos/a.mp4"),
        ("/lib/videos", "videos"),
        ("/lib/other/a.mp4", None),
        ("/lib", None),
        ("/libx/videos/a.mp4", None),
        ("/in/a.mp4", "inbox/a.mp4"),
        ("/in", "inbox"),
        ("/lib/inbox/a.mp4", "inbox/a.mp4"),
    ],
)
def test_stored_path(path: str, stored: str | None) -> None:
    assert stored_path(path, "/lib", "/in") == stored
