"""Which types a worker's periodic pass judges (shared/jobs/maintenance_jobs.judged_types)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videolib.shared.jobs.maintenance_jobs import Skipped, judged_types

TYPES = ("studios", "inbox", "videos")


@pytest.mark.parametrize(
    ("path_map", "recorded", "seen", "judged", "left"),
    [
        # Nothing recorded yet (a first pass): every type but the inbox, the guard decides.
        ({}, {}, {".": 1, "studios": 1, "videos": 1}, ["studios", "videos"], []),
        # The devices as recorded: as the daemon's pass.
        ({}, {".": 1, "videos": 2}, {".": 1, "studios": 1, "videos": 2}, ["studios", "videos"], []),
        # videos on another device here (unmounted, or this host's own mount): left.
        (
            {},
            {".": 1, "videos": 2},
            {".": 1, "studios": 1, "videos": 9},
            ["studios"],
            [("videos", "device")],
        ),
        # videos not there at all here: left too.
        (
            {},
            {"videos": 2},
            {".": 1, "studios": 1, "videos": None},
            ["studios"],
            [("videos", "device")],
        ),
        # The root on another device: every type is left.
        (
            {},
            {".": 1},
            {".": 5, "studios": 5, "videos": 5},
            [],
            [("studios", "device"), ("videos", "device")],
        ),
        # Mapped elsewhere on this host (whole or a part): not in this tree, left.
        (
            {"videos/2024": Path("/mnt/v")},
            {},
            {".": 1, "studios": 1, "videos": 1},
            ["studios"],
            [("videos", "path_map")],
        ),
    ],
)
def test_judged_types(
    path_map: dict[str, Path],
    recorded: dict[str, int],
    seen: dict[str, int | None],
    judged: list[str],
    left: list[tuple[str, str]],
) -> None:
    got_judged, skipped = judged_types(TYPES, path_map, recorded, seen)
    assert got_judged == judged
    expected = [Skipped("inbox", "inbox"), *(Skipped(t, why) for t, why in left)]
    assert sorted(skipped, key=str) == sorted(expected, key=str)
