"""video_fingerprints: each valid video's perceptual hashes, and the job's failed attempts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

`video_fingerprints` is the shared contract of issue 12 §3 (h12-near reads it): the Stash
pHash, the per-second frame hashes as shown and mirrored, and their index keys under GIN.
`fingerprint_attempts` is the deferred job's bookkeeping, beside it, since a failed video
has no hashes to put in the contract's NOT NULL columns.

A video whose file changes (a new sha256) loses both rows in the same transaction, by a
trigger: the fingerprint described the old file, and the new one deserves fresh attempts.
A trigger rather than a statement in each writer, as for 0012's history: every writer of
`videos.file_hash` (scans, the daemon, the inbox, validate) is covered without knowing.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FORGET_ON_NEW_FILE = """
CREATE FUNCTION videolib_forget_fingerprint() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM video_fingerprints WHERE video_id = NEW.id;
  DELETE FROM fingerprint_attempts WHERE video_id = NEW.id;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    hashes = ARRAY(sa.BigInteger())
    op.create_table(
        "video_fingerprints",
        sa.Column("video_id", UUID(as_uuid=True), nullable=False),
        sa.Column("phash", sa.BigInteger(), nullable=True),
        sa.Column("frame_hashes", hashes, nullable=False),
        sa.Column("mirrored_hashes", hashes, nullable=False),
        sa.Column("index_keys", hashes, nullable=False),
        sa.Column("algorithm", sa.SmallInteger(), nullable=False),
        sa.Column("computed_at", timestamp, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name="fk_video_fingerprints_video_id_videos",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", name="pk_video_fingerprints"),
    )
    op.create_index(
        "ix_video_fingerprints_index_keys",
        "video_fingerprints",
        ["index_keys"],
        postgresql_using="gin",
    )
    op.create_table(
        "fingerprint_attempts",
        sa.Column("video_id", UUID(as_uuid=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retry_at", timestamp, nullable=True),
        # Set while a worker has it; a claim older than the job could take is a dead one's.
        sa.Column("claimed_at", timestamp, nullable=True),
        sa.Column("updated_at", timestamp, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["videos.id"],
            name="fk_fingerprint_attempts_video_id_videos",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("video_id", name="pk_fingerprint_attempts"),
    )
    op.execute(FORGET_ON_NEW_FILE)
    op.execute(
        "CREATE TRIGGER videos_forget_fingerprint AFTER UPDATE OF file_hash ON videos"
        " FOR EACH ROW WHEN (OLD.file_hash IS DISTINCT FROM NEW.file_hash)"
        " EXECUTE FUNCTION videolib_forget_fingerprint()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER videos_forget_fingerprint ON videos")
    op.execute("DROP FUNCTION videolib_forget_fingerprint()")
    op.drop_table("fingerprint_attempts")
    op.drop_index("ix_video_fingerprints_index_keys", table_name="video_fingerprints")
    op.drop_table("video_fingerprints")
