"""video_fingerprint_key_counts: how many videos hold each index key, kept by a trigger

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-01

The candidates' statement leaves out a key that more than MAX_KEY_VIDEOS videos hold (a
test card, a logo). It told those apart by reading up to that many rows of every asked
key and counting them, in a lateral per key: at 100,000 videos most of its time went in
those per-key windows. With each key's count in a table of its own (one row per key: at
most 4 bands x 65,536 values), the common keys are dropped by a look-up of the asked ones,
and the rest are read by one index scan of `video_fingerprint_keys`' primary key.

A statement-level trigger on `video_fingerprint_keys` keeps the counts, from its
transition tables: whatever adds or removes its rows (0017's trigger, the cascade of a
deleted video) moves the counts in the same transaction. Changes are added in key order
(INSERT ... ON CONFLICT, so two new fingerprints written at once lock shared keys in the
same order and cannot deadlock). Two re-fingerprints at once can: each locks its removed
keys, then its added ones, in two statements. The deadlock's loser is rolled back whole
and tried again (translate_errors retries 40P01). A count that falls to 0 keeps its row:
the keys are few.
"""

from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None

COUNT_FUNCTION = """
CREATE FUNCTION video_fingerprint_key_counts_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO video_fingerprint_key_counts AS c (key, videos)
        SELECT key, -count(*) FROM removed GROUP BY key ORDER BY key
        ON CONFLICT (key) DO UPDATE SET videos = c.videos + EXCLUDED.videos;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO video_fingerprint_key_counts AS c (key, videos)
        SELECT key, count(*) FROM added GROUP BY key ORDER BY key
        ON CONFLICT (key) DO UPDATE SET videos = c.videos + EXCLUDED.videos;
    END IF;
    RETURN NULL;
END
$$
"""

# One trigger per operation: a transition table exists only for the operations it names.
TRIGGERS = (
    """
    CREATE TRIGGER video_fingerprint_key_counts_on_insert
    AFTER INSERT ON video_fingerprint_keys REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION video_fingerprint_key_counts_sync()
    """,
    """
    CREATE TRIGGER video_fingerprint_key_counts_on_delete
    AFTER DELETE ON video_fingerprint_keys REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION video_fingerprint_key_counts_sync()
    """,
    """
    CREATE TRIGGER video_fingerprint_key_counts_on_update
    AFTER UPDATE ON video_fingerprint_keys REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION video_fingerprint_key_counts_sync()
    """,
)

#: The counts of the keys already stored (also how bench/similar.py seeds the table).
BACKFILL = """
INSERT INTO video_fingerprint_key_counts (key, videos)
SELECT key, count(*) FROM video_fingerprint_keys GROUP BY key
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE video_fingerprint_key_counts (
            key bigint NOT NULL,
            videos integer NOT NULL,
            CONSTRAINT pk_video_fingerprint_key_counts PRIMARY KEY (key)
        )
        """
    )
    # Rows written meanwhile wait for the backfill: its count would miss them otherwise.
    op.execute("LOCK TABLE video_fingerprint_keys IN SHARE MODE")
    op.execute(BACKFILL)
    op.execute(COUNT_FUNCTION)
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER video_fingerprint_key_counts_on_{name} ON video_fingerprint_keys")
    op.execute("DROP FUNCTION video_fingerprint_key_counts_sync()")
    op.execute("DROP TABLE video_fingerprint_key_counts")
