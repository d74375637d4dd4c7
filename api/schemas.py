"""Request and response models (pydantic v2): validation in, the OpenAPI document out.

JSON is camelCase (the seed's names); Python attributes are snake_case.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from videolib.api.text import NameText, PathText, TagText, Text
from videolib.shared.errors import VideolibError
from videolib.shared.media.names import DIRECTORY_TYPES

DirectoryType = Literal[
    "studios", "gifs", "private", "inbox", "curated", "playback", "compilations", "videos",
    "highlights",
]  # fmt: skip
assert set(get_args(DirectoryType)) == set(DIRECTORY_TYPES)  # one list, checked at import
Orientation = Literal["portrait", "landscape", "square"]
Quality = Literal["SD", "HD", "FHD", "UHD"]
SortKey = Literal[
    "createdAt", "-createdAt", "title", "-title", "durationSeconds", "-durationSeconds",
    "fileSize", "-fileSize",
]  # fmt: skip
InvalidReason = Literal["deleted", "missing", "corrupt", "unreadable", "trashed"]
CleanupReason = Literal["deleted", "missing", "corrupt"]
JobStatus = Literal["running", "succeeded", "failed", "cancelled"]

MAX_TAGS = 100
#: A cursor's length bound: a keyset of a 500-character title is about 2,800 characters,
#: and the whole request line must stay under aiohttp's 8,190 bytes.
MAX_CURSOR = 6000

Model = TypeVar("Model", bound=BaseModel)


class BadRequestError(VideolibError):
    """The request is not valid."""

    status = 400
    code = "bad_request"


class UnsupportedMediaTypeError(VideolibError):
    """The body is not of a content type this route reads."""

    status = 415
    code = "unsupported_media_type"


def parse(model: type[Model], data: Any) -> Model:
    """Validate input into a model; a 400 naming the first offending field otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        reason = first["msg"].removeprefix("Value error, ")
        raise BadRequestError(f"{where}: {reason}") from None


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# -- requests ----------------------------------------------------------------------------


class ListQuery(ApiModel):
    # Unknown query parameters are ignored (cache busters); unknown body fields are not.
    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(20, ge=1, le=100)
    directory_type: DirectoryType | None = None
    orientation: Orientation | None = None
    #: One quality or several, comma-separated (`HD,FHD`: the page's checkboxes).
    quality: list[Quality] | None = None
    producer: Text | None = None
    creator: Text | None = None
    has_audio: bool | None = None
    is_valid: bool = True
    search: Text | None = None
    sort: SortKey = "-createdAt"
    #: A page's `nextCursor` or `prevCursor`: the page past (or before) it, found by its
    #: keys (constant time at any depth), with the same sort; instead of `page`.
    cursor: str | None = Field(
        None,
        max_length=MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]+$",
        description=(
            "The nextCursor or prevCursor of a page of this listing: the page after or "
            "before it, at the same cost at any depth. Send the same sort (another one is "
            "a 400); filters and limit may change. Not together with page."
        ),
    )

    @field_validator("quality", mode="before")
    @classmethod
    def _split_qualities(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()] or None
        return value


class PageQuery(ApiModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(20, ge=1, le=100)


class TagsQuery(ApiModel):
    model_config = ConfigDict(extra="ignore")

    prefix: TagText | None = None
    limit: int = Field(20, ge=1, le=100)


class CleanupQuery(ApiModel):
    """A clean-up selection: invalid videos by reason (comma-separated) and age."""

    model_config = ConfigDict(extra="ignore")

    reasons: list[CleanupReason] = Field(min_length=1)
    #: Only records unchanged (invalid) for at least this many days.
    older_than_days: float = Field(0, ge=0, le=36500)

    @field_validator("reasons", mode="before")
    @classmethod
    def _split_reasons(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class CleanupSeen(ApiModel):
    """A record of the dry run, as it was listed: acted on only if unchanged since."""

    id: uuid.UUID
    updated_at: datetime


class CleanupRequest(ApiModel):
    reasons: list[CleanupReason] = Field(min_length=1)
    older_than_days: float = Field(0, ge=0, le=36500)
    items: list[CleanupSeen] = Field(min_length=1, max_length=10_000)


class DeleteQuery(ApiModel):
    model_config = ConfigDict(extra="ignore")

    permanent: bool = False
    #: "trash": move the video's file to the library's trash too (restorable).
    file: Literal["trash"] | None = None

    @field_validator("file")
    @classmethod
    def _one_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("permanent"):
            raise ValueError(
                "give file=trash (trash the file, keep the record restorable) or "
                "permanent=true (drop an invalid record), not both"
            )
        return value


def clean_tags(tags: list[str] | None) -> list[str] | None:
    """Trimmed, empty ones dropped, duplicates removed keeping the first."""
    if tags is None:
        return None
    cleaned = [tag.strip() for tag in tags]
    return list(dict.fromkeys(tag for tag in cleaned if tag))


class EditableFields(ApiModel):
    """What an admin may edit (PUT, bulk update, and the metadata of a create)."""

    producer: Text | None = None
    creator: Text | None = None
    title: Text | None = None
    #: Each tag at most MAX_TAG characters (the field names the tag's index).
    tags: list[TagText] | None = Field(None, max_length=MAX_TAGS)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str] | None) -> list[str] | None:
        return clean_tags(tags)

    def edits(self) -> dict[str, Any]:
        """The given fields as column values (an explicit null clears a field)."""
        values = self.model_dump(include=self.model_fields_set)
        if "tags" in values and values["tags"] is None:
            values["tags"] = []
        return values


class UpdateVideo(EditableFields):
    thumbnail_path: PathText | None = None

    @field_validator("thumbnail_path")
    @classmethod
    def _relative(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = PurePosixPath(value).parts
        if not parts or value.startswith("/") or "\\" in value or ".." in parts:
            raise ValueError("must be a relative path inside the library, without '..'")
        return value

    @model_validator(mode="after")
    def _something(self) -> UpdateVideo:
        if not self.model_fields_set:
            raise ValueError("nothing to update")
        return self


class CreateVideo(EditableFields):
    path: PathText
    # The seed's body repeats these; they must agree with the path when given.
    filename: NameText | None = None
    directory_type: DirectoryType | None = None


class ScanRequest(ApiModel):
    directory_type: DirectoryType
    skip_existing: bool = True
    run_async: bool = Field(False, alias="async")


class BulkRequest(ApiModel):
    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    action: Literal["validate", "update"]
    set: UpdateVideo | None = None

    @model_validator(mode="after")
    def _update_needs_set(self) -> BulkRequest:
        if self.action == "update" and self.set is None:
            raise ValueError("action update needs `set`")
        return self


# -- responses ---------------------------------------------------------------------------


class Video(ApiModel):
    id: uuid.UUID
    path: str
    filename: str
    original_filename: str | None
    directory_type: DirectoryType
    producer: str | None
    creator: str | None
    title: str | None
    tags: list[str]
    duration_seconds: int | None
    quality: Quality | None
    orientation: Orientation | None
    has_audio: bool | None
    width: int | None
    height: int | None
    file_size: int | None
    file_hash: str | None
    is_valid: bool
    invalid_reason: InvalidReason | None
    probe_error: str | None
    last_validated: datetime | None
    standardized_at: datetime | None
    thumbnail_path: str | None
    trashed_from: str | None
    trashed_at: datetime | None
    public_view_count: int
    public_upvote_count: int
    created_at: datetime
    updated_at: datetime


class Pagination(ApiModel):
    page: int | None = Field(
        description="The page number; null for a page read by cursor (its place is unknown)."
    )
    limit: int
    total: int = Field(
        description=(
            "Rows matching the filters. Counted once per filter set and reused for a few "
            "seconds by every page of it, cursor pages too, so it may lag the table."
        )
    )
    total_pages: int = Field(description="ceil(total / limit).")
    # The video list's; other lists (duplicates) page by number only and give null.
    next_cursor: str | None = Field(
        None, description="Send as cursor= for the page after this one; null on the last."
    )
    prev_cursor: str | None = Field(
        None, description="Send as cursor= for the page before this one; null on the first."
    )


class VideoList(ApiModel):
    data: list[Video]
    pagination: Pagination


class Deleted(ApiModel):
    success: bool
    message: str
    #: With file=trash: the record, now trashed (its path is the trash path).
    video: Video | None = None


class CleanupCandidate(ApiModel):
    video: Video
    on_disk: bool
    #: The file's size on disk, else the recorded one.
    size: int | None


class CleanupPreview(ApiModel):
    data: list[CleanupCandidate]
    count: int
    total_bytes: int
    #: True when more records matched than one selection lists.
    truncated: bool


class CleanupItem(ApiModel):
    id: uuid.UUID
    outcome: Literal["trashed", "dropped", "skipped", "failed"]
    path: str | None
    trash_path: str | None
    size: int | None
    reason: str | None


class CleanupReport(ApiModel):
    trashed: int
    dropped: int
    skipped: int
    failed: int
    trashed_bytes: int
    items: list[CleanupItem]


class HeldMissing(ApiModel):
    """One type's missing marks a pass held back (issue 11 §1)."""

    directory_type: DirectoryType
    kind: Literal["unmounted", "mass_missing"]
    reason: str
    missing: int
    records: int


class ScanResult(ApiModel):
    scanned: int
    created: int
    updated: int
    skipped: int
    failed: int
    #: The first 100 problem messages; errorsTotal counts them all.
    errors: list[str]
    errors_total: int
    moved: int
    missing: int
    #: Types whose missing marks were held: not mounted, or too many at once.
    held: list[HeldMissing]


class HeldPass(ApiModel):
    directory_type: DirectoryType
    kind: Literal["unmounted", "mass_missing"]
    reason: str
    missing: int
    records: int
    held_at: datetime
    #: Passes held in a row since the type last applied one.
    passes: int


class HeldPasses(ApiModel):
    #: False without the library marker: then nothing is marked missing anywhere.
    library_mounted: bool
    library_reason: str | None
    held_passes: list[HeldPass]


class ApplyHeldRequest(ApiModel):
    directory_type: DirectoryType


class JobAccepted(ApiModel):
    job_id: uuid.UUID
    status: JobStatus


class ScanJob(ApiModel):
    job_id: uuid.UUID
    status: JobStatus
    directory_types: list[DirectoryType]
    skip_existing: bool
    #: Counts so far while running; the final result when finished.
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class ProbedMetadata(ApiModel):
    duration_seconds: int | None
    width: int | None
    height: int | None
    quality: Quality | None
    orientation: Orientation | None
    has_audio: bool | None


class Validated(ApiModel):
    id: uuid.UUID
    is_valid: bool
    invalid_reason: InvalidReason | None
    last_validated: datetime | None
    metadata: ProbedMetadata


class BulkItem(ApiModel):
    id: uuid.UUID
    ok: bool
    error: str | None = None
    video: Video | None = None


class BulkResult(ApiModel):
    results: list[BulkItem]


class DuplicateGroup(ApiModel):
    file_hash: str
    copies: int
    file_size: int
    wasted_bytes: int
    videos: list[Video]


class DuplicateList(ApiModel):
    data: list[DuplicateGroup]
    pagination: Pagination


class TagCount(ApiModel):
    tag: str
    count: int


class TagList(ApiModel):
    data: list[TagCount]


FindingStatus = Literal["open", "accepted", "intact", "superseded"]


class FindingQuery(ApiModel):
    model_config = ConfigDict(extra="ignore")

    status: FindingStatus | Literal["all"] = "open"
    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(20, ge=1, le=100)


class FindingExportQuery(ApiModel):
    model_config = ConfigDict(extra="ignore")

    status: FindingStatus | Literal["all"] = "open"


class Finding(ApiModel):
    """A file whose SHA-256 changed while its size and mtime did not."""

    id: uuid.UUID
    video_id: uuid.UUID | None
    path: str
    file_size: int
    file_mtime_ns: int
    recorded_hash: str
    observed_hash: str
    status: FindingStatus
    found_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class FindingList(ApiModel):
    data: list[Finding]
    pagination: Pagination


class FindingReview(ApiModel):
    """What a re-check found, and the finding after it."""

    outcome: Literal["accepted", "intact", "superseded", "still_mismatch"]
    finding: Finding


class IntegrityStatus(ApiModel):
    """Where verification stands: open findings, the cycle under way, the last full one."""

    open_findings: int
    cycle_in_progress: bool
    cursor: str | None
    cycle_started_at: datetime | None
    last_full_cycle_at: datetime | None


class Error(ApiModel):
    error: str
    message: str
    request_id: str | None = None


class Health(ApiModel):
    status: str


EventKind = Literal[
    "ingested", "reprobed", "moved", "edited", "invalidated", "restored", "validated",
    "trashed", "purged", "deleted",
]  # fmt: skip


class VideoEvent(ApiModel):
    id: int
    video_id: uuid.UUID
    occurred_at: datetime
    #: The admin token's `sub` (or `api` for a token without one), `daemon` or `cli`.
    actor: str
    kind: EventKind
    #: What changed: `{field: {old, new}}` for edits and re-probes, `{from, to}` for a move,
    #: `{reason, previousReason}` for a change of validity.
    changes: dict[str, Any]


class VideoHistory(ApiModel):
    data: list[VideoEvent]
    pagination: Pagination


# -- near-duplicates (issue 12 §3) ------------------------------------------------------------


class SimilarQuery(ApiModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(20, ge=1, le=100, description="Matches to return at most, best first.")


class MatchedRange(ApiModel):
    """Seconds [start, end) of one video that match the other."""

    start: int
    end: int


class MatchExplanation(ApiModel):
    """Which parts of two videos show the same pictures, and at what offset.

    `a` is the video compared with (the one asked about, or the group's first), `b` this
    video: b's second `a.start + offsetSeconds` shows a's second `a.start`.
    """

    score: float = Field(description="Matched seconds over the shorter video's seconds, 0..1.")
    offset_seconds: int = Field(description="b's time minus a's time over the matched part.")
    matched_seconds: int
    a: MatchedRange
    b: MatchedRange
    mirrored: bool = Field(description="True when b shows a's picture flipped left to right.")


class NearDuplicateVideo(ApiModel):
    """A video as the near-duplicate views show it."""

    id: uuid.UUID
    path: str
    title: str | None
    duration_seconds: int | None
    file_size: int | None
    quality: Quality | None
    width: int | None
    height: int | None
    is_valid: bool
    invalid_reason: InvalidReason | None
    thumbnail_url: str | None = Field(description="Null until the video has a thumbnail.")
    stream_url: str


class SimilarVideo(ApiModel):
    video: NearDuplicateVideo
    match: MatchExplanation


class SimilarList(ApiModel):
    """Videos that show the same pictures as the one asked about, best match first."""

    data: list[SimilarVideo]
    candidates: int = Field(description="Videos the index proposed.")
    compared: int = Field(description="Of those, the ones compared second by second.")
    capped: bool = Field(
        description="True when not every candidate was compared (the index proposed more "
        "than one request verifies): a weak match may then be missing."
    )


class NearDuplicateMember(ApiModel):
    video: NearDuplicateVideo
    is_first: bool = Field(description="The group's first member: the suggested keeper.")
    match: MatchExplanation | None = Field(
        description="How this member matches the group's first; null for the first itself, "
        "and for a member that matches it only through other members."
    )


class NearDuplicateGroup(ApiModel):
    """Videos linked by matches (a connected component), the suggested keeper first."""

    group_id: uuid.UUID
    size: int
    members: list[NearDuplicateMember]


class NearDuplicateList(ApiModel):
    data: list[NearDuplicateGroup]
    pagination: Pagination


class Fingerprint(ApiModel):
    """A video's fingerprint (issue 12 §3), or where the deferred job is with it."""

    video_id: uuid.UUID
    status: Literal["done", "pending", "working", "retrying", "gaveUp"] = Field(
        description=(
            "done: computed; pending: waiting for the job; working: being computed; "
            "retrying: failed, tried again at retryAt; gaveUp: failed maxAttempts times, "
            "not tried again until the file changes (error says why)."
        )
    )
    phash: str | None = Field(
        description="Stash's video pHash, as Stash writes it (16 hex digits); null if none."
    )
    seconds: int | None = Field(description="Per-second frame hashes stored.")
    algorithm: int | None
    computed_at: datetime | None
    attempts: int = Field(description="Failed attempts at the current file.")
    max_attempts: int
    error: str | None = Field(description="Why the last attempt failed.")
    retry_at: datetime | None
