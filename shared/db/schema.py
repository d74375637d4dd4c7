"""SQLAlchemy Core table definitions: the seed's `videos` schema, corrected per SPEC.

Alembic migrations must match these (tests/integration/test_migrations.py checks it).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from videolib.shared.media.names import DIRECTORY_TYPES

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: "trashed": the file was moved to the library's trash (`.trash/<date>/...`) by an admin;
#: the record's path is then the trash path and `trashed_from` the path it came from.
INVALID_REASONS = ("deleted", "missing", "corrupt", "unreadable", "trashed")
QUALITIES = ("SD", "HD", "FHD", "UHD")
ORIENTATIONS = ("portrait", "landscape", "square")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


# The expression of the seed's full-text index; queries must repeat it exactly for the
# planner to use the index.
SEARCH_DOCUMENT = (
    "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || "
    "coalesce(producer, '') || ' ' || coalesce(creator, ''))"
)

TRASH_STATE = (
    "(invalid_reason IS NOT DISTINCT FROM 'trashed') = "
    "(trashed_from IS NOT NULL AND trashed_at IS NOT NULL)"
)

# What the substring search matches (repository/search.py): the three columns joined by a
# control character, so that a term without one cannot match across two columns. Served by
# the optional pg_trgm index idx_videos_substring (shared/db/trigram.py): not declared below,
# since a database without pg_trgm has none.
SUBSTRING_SEPARATOR = "\x1f"
SUBSTRING_DOCUMENT = (
    "(coalesce(title, '') || E'\\x1f' || coalesce(producer, '') || E'\\x1f' || "
    "coalesce(creator, ''))"
)

videos = Table(
    "videos",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    # File information. `path` is relative to the library root, with "/" separators.
    Column("path", Text, nullable=False, unique=True),
    Column("filename", Text, nullable=False),
    Column("original_filename", Text),
    Column("directory_type", Text, nullable=False),
    # Metadata edited by admins.
    Column("producer", Text),
    Column("creator", Text),
    Column("title", Text),
    Column("tags", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # Video properties, from the probe. width/height are the displayed size.
    Column("duration_seconds", Integer),
    Column("quality", Text),
    Column("orientation", Text),
    Column("has_audio", Boolean, server_default=text("false")),
    Column("width", Integer),
    Column("height", Integer),
    # File details. BIGINT: files over 2 GiB exist (the seed's integer overflows).
    Column("file_size", BigInteger),
    Column("file_hash", Text),
    # The stat fingerprint: with file_size, lets a rescan skip unchanged files unread.
    Column("file_mtime_ns", BigInteger),
    # Validation.
    Column("is_valid", Boolean, nullable=False, server_default=text("true")),
    Column("invalid_reason", Text),
    Column("probe_error", Text),
    Column("last_validated", DateTime(timezone=True)),
    Column("standardized_at", DateTime(timezone=True)),
    Column("thumbnail_path", Text),
    # Trash (issue 11 §3): where a trashed file came from, and when it went.
    Column("trashed_from", Text),
    Column("trashed_at", DateTime(timezone=True)),
    # Public sharing (kept for compatibility with the main API).
    Column("public_view_count", Integer, nullable=False, server_default=text("0")),
    Column("public_upvote_count", Integer, nullable=False, server_default=text("0")),
    Column("moved_from_public_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("directory_type", DIRECTORY_TYPES), name="directory_type"),
    CheckConstraint(_one_of("invalid_reason", INVALID_REASONS), name="invalid_reason"),
    CheckConstraint(_one_of("quality", QUALITIES), name="quality"),
    CheckConstraint(_one_of("orientation", ORIENTATIONS), name="orientation"),
    # A valid row has no reason; an invalid one says why.
    CheckConstraint("is_valid = (invalid_reason IS NULL)", name="validity"),
    # A trashed row, and only one, says where its file came from and when.
    CheckConstraint(TRASH_STATE, name="trash_state"),
    # The seed's performance section.
    Index("idx_videos_directory_type", "directory_type"),
    Index("idx_videos_orientation", "orientation"),
    Index("idx_videos_quality", "quality"),
    Index("idx_videos_is_valid", "is_valid"),
    Index("idx_videos_created_at", text("created_at DESC")),
    Index("idx_videos_filters", "directory_type", "is_valid", text("created_at DESC")),
    Index("idx_videos_search", text(SEARCH_DOCUMENT), postgresql_using="gin"),
    # Duplicates and moved-file recognition look rows up by hash.
    Index("idx_videos_file_hash", "file_hash"),
    # The default listing's ids in order, read alone (index-only) for deep pages.
    Index("idx_videos_listing", "is_valid", text("created_at DESC"), text("id DESC")),
    # The other sorts' keys in order, read as a range, forwards or backwards, by keyset
    # pages (listing.py) at any depth; NULLs sit apart at the end of each.
    Index("idx_videos_by_title", "is_valid", "title", "id"),
    Index("idx_videos_by_duration", "is_valid", "duration_seconds", "id"),
    Index("idx_videos_by_size", "is_valid", "file_size", "id"),
    # Paths in code point order, whatever the database's collation: a rescan pages through
    # a type's records in the order of its walk and merge-joins the two.
    Index("idx_videos_path_bytes", text('path COLLATE "C"')),
)

settings = Table(
    "settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# -- API: scan jobs ---------------------------------------------------------------------

JOB_STATUSES = ("running", "succeeded", "failed", "cancelled")

# Asynchronous API scans. In a table, not in memory, so that any API process behind a load
# balancer can answer `GET /api/media/scans/{jobId}`.
scan_jobs = Table(
    "scan_jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column("directory_types", JSONB, nullable=False),
    Column("skip_existing", Boolean, nullable=False),
    Column("status", Text, nullable=False),
    # The counts so far while running, the final ScanResult when finished.
    Column("result", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint(_one_of("status", JOB_STATUSES), name="status"),
    Index("ix_scan_jobs_status", "status"),
)

# -- thumbnails -------------------------------------------------------------------------

#: done: made; failed: the last try failed, the engine retries it; gave_up: after N tries.
THUMBNAIL_STATUSES = ("done", "failed", "gave_up")

# One row per video a thumbnail was attempted for: the queue's state, kept apart from
# `videos` so that a failure never touches the video's validity. `path` is relative to the
# thumbnail directory; `videos.thumbnail_path` equal to it means the thumbnail is ours, any
# other value is an admin's custom one (PUT), which wins.
thumbnails = Table(
    "thumbnails",
    metadata,
    Column(
        "video_id",
        UUID(as_uuid=True),
        ForeignKey("videos.id", ondelete="CASCADE", name="fk_thumbnails_video_id_videos"),
        primary_key=True,
    ),
    Column("status", Text, nullable=False),
    Column("path", Text),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("status", THUMBNAIL_STATUSES), name="status"),
)

# The worker's "which videos still need one": small once the backlog is done, so cheap to poll.
Index(
    "ix_videos_thumbnail_missing",
    videos.c.created_at,
    postgresql_where=text("is_valid AND thumbnail_path IS NULL"),
)

# -- examination failures -------------------------------------------------------------------

WORKER_FAILURES = ("crashed", "timed out")

# Files that crashed or hung an examiner worker, with the fingerprint they had: skipped by
# scans until their retry is due (1 h, then a day: shared/decisions.py) or they change.
# Keyed by library path, not video id: the record of such a file may not exist yet.
examination_failures = Table(
    "examination_failures",
    metadata,
    Column("path", Text, primary_key=True),
    Column("file_size", BigInteger, nullable=False),
    Column("file_mtime_ns", BigInteger, nullable=False),
    Column("failure", Text, nullable=False),
    Column("error", Text),
    Column("attempts", Integer, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retry_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(_one_of("failure", WORKER_FAILURES), name="failure"),
)

# -- history ----------------------------------------------------------------------------------

EVENT_KINDS = (
    "ingested",
    "reprobed",
    "moved",
    "edited",
    "invalidated",
    "restored",
    "validated",
    "trashed",
    "purged",
    "deleted",
)

# Every change of a `videos` row, written by a trigger in the transaction of the change
# (migration 0012: whatever the writer, it cannot forget). No foreign key: the history of
# a video outlives its permanent delete ("deleted" is its last event).
video_events = Table(
    "video_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("video_id", UUID(as_uuid=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("changes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    CheckConstraint(_one_of("kind", EVENT_KINDS), name="kind"),
    Index("idx_video_events_video", "video_id", text("id DESC")),
)

# -- mount safety -----------------------------------------------------------------------

HOLD_KINDS = ("unmounted", "mass_missing")

# One row per library folder ("." the root, else a directory type): the device (st_dev)
# it was on when a pass last applied, and the pass held back from marking its records
# missing, if any, until the folder is back or an admin applies it (shared/mount_safety.py).
library_folders = Table(
    "library_folders",
    metadata,
    Column("folder", Text, primary_key=True),
    Column("device", BigInteger),
    Column("device_seen_at", DateTime(timezone=True)),
    Column("held_kind", Text),
    Column("held_reason", Text),
    Column("held_missing", Integer),
    Column("held_records", Integer),
    Column("held_at", DateTime(timezone=True)),
    # Passes held since the folder last applied one: each held pass counts once.
    Column("held_passes", Integer, nullable=False, server_default=text("0")),
    CheckConstraint(f"held_kind IS NULL OR {_one_of('held_kind', HOLD_KINDS)}", name="held_kind"),
)

# -- integrity findings ---------------------------------------------------------------------

FINDING_STATUSES = ("open", "accepted", "intact", "superseded")

# Files whose SHA-256 changed while size and mtime did not (shared/integrity/verdict.py),
# with both hashes. Never deleted: a resolution is recorded beside the finding. The video's
# `file_hash` is changed only by an admin's accept, after a re-check. `video_id` is set to
# NULL when the record is deleted for good; the path and hashes stay.
integrity_findings = Table(
    "integrity_findings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column(
        "video_id",
        UUID(as_uuid=True),
        ForeignKey("videos.id", ondelete="SET NULL", name="fk_integrity_findings_video_id_videos"),
    ),
    Column("path", Text, nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("file_mtime_ns", BigInteger, nullable=False),
    Column("recorded_hash", Text, nullable=False),
    Column("observed_hash", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'open'")),
    Column("found_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("resolved_at", DateTime(timezone=True)),
    # Who resolved it: the token's `sub`, or "daemon" (a file found intact again).
    Column("resolved_by", Text),
    CheckConstraint(_one_of("status", FINDING_STATUSES), name="status"),
    # One open finding per video: a second mismatch updates it.
    Index(
        "ux_integrity_findings_open_video",
        "video_id",
        unique=True,
        postgresql_where=text("status = 'open'"),
    ),
    Index("ix_integrity_findings_status_found", "status", text("found_at DESC"), text("id DESC")),
)


# A verification cycle split into path ranges (migration 0020; shared/jobs/integrity_jobs.py):
# the paths after `after_path` through `through_path` (NULL: to the end), in code point
# order. `done_through` is the last path of the range verified (a retried job resumes after
# it); `finished_at` is set once the whole range was read. One cycle's rows at a time.
integrity_chunks = Table(
    "integrity_chunks",
    metadata,
    Column("cycle_started_at", DateTime(timezone=True), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("after_path", Text, nullable=False),
    Column("through_path", Text),
    Column("done_through", Text),
    Column("files", Integer, nullable=False, server_default=text("0")),
    Column("unread", Integer, nullable=False, server_default=text("0")),
    Column("flagged", Integer, nullable=False, server_default=text("0")),
    Column("finished_at", DateTime(timezone=True)),
)

# The library's active watcher (migration 0016; shared/db/repository/leader.py): one row.
# `epoch` grows by one at each takeover; a daemon's write commits only while it matches the
# epoch that daemon took over with.
daemon_leader = Table(
    "daemon_leader",
    metadata,
    Column("id", SmallInteger, primary_key=True, server_default=text("1")),
    Column("epoch", BigInteger, nullable=False, server_default=text("0")),
    # host:pid of the leader, for /readyz and doctor.
    Column("holder", Text),
    Column("since", DateTime(timezone=True)),
    CheckConstraint("id = 1", name="one_row"),
)

# -- fingerprints --------------------------------------------------------------------------

# Each valid video's perceptual hashes (shared/fingerprints.py; issue 12 §3): the Stash pHash
# (shared/media/stash_phash.py) and the per-second frame hashes, as shown and mirrored, with
# their index keys (shared/media/similarity.py) under GIN for the candidate search. Signed
# 64-bit values. Both rows of a video go when its file_hash changes (trigger, 0013).
video_fingerprints = Table(
    "video_fingerprints",
    metadata,
    Column(
        "video_id",
        UUID(as_uuid=True),
        ForeignKey("videos.id", ondelete="CASCADE", name="fk_video_fingerprints_video_id_videos"),
        primary_key=True,
    ),
    Column("phash", BigInteger),
    Column("frame_hashes", ARRAY(BigInteger), nullable=False),
    Column("mirrored_hashes", ARRAY(BigInteger), nullable=False),
    Column("index_keys", ARRAY(BigInteger), nullable=False),
    Column("algorithm", SmallInteger, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each index key of a fingerprint, one row per (key, video): candidates are counted from
# the primary key alone (multi-index hashing). Kept in step with
# `video_fingerprints.index_keys` by a trigger (migration 0017), never written from Python.
video_fingerprint_keys = Table(
    "video_fingerprint_keys",
    metadata,
    Column("key", BigInteger, primary_key=True),
    Column(
        "video_id",
        UUID(as_uuid=True),
        ForeignKey(
            "videos.id", ondelete="CASCADE", name="fk_video_fingerprint_keys_video_id_videos"
        ),
        primary_key=True,
    ),
    Index("ix_video_fingerprint_keys_video_id", "video_id"),
)

# How many videos hold each index key: the candidates' statement leaves out the keys held by
# too many. Kept from `video_fingerprint_keys`' changes by a trigger (0023), never written
# from Python.
video_fingerprint_key_counts = Table(
    "video_fingerprint_key_counts",
    metadata,
    Column("key", BigInteger, primary_key=True),
    Column("videos", Integer, nullable=False),
)

# The fingerprint job's failed videos: attempts so far and the last reason (the job engine
# keeps when to retry, 0018). A video past `fingerprints.max_attempts` stays here with it.
fingerprint_attempts = Table(
    "fingerprint_attempts",
    metadata,
    Column(
        "video_id",
        UUID(as_uuid=True),
        ForeignKey("videos.id", ondelete="CASCADE", name="fk_fingerprint_attempts_video_id_videos"),
        primary_key=True,
    ),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# -- near-duplicates --------------------------------------------------------------------------


def _match_columns() -> list[Column[object]]:
    """How b matches a (similarity.Match): score, offset, both matched ranges, mirrored."""
    return [
        Column("score", Float),
        Column("offset_seconds", Integer),
        Column("a_start", Integer),
        Column("a_end", Integer),
        Column("b_start", Integer),
        Column("b_end", Integer),
        Column("matched_seconds", Integer),
        Column("mirrored", Boolean),
        Column("mean_distance", Float),  # bits apart over the matched seconds, on average
    ]


# Every matched pair of valid, fingerprinted videos, once: `video_id` < `other_id`, the match
# read as a = video_id, b = other_id. Rewritten for a video each time it is refreshed
# (shared/near_duplicates.py); gone with either video.
near_duplicate_pairs = Table(
    "near_duplicate_pairs",
    metadata,
    Column(
        "video_id",
        UUID(as_uuid=True),
        ForeignKey("videos.id", ondelete="CASCADE", name="fk_near_duplicate_pairs_video_id_videos"),
        primary_key=True,
    ),
    Column(
        "other_id",
        UUID(as_uuid=True),
        ForeignKey("videos.id", ondelete="CASCADE", name="fk_near_duplicate_pairs_other_id_videos"),
        primary_key=True,
    ),
    *_match_columns(),
    Column("found_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("video_id < other_id", name="ordered"),
    Index("ix_near_duplicate_pairs_other_id", "other_id"),
)

# The groups: connected components of the pairs, one row per member, `group_id` the id of
# the group's first member (the suggested keeper), the match columns how the member
# matches the first (NULL for the first, and for a member linked only through others).
# No foreign key: when a video's row is deleted, its refresh must still find its group to
# regroup the others (a bridge between two members may have gone).
near_duplicate_members = Table(
    "near_duplicate_members",
    metadata,
    Column("video_id", UUID(as_uuid=True), primary_key=True),
    Column("group_id", UUID(as_uuid=True), nullable=False),
    *_match_columns(),
    Index("ix_near_duplicate_members_group_id", "group_id"),
)

# -- batches of engine jobs -------------------------------------------------------------------

# One `videolib validate --all`, bulk validate or `videolib thumbnails`: its chunks are engine
# jobs (shared/jobs/batch_jobs.py), whoever runs them; its progress is the count of its items.
job_batches = Table(
    "job_batches",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column("kind", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
)

# One row per item (video) of a batch, written once: a retried chunk's second answer for
# an item is dropped by the primary key, so the count of rows is each item counted once.
job_batch_items = Table(
    "job_batch_items",
    metadata,
    Column(
        "batch_id",
        UUID(as_uuid=True),
        ForeignKey("job_batches.id", ondelete="CASCADE", name="fk_job_batch_items_batch_id"),
        primary_key=True,
    ),
    Column("item_id", UUID(as_uuid=True), primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
)


# -- the inbox ----------------------------------------------------------------------------

# The inbox's move journal (migration 0024; daemon/journal.py): one row per move of an inbox
# file into its type folder, written before the move's first step and deleted in the
# transaction that records the move. In the database, not a daemon's state dir, so that
# whichever daemon of the library leads next finishes the moves a killed one left.
inbox_moves = Table(
    "inbox_moves",
    metadata,
    Column("id", Text, primary_key=True),  # also names the move's hidden temporary
    Column("inbox_path", Text, nullable=False),  # stored path of the inbox original
    Column("directory_type", Text, nullable=False),
    Column("filename", Text, nullable=False),  # the record's originalFilename
    Column("size", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
