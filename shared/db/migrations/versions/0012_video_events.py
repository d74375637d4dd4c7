"""video_events: every change of a video, written by a trigger in the change's transaction

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

A trigger rather than a statement beside each write: every writer (scans, the daemon, the
inbox, the API, a future one) records history without being able to forget, in the same
transaction, and the batched upserts of a scan need no second round trip. Who made the
change is the `videolib.actor` setting (shared/db/actor.py).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

KINDS = (
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

# {name: {old, new}} of the listed columns whose values differ (API names as keys).
FIELD_CHANGES = """
CREATE FUNCTION videolib_field_changes(old_row jsonb, new_row jsonb, columns text[], names text[])
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(
    jsonb_object_agg(field.name, jsonb_build_object('old', old_row -> field.col,
                                                   'new', new_row -> field.col)),
    '{}'::jsonb)
  FROM unnest(columns, names) AS field(col, name)
  WHERE old_row -> field.col IS DISTINCT FROM new_row -> field.col
$$
"""

RECORD_EVENT = """
CREATE FUNCTION videolib_record_video_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who text := coalesce(nullif(current_setting('videolib.actor', true), ''), 'unknown');
  old_row jsonb;
  new_row jsonb;
  probed jsonb;
  edited jsonb;
  recorded boolean := false;
  -- Into or out of the trash: the path changes, but that is no move of the video.
  trash_move boolean;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO video_events (video_id, actor, kind, changes)
    VALUES (NEW.id, who, 'ingested', jsonb_build_object(
      'path', NEW.path, 'fileHash', NEW.file_hash, 'fileSize', NEW.file_size,
      'isValid', NEW.is_valid, 'invalidReason', NEW.invalid_reason));
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    -- The trash purge names itself (repository/trash.py): its deletes are not an admin's.
    INSERT INTO video_events (video_id, actor, kind, changes)
    VALUES (OLD.id, who,
            CASE WHEN current_setting('videolib.removal', true) = 'purged' THEN 'purged'
                 ELSE 'deleted' END,
            jsonb_build_object(
      'path', OLD.path, 'title', OLD.title, 'fileHash', OLD.file_hash,
      'invalidReason', OLD.invalid_reason));
    RETURN NULL;
  END IF;

  old_row := to_jsonb(OLD);
  new_row := to_jsonb(NEW);
  trash_move := coalesce(NEW.invalid_reason = 'trashed', false)
                <> coalesce(OLD.invalid_reason = 'trashed', false);
  IF NEW.path IS DISTINCT FROM OLD.path AND NOT trash_move THEN
    INSERT INTO video_events (video_id, actor, kind, changes)
    VALUES (NEW.id, who, 'moved', jsonb_build_object(
      'from', OLD.path, 'to', NEW.path,
      'directoryType', jsonb_build_object('old', OLD.directory_type, 'new', NEW.directory_type)));
    recorded := true;
  END IF;
  probed := videolib_field_changes(old_row, new_row,
    ARRAY['duration_seconds', 'width', 'height', 'quality', 'orientation', 'has_audio',
          'file_size', 'file_hash', 'probe_error'],
    ARRAY['durationSeconds', 'width', 'height', 'quality', 'orientation', 'hasAudio',
          'fileSize', 'fileHash', 'probeError']);
  IF probed <> '{}'::jsonb THEN
    INSERT INTO video_events (video_id, actor, kind, changes)
    VALUES (NEW.id, who, 'reprobed', probed);
    recorded := true;
  END IF;
  edited := videolib_field_changes(old_row, new_row,
    ARRAY['title', 'producer', 'creator', 'tags'],
    ARRAY['title', 'producer', 'creator', 'tags']);
  IF edited <> '{}'::jsonb THEN
    INSERT INTO video_events (video_id, actor, kind, changes)
    VALUES (NEW.id, who, 'edited', edited);
    recorded := true;
  END IF;

  IF NOT NEW.is_valid AND (OLD.is_valid OR OLD.invalid_reason IS DISTINCT FROM NEW.invalid_reason)
  THEN
    INSERT INTO video_events (video_id, actor, kind, changes)
    VALUES (NEW.id, who,
            CASE WHEN NEW.invalid_reason = 'trashed' THEN 'trashed' ELSE 'invalidated' END,
            jsonb_build_object(
      'reason', NEW.invalid_reason, 'previousReason', OLD.invalid_reason,
      'probeError', NEW.probe_error)
            || CASE WHEN trash_move THEN jsonb_build_object('from', OLD.path, 'to', NEW.path)
                    ELSE '{}'::jsonb END);
  ELSIF NEW.is_valid AND NOT OLD.is_valid THEN
    INSERT INTO video_events (video_id, actor, kind, changes)
    VALUES (NEW.id, who,
            CASE WHEN OLD.invalid_reason IN ('deleted', 'trashed') THEN 'restored'
                 ELSE 'validated' END,
            jsonb_build_object('previousReason', OLD.invalid_reason)
            || CASE WHEN trash_move THEN jsonb_build_object('from', OLD.path, 'to', NEW.path)
                    ELSE '{}'::jsonb END);
  ELSIF NEW.is_valid AND NOT recorded
        AND NEW.last_validated IS DISTINCT FROM OLD.last_validated THEN
    -- Checked again and found unchanged: `validate` on a good file.
    INSERT INTO video_events (video_id, actor, kind, changes)
    VALUES (NEW.id, who, 'validated', '{}'::jsonb);
  END IF;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "video_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("video_id", UUID(as_uuid=True), nullable=False),
        sa.Column(
            "occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("changes", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in KINDS) + ")",
            name="ck_video_events_kind",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_video_events"),
    )
    op.create_index("idx_video_events_video", "video_events", ["video_id", sa.text("id DESC")])
    op.execute(FIELD_CHANGES)
    op.execute(RECORD_EVENT)
    op.execute(
        "CREATE TRIGGER videos_history AFTER INSERT OR UPDATE OR DELETE ON videos"
        " FOR EACH ROW EXECUTE FUNCTION videolib_record_video_event()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER videos_history ON videos")
    op.execute("DROP FUNCTION videolib_record_video_event()")
    op.execute("DROP FUNCTION videolib_field_changes(jsonb, jsonb, text[], text[])")
    op.drop_table("video_events")
