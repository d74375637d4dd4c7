"""Frozen records that go in and out of the repository."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from videolib.shared.media.probe import Metadata

Outcome = Literal["created", "updated", "moved"]


@dataclass(frozen=True, slots=True)
class Video:
    """One row of `videos`."""

    id: uuid.UUID
    path: str
    filename: str
    original_filename: str | None
    directory_type: str
    producer: str | None
    creator: str | None
    title: str | None
    tags: list[str]
    duration_seconds: int | None
    quality: str | None
    orientation: str | None
    has_audio: bool | None
    width: int | None
    height: int | None
    file_size: int | None
    file_hash: str | None
    file_mtime_ns: int | None
    is_valid: bool
    invalid_reason: str | None
    probe_error: str | None
    last_validated: datetime | None
    standardized_at: datetime | None
    thumbnail_path: str | None
    #: Set while the file is in the trash: the path it came from, and when it went.
    trashed_from: str | None
    trashed_at: datetime | None
    public_view_count: int
    public_upvote_count: int
    moved_from_public_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Video:
        mapping = row._mapping
        return cls(*[mapping[name] for name in _VIDEO_FIELDS])


# Looked up once: from_row runs for every row of every list page.
_VIDEO_FIELDS = tuple(f.name for f in fields(Video))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a rescan needs to know of a recorded file to skip it unread."""

    size: int | None
    mtime_ns: int | None
    invalid_reason: str | None

    @property
    def is_valid(self) -> bool:
        return self.invalid_reason is None  # the table's check constraint says the same


@dataclass(frozen=True, slots=True)
class ExaminedFile:
    """A file that was stat-ed, probed and hashed, ready to be recorded."""

    path: str
    filename: str
    directory_type: str
    #: None when the file could not be stat-ed (unreadable); the columns allow it.
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    metadata: Metadata | None
    #: Why the probe failed, shown to users; None when it succeeded.
    error: str | None = None
    #: `corrupt` or `unreadable` when the probe failed.
    invalid_reason: str | None = None
    #: "crashed" or "timed out" when the file cost a worker its life (remembered).
    lost_worker: str | None = None
    #: Set by the inbox: the name the file had when it was dropped.
    original_filename: str | None = None
    #: Set by the inbox when the file was moved to its standard place.
    standardized: bool = False


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    id: uuid.UUID
    path: str
    outcome: Outcome
