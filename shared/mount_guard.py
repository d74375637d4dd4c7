"""Mount safety at the edge: gather a folder's facts, decide (shared/mount_safety), record.

One object for every caller that marks records missing: the daemon's passes and delete
events, API scans and `videolib scan` / `videolib reconcile`. An applied pass records the
folders' devices; a held one is kept in `library_folders` (the admin page's banner, the
CLI and the API apply it) and logged as `missing_held`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.db.repository import ROOT_FOLDER, MountRepository, SettingsRepository
from videolib.shared.library import INBOX, Library
from videolib.shared.library_marker import LIBRARY_ID_SETTING, marker_status, read_marker
from videolib.shared.logging import get_logger
from videolib.shared.mount_safety import (
    Apply,
    Decision,
    FolderFacts,
    Hold,
    Marker,
    MissingLimits,
    events_may_mark,
    library_unmounted,
)
from videolib.shared.mount_safety import decide_missing as decide

log = get_logger(__name__)

#: Told of each held pass (the daemon counts them in a metric).
OnHold = Callable[[str, Hold], None]


@dataclass(frozen=True, slots=True)
class DiskFacts:
    """The blocking part of the facts: devices and emptiness, read in a thread."""

    root_device: int | None
    device: int | None
    empty: bool


def limits_from(config: Config) -> MissingLimits:
    return MissingLimits(config.daemon.max_missing_fraction, config.daemon.min_missing_files)


class MountGuard:
    """Decides and records, for one library, whether missing marks may be applied."""

    def __init__(
        self,
        library: Library,
        engine: AsyncEngine,
        limits: MissingLimits | None = None,
        *,
        on_hold: OnHold | None = None,
    ) -> None:
        self.library = library
        self.limits = limits or MissingLimits()
        self.folders = MountRepository(engine)
        self.settings = SettingsRepository(engine)
        self.on_hold = on_hold
        self._devices: dict[str, int] | None = None  # cached for events; reset by passes

    async def marker(self) -> Marker:
        """The root's marker against the library id recorded in the database."""
        recorded = await self.settings.setting(LIBRARY_ID_SETTING)
        return marker_status(await asyncio.to_thread(read_marker, self.library.root), recorded)

    async def unmounted_reason(self) -> str | None:
        """Why the library as a whole counts as not mounted (readiness, doctor), or None."""
        return library_unmounted(await self.marker())

    async def settle(
        self,
        directory_type: str,
        *,
        records: int,
        vanished: int,
        marker: Marker,
        forced: bool = False,
    ) -> Decision:
        """Decide one folder's missing marks for a pass, and record the outcome."""
        facts = await self._facts(directory_type, marker, records=records, vanished=vanished)
        decision = decide(facts, self.limits, forced=forced)
        if isinstance(decision, Apply):
            seen = {ROOT_FOLDER: facts.root_device, directory_type: facts.device}
            await self.folders.applied({k: v for k, v in seen.items() if v is not None})
            self._devices = None
        elif decision.vanished:  # nothing held back when nothing vanished
            passes = await self.folders.hold(
                directory_type,
                decision.kind.value,
                decision.reason,
                decision.vanished,
                decision.records,
            )
            log.warning(
                "missing_held",
                directory_type=directory_type,
                kind=decision.kind.value,
                reason=decision.reason,
                missing=decision.vanished,
                records=decision.records,
                passes_held=passes,
            )
            if self.on_hold is not None:
                self.on_hold(directory_type, decision)
        return decision

    async def events_may_mark(self, directory_type: str) -> bool:
        """May a delete event under this type mark its record missing now?"""
        facts = await self._facts(directory_type, await self.marker(), records=0, vanished=0)
        allowed = events_may_mark(facts)
        if not allowed:
            log.warning("missing_event_held", directory_type=directory_type)
        return allowed

    async def devices_changed(self) -> bool:
        """Is any folder on another device than recorded (a share came back or went)?"""
        devices = await self._recorded_devices()
        now = await asyncio.to_thread(self._devices_now, list(devices))
        return any(now.get(folder) != device for folder, device in devices.items())

    async def _facts(
        self, directory_type: str, marker: Marker, *, records: int, vanished: int
    ) -> FolderFacts:
        devices = await self._recorded_devices()
        disk = await asyncio.to_thread(self._disk, self.library.directory(directory_type))
        return FolderFacts(
            marker=marker,
            root_device=disk.root_device,
            recorded_root_device=devices.get(ROOT_FOLDER),
            device=disk.device,
            recorded_device=devices.get(directory_type),
            # The inbox empties after every move out of it: bare is normal there, and a
            # stale inbox record must not hold it for ever (its device still counts).
            empty=disk.empty and directory_type != INBOX,
            records=records,
            vanished=vanished,
        )

    async def _recorded_devices(self) -> dict[str, int]:
        if self._devices is None:
            self._devices = await self.folders.devices()
        return self._devices

    def _disk(self, folder: Path) -> DiskFacts:
        return DiskFacts(_device(self.library.root), _device(folder), _is_empty(folder))

    def _devices_now(self, names: list[str]) -> dict[str, int | None]:
        return {
            name: _device(
                self.library.root if name == ROOT_FOLDER else self.library.directory(name)
            )
            for name in names
        }


def _device(folder: Path) -> int | None:
    try:
        return os.stat(folder).st_dev
    except OSError:
        return None


def _is_empty(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return True  # not there or not readable: nothing in it can be counted on
