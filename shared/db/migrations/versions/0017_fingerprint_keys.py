"""video_fingerprint_keys: each index key of a fingerprint, one row per (key, video)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01

Multi-index hashing with counting: a video's candidates are the videos that share the most
of its keys, `GROUP BY video_id` over the rows of its keys, read from this table's primary
key alone (an index-only scan per key). A GIN index on `index_keys` can say which rows
hold a key but not count them without reading every matching row's whole array.

A trigger keeps the table in step with `video_fingerprints.index_keys`, so whatever writes
fingerprints (the fingerprint job) need not know about it. The GIN index on `index_keys`
is dropped: no query reads it any more, and each fingerprint write paid for its hundreds
of entries. The column stays (the fingerprints' contract, and the trigger's source).
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SYNC_FUNCTION = """
CREATE FUNCTION video_fingerprint_keys_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM video_fingerprint_keys WHERE video_id = OLD.video_id;
        -- The old hashes' matches no longer hold; a refresh finds the new ones.
        DELETE FROM near_duplicate_pairs WHERE video_id = OLD.video_id OR other_id = OLD.video_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO video_fingerprint_keys (key, video_id)
        SELECT DISTINCT key, NEW.video_id FROM unnest(NEW.index_keys) AS key
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$
"""

# An update that leaves the keys (and the video) alone rewrites nothing.
TRIGGERS = (
    """
    CREATE TRIGGER video_fingerprint_keys_on_insert_delete
    AFTER INSERT OR DELETE ON video_fingerprints
    FOR EACH ROW EXECUTE FUNCTION video_fingerprint_keys_sync()
    """,
    """
    CREATE TRIGGER video_fingerprint_keys_on_update
    AFTER UPDATE OF index_keys, video_id ON video_fingerprints
    FOR EACH ROW
    WHEN (OLD.index_keys IS DISTINCT FROM NEW.index_keys OR OLD.video_id <> NEW.video_id)
    EXECUTE FUNCTION video_fingerprint_keys_sync()
    """,
)

# A video that stops being valid (missing, corrupt, trashed, by the daemon, a scan or the
# API) matches nothing any more, whichever process noticed: its pairs go with it.
FORGET_INVALID_FUNCTION = """
CREATE FUNCTION near_duplicate_pairs_forget_invalid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM near_duplicate_pairs WHERE video_id = OLD.id OR other_id = OLD.id;
    RETURN NULL;
END
$$
"""
FORGET_INVALID_TRIGGER = """
CREATE TRIGGER near_duplicate_pairs_forget_invalid
AFTER UPDATE OF is_valid ON videos
FOR EACH ROW WHEN (OLD.is_valid AND NOT NEW.is_valid)
EXECUTE FUNCTION near_duplicate_pairs_forget_invalid()
"""

#: The rows of the fingerprints already stored (also how bench/similar.py seeds the table).
BACKFILL = """
INSERT INTO video_fingerprint_keys (key, video_id)
SELECT DISTINCT key, f.video_id FROM video_fingerprints AS f, unnest(f.index_keys) AS key
ON CONFLICT DO NOTHING
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE video_fingerprint_keys (
            key bigint NOT NULL,
            video_id uuid NOT NULL,
            CONSTRAINT pk_video_fingerprint_keys PRIMARY KEY (key, video_id),
            CONSTRAINT fk_video_fingerprint_keys_video_id_videos FOREIGN KEY (video_id)
                REFERENCES videos (id) ON DELETE CASCADE
        )
        """
    )
    # The foreign key's cascade (a video deleted) and the trigger's delete find a video's
    # rows through this index; the primary key leads with the key.
    op.execute(
        "CREATE INDEX ix_video_fingerprint_keys_video_id ON video_fingerprint_keys (video_id)"
    )
    op.execute(SYNC_FUNCTION)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(BACKFILL)
    op.execute(FORGET_INVALID_FUNCTION)
    op.execute(FORGET_INVALID_TRIGGER)
    op.execute("DROP INDEX IF EXISTS ix_video_fingerprints_index_keys")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX ix_video_fingerprints_index_keys ON video_fingerprints USING gin (index_keys)"
    )
    op.execute("DROP TRIGGER near_duplicate_pairs_forget_invalid ON videos")
    op.execute("DROP FUNCTION near_duplicate_pairs_forget_invalid()")
    op.execute("DROP TRIGGER video_fingerprint_keys_on_update ON video_fingerprints")
    op.execute("DROP TRIGGER video_fingerprint_keys_on_insert_delete ON video_fingerprints")
    op.execute("DROP FUNCTION video_fingerprint_keys_sync()")
    op.execute("DROP TABLE video_fingerprint_keys")
