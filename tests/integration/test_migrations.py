"""Migrations: up from empty, down again, and no drift from the declared tables."""

from __future__ import annotations

from typing import Any

import asyncpg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.db import migrate
from videolib.shared.db.schema import metadata
from videolib.shared.jobs.schema import ENGINE_TABLES


async def test_template_is_at_head(engine: AsyncEngine) -> None:
    assert await migrate.current_revision(engine) == migrate.head_revision()


async def test_migrations_match_declared_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    # Alembic cannot compare expression indexes (it reports them removed and re-added), so
    # the full-text and the path-order indexes are checked by their definitions instead.
    # The trigram index is not declared (a database without pg_trgm has none): see
    # tests/integration/test_trigram_fallback.py.
    expression_indexes = {"idx_videos_search", "idx_videos_path_bytes", "idx_videos_substring"}

    # The job engine's tables are its own (installed by 0015 from its installer).
    def ours(difference: tuple[object, ...]) -> bool:
        item = difference[1]
        table = getattr(item, "table", item)  # an index's table, or the table itself
        return getattr(table, "name", None) not in ENGINE_TABLES

    assert [d for d in differences if d[1].name not in expression_indexes and ours(d)] == []
    async with engine.connect() as connection:
        definition = (
            await connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_videos_search'")
            )
        ).scalar_one()
    assert "USING gin (to_tsvector('english'::regconfig" in definition
    assert "COALESCE(creator, ''::text)" in definition
    async with engine.connect() as connection:
        path_order = (
            await connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_videos_path_bytes'")
            )
        ).scalar_one()
    assert 'path COLLATE "C"' in path_order
    async with engine.connect() as connection:
        substring = (
            await connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_videos_substring'")
            )
        ).scalar_one()
    assert "USING gin" in substring and "gin_trgm_ops" in substring
    assert "COALESCE(producer, ''::text)) || '\x1f'::text)" in substring


async def test_down_to_empty_and_up_again(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(
            lambda sync: __import__("alembic.command").command.downgrade(
                migrate.alembic_config(sync), "base"
            )
        )
    async with engine.connect() as connection:
        tables = (
            await connection.execute(
                text("SELECT count(*) FROM pg_tables WHERE tablename IN ('videos', 'settings')")
            )
        ).scalar()
    assert tables == 0
    async with engine.connect() as connection:
        engine_tables = await connection.scalar(
            text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'pgqueuer%'")
        )
    assert engine_tables == 0  # 0015's downgrade ran the engine's uninstaller
    await migrate.upgrade(engine)
    await migrate.upgrade(engine)  # idempotent
    assert await migrate.current_revision(engine) == migrate.head_revision()
    async with engine.connect() as connection:
        engine_tables = await connection.scalar(
            text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'pgqueuer%'")
        )
    assert engine_tables == len(ENGINE_TABLES)


async def test_checks_reject_what_the_model_forbids(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        try:
            await driver.execute(
                "INSERT INTO videos (path, filename, directory_type)"
                " VALUES ('x/a.mp4', 'a.mp4', 'x')"
            )
        except asyncpg.CheckViolationError as error:
            assert "ck_videos_directory_type" in str(error)
        else:
            raise AssertionError("an unknown directory type was accepted")


async def test_0013_fingerprints_down_and_up_keep_the_videos(engine: AsyncEngine) -> None:
    """0013 goes down to 0012 (its tables and trigger gone, the videos kept) and up again."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO videos (path, filename, directory_type, file_hash)"
                " VALUES ('videos/a.mp4', 'a.mp4', 'videos', 'aa')"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO video_fingerprints (video_id, phash, frame_hashes, mirrored_hashes,"
                " index_keys, algorithm) SELECT id, -1, '{1,2}', '{3,4}', '{5}', 1 FROM videos"
            )
        )

    def downgrade(sync: Any) -> None:
        command.downgrade(migrate.alembic_config(sync), "0012")

    async with engine.begin() as connection:
        await connection.run_sync(downgrade)
    names = (
        "SELECT count(*) FROM pg_tables"
        " WHERE tablename IN ('video_fingerprints', 'fingerprint_attempts')"
    )
    async with engine.connect() as connection:
        assert await connection.scalar(text(names)) == 0
        assert await connection.scalar(text("SELECT count(*) FROM videos")) == 1
        trigger = "SELECT count(*) FROM pg_trigger WHERE tgname = 'videos_forget_fingerprint'"
        assert await connection.scalar(text(trigger)) == 0
    await migrate.upgrade(engine)
    async with engine.begin() as connection:
        assert await connection.scalar(text(names)) == 2
        # The candidate search's keys (0017, which drops 0013's GIN index for them), and the
        # trigger that forgets a fingerprint when the file changes.
        keys = "SELECT count(*) FROM pg_tables WHERE tablename = 'video_fingerprint_keys'"
        assert await connection.scalar(text(keys)) == 1
        await connection.execute(
            text(
                "INSERT INTO video_fingerprints (video_id, frame_hashes, mirrored_hashes,"
                " index_keys, algorithm) SELECT id, '{}', '{}', '{}', 1 FROM videos"
            )
        )
        await connection.execute(text("UPDATE videos SET title = 'kept'"))
        assert await connection.scalar(text("SELECT count(*) FROM video_fingerprints")) == 1
        await connection.execute(text("UPDATE videos SET file_hash = 'bb'"))
        assert await connection.scalar(text("SELECT count(*) FROM video_fingerprints")) == 0


LEFT_RUNNING = "the API process running this scan stopped before the upgrade (start it again)"


async def test_0021_ends_the_scans_the_old_runner_left_running(engine: AsyncEngine) -> None:
    """A scan of the in-process runner has no job of the engine: 0021 ends it, with why."""

    def downgrade(sync: Any) -> None:
        command.downgrade(migrate.alembic_config(sync), "0020")

    async with engine.begin() as connection:
        await connection.run_sync(downgrade)
        for status in ("running", "succeeded"):
            await connection.execute(
                text(
                    "INSERT INTO scan_jobs (directory_types, skip_existing, status, result)"
                    " VALUES (CAST(:types AS jsonb), true, :status, CAST(:result AS jsonb))"
                ),
                {"types": '["videos"]', "status": status, "result": '{"created": 3}'},
            )
    await migrate.upgrade(engine)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT status, error, result, finished_at IS NOT NULL FROM scan_jobs"
                    " ORDER BY status"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("failed", LEFT_RUNNING, {"created": 3}, True),  # its counts so far kept
        ("succeeded", None, {"created": 3}, False),
    ]
