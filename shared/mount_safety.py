"""May a pass mark a type folder's vanished records missing? A pure decision (issue 11 §1).

An unmounted share, or an empty mount point, looks exactly like a mass deletion (Immich
offlined 68,811 assets in 6.6 s that way: immich-app/immich#30817). So before anything is
marked missing, anywhere (the daemon's passes and events, API scans, `videolib scan`),
the facts about the folder are put to `decide_missing`:

- no library marker at the root (or another library's): the library is not mounted;
- the root or the type folder on another device than recorded, or the folder empty while
  it holds records: that folder is not mounted;
- more than `max_fraction` of the folder's records, and at least `min_files`, would be
  marked: held until an admin applies it.

The edge (shared/mount_guard.py) gathers the facts and carries the decision out; the
cases are tested in tests/unit/test_mount_safety.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Marker(enum.Enum):
    """What the library root's marker file says."""

    PRESENT = "present"  # and it names this library (or none was recorded yet)
    ABSENT = "absent"
    FOREIGN = "foreign"  # it names another library: another share is mounted here
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class MissingLimits:
    """`daemon.max_missing_fraction` and `daemon.min_missing_files`."""

    max_fraction: float = 0.10
    min_files: int = 50


@dataclass(frozen=True, slots=True)
class FolderFacts:
    """What the edge saw of one type folder, for one pass."""

    marker: Marker
    root_device: int | None
    recorded_root_device: int | None
    device: int | None  # None: the folder is not there
    recorded_device: int | None  # None: never recorded (a first pass)
    empty: bool  # no entry at all: a bare mount point
    records: int  # records of the folder not yet missing or deleted
    vanished: int  # of those, how many the walk did not find


@dataclass(frozen=True, slots=True)
class Apply:
    """Mark the vanished records missing (maybe none) and record the folder's device."""

    count: int


class HoldKind(enum.Enum):
    UNMOUNTED = "unmounted"
    MASS_MISSING = "mass_missing"


@dataclass(frozen=True, slots=True)
class Hold:
    """Mark nothing; keep the pass for an admin to apply."""

    kind: HoldKind
    reason: str
    vanished: int
    records: int


Decision = Apply | Hold


def decide_missing(facts: FolderFacts, limits: MissingLimits, *, forced: bool = False) -> Decision:
    """Apply or hold one folder's missing marks; `forced` is an admin applying a held pass.

    An admin can override a device change, an empty folder and the mass guard, never a
    missing marker: without it there is no library to speak of (`videolib init`).
    """
    unmounted = library_unmounted(facts.marker)
    if unmounted is not None:
        return Hold(HoldKind.UNMOUNTED, unmounted, facts.vanished, facts.records)
    if facts.vanished == 0 or forced:
        return Apply(facts.vanished)
    reason = _folder_unmounted(facts)
    if reason is not None:
        return Hold(HoldKind.UNMOUNTED, reason, facts.vanished, facts.records)
    if is_mass_missing(facts.vanished, facts.records, limits):
        share = facts.vanished / facts.records
        reason = (
            f"{facts.vanished} of {facts.records} records ({share:.0%}) would be marked "
            f"missing, more than daemon.max_missing_fraction ({limits.max_fraction:.0%})"
        )
        return Hold(HoldKind.MASS_MISSING, reason, facts.vanished, facts.records)
    return Apply(facts.vanished)


def is_mass_missing(vanished: int, records: int, limits: MissingLimits) -> bool:
    """More than the fraction of the records, and at least the minimum count."""
    return vanished >= limits.min_files and vanished > limits.max_fraction * records


def library_unmounted(marker: Marker) -> str | None:
    """Why the library as a whole counts as not mounted, or None."""
    if marker is Marker.ABSENT:
        return f"no library marker ({MARKER_NAME}) at the library root: not mounted?"
    if marker is Marker.FOREIGN:
        return f"the library marker ({MARKER_NAME}) names another library: another share?"
    if marker is Marker.UNREADABLE:
        return f"the library marker ({MARKER_NAME}) cannot be read"
    return None


def events_may_mark(facts: FolderFacts) -> bool:
    """May a delete event mark a file missing? Marker and devices as recorded.

    The emptiness rule is left out: deleting a folder's last file is normal, one by one.
    """
    if library_unmounted(facts.marker) is not None:
        return False
    return _device_changed(facts) is None


def _folder_unmounted(facts: FolderFacts) -> str | None:
    changed = _device_changed(facts)
    if changed is not None:
        return changed
    if facts.empty and facts.records:
        return f"the folder is empty while it holds {facts.records} records: an empty mount point?"
    return None


def _device_changed(facts: FolderFacts) -> str | None:
    if facts.recorded_root_device is not None and facts.root_device != facts.recorded_root_device:
        return (
            f"the library root is on device {facts.root_device}, "
            f"recorded on {facts.recorded_root_device}"
        )
    if facts.recorded_device is not None and facts.device != facts.recorded_device:
        return f"the folder is on device {facts.device}, recorded on {facts.recorded_device}"
    return None


#: The marker file's name at the library root.
MARKER_NAME = ".videolib-library"
