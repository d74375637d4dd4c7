"""The mount guard's decision, case by case: no files, no devices, no database."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from videolib.shared.library_marker import MarkerFile, marker_status
from videolib.shared.mount_safety import (
    Apply,
    FolderFacts,
    Hold,
    HoldKind,
    Marker,
    MissingLimits,
    decide_missing,
    events_may_mark,
    is_mass_missing,
)

LIMITS = MissingLimits(max_fraction=0.10, min_files=50)
MOUNTED = FolderFacts(
    marker=Marker.PRESENT,
    root_device=1,
    recorded_root_device=1,
    device=7,
    recorded_device=7,
    empty=False,
    records=1000,
    vanished=10,
)


def facts(**changes: object) -> FolderFacts:
    return dataclasses.replace(MOUNTED, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "given", "forced", "expected"),
    [
        ("a few files deleted", facts(), False, Apply(10)),
        ("nothing vanished", facts(vanished=0), False, Apply(0)),
        (
            "first pass, nothing recorded",
            facts(recorded_device=None, recorded_root_device=None),
            False,
            Apply(10),
        ),
        ("no marker", facts(marker=Marker.ABSENT), False, HoldKind.UNMOUNTED),
        (
            "no marker, nothing vanished",
            facts(marker=Marker.ABSENT, vanished=0),
            False,
            HoldKind.UNMOUNTED,
        ),
        ("no marker, even forced", facts(marker=Marker.ABSENT), True, HoldKind.UNMOUNTED),
        ("another library's marker", facts(marker=Marker.FOREIGN), False, HoldKind.UNMOUNTED),
        ("unreadable marker", facts(marker=Marker.UNREADABLE), False, HoldKind.UNMOUNTED),
        ("folder on another device", facts(device=1), False, HoldKind.UNMOUNTED),
        ("root on another device", facts(root_device=2), False, HoldKind.UNMOUNTED),
        ("other device, forced", facts(device=1), True, Apply(10)),
        ("other device, nothing vanished", facts(device=1, vanished=0), False, Apply(0)),
        (
            "empty while holding records",
            facts(empty=True, vanished=1000),
            False,
            HoldKind.UNMOUNTED,
        ),
        ("empty, few records", facts(empty=True, records=3, vanished=3), False, HoldKind.UNMOUNTED),
        ("empty, forced", facts(empty=True, vanished=1000), True, Apply(1000)),
        ("empty, no records", facts(empty=True, records=0, vanished=0), False, Apply(0)),
        ("exactly 10 %", facts(vanished=100), False, Apply(100)),
        ("just over 10 %", facts(vanished=101), False, HoldKind.MASS_MISSING),
        ("mass, forced", facts(vanished=900), True, Apply(900)),
        ("over 10 % but under 50 files", facts(records=100, vanished=49), False, Apply(49)),
        ("over 10 % and 50 files", facts(records=100, vanished=50), False, HoldKind.MASS_MISSING),
        ("all of a small folder", facts(records=5, vanished=5), False, Apply(5)),
    ],
)
def test_decide_missing(
    case: str, given: FolderFacts, forced: bool, expected: Apply | HoldKind
) -> None:
    decision = decide_missing(given, LIMITS, forced=forced)
    if isinstance(expected, Apply):
        assert decision == expected, case
    else:
        assert isinstance(decision, Hold), case
        assert decision.kind is expected, case
        assert decision.vanished == given.vanished and decision.records == given.records


def test_a_hold_says_why() -> None:
    held = decide_missing(facts(vanished=500), LIMITS)
    assert isinstance(held, Hold)
    assert "500 of 1000 records (50%)" in held.reason
    assert "daemon.max_missing_fraction" in held.reason
    unmounted = decide_missing(facts(device=1), LIMITS)
    assert isinstance(unmounted, Hold) and "device 1, recorded on 7" in unmounted.reason
    no_marker = decide_missing(facts(marker=Marker.ABSENT), LIMITS)
    assert isinstance(no_marker, Hold) and ".videolib-library" in no_marker.reason


@pytest.mark.parametrize(
    ("vanished", "records", "limits", "expected"),
    [
        (50, 100, LIMITS, True),
        (49, 100, LIMITS, False),
        (50, 500, LIMITS, False),  # exactly 10 %
        (51, 500, LIMITS, True),
        (5, 5, MissingLimits(0.5, 1), True),
        (1, 5, MissingLimits(0.5, 1), False),
        (0, 0, MissingLimits(0.0, 0), False),
    ],
)
def test_is_mass_missing(
    vanished: int, records: int, limits: MissingLimits, expected: bool
) -> None:
    assert is_mass_missing(vanished, records, limits) is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (facts(), True),
        (facts(empty=True), True),  # the last file of a folder deleted by hand
        (facts(recorded_device=None), True),
        (facts(marker=Marker.ABSENT), False),
        (facts(marker=Marker.FOREIGN), False),
        (facts(device=1), False),
        (facts(root_device=9), False),
    ],
)
def test_events_may_mark(given: FolderFacts, expected: bool) -> None:
    assert events_may_mark(given) is expected


@pytest.mark.parametrize(
    ("marker", "recorded", "expected"),
    [
        (MarkerFile(Path("m"), "a"), "a", Marker.PRESENT),
        (MarkerFile(Path("m"), "a"), None, Marker.PRESENT),
        (MarkerFile(Path("m"), "a"), "b", Marker.FOREIGN),
        (MarkerFile(Path("m"), None), "a", Marker.ABSENT),
        (MarkerFile(Path("m"), None, "no library id in it"), None, Marker.UNREADABLE),
    ],
)
def test_marker_status(marker: MarkerFile, recorded: str | None, expected: Marker) -> None:
    assert marker_status(marker, recorded) is expected
