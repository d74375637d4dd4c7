"""An integrity job through a real PostgreSQL restart: it asks to be retried, keeps what it
had verified, and its retry goes on from there and still flags the rot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL

from tests.daemon.harness import rows, sha256
from tests.integrity_helpers import NAMES, flip_byte_keeping_mtime, make_clips, record
from tests.outages.conftest import OutageServer, dsn_of
from videolib.shared.config import Config, DatabaseConfig, LibraryConfig, ProbeConfig, StateConfig
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import IntegrityRepository
from videolib.shared.db.schema import integrity_chunks, integrity_findings
from videolib.shared.jobs.integrity_jobs import (
    OUTAGE_RETRY_S,
    chunk_payload,
    local_now,
    plan,
    verify_integrity_chunk,
)
from videolib.shared.jobs.kinds import JobCall, RetryLater
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.media.names import DIRECTORY_TYPES

WAIT_S = 120.0


async def test_an_integrity_job_waits_out_a_restart_and_flags_afterwards(
    outage_server: OutageServer, outage_url: URL, tmp_path: Path
) -> None:
    root = tmp_path / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True)
    make_clips(root)
    config = Config(
        library=LibraryConfig(root=root),
        database=DatabaseConfig(url=dsn_of(outage_url), connect_timeout_seconds=2),
        state=StateConfig(dir=tmp_path / "state"),
        probe=ProbeConfig(workers=1, timeout_ms=20000),
    )
    # Slow enough (seconds a file) that the outage falls in the middle of the range.
    config = config.replace("integrity", rate_mb_per_second=0.25, cycle_interval_hours=0.0)
    async with open_engine(outage_url, pool_size=2) as engine:
        await record(config, engine)
        [key] = await plan(IntegrityRepository(engine), config.integrity, local_now())
        resources = WorkerResources(config, engine)
        call = JobCall(chunk_payload(key), 0)
        job = asyncio.create_task(verify_integrity_chunk(resources, call))

        async def done_through() -> str | None:
            async with engine.connect() as connection:
                return await connection.scalar(select(integrity_chunks.c.done_through))

        deadline = asyncio.get_running_loop().time() + WAIT_S
        while await done_through() is None:  # one file verified, the rest to come
            assert asyncio.get_running_loop().time() < deadline, "no file verified"
            await asyncio.sleep(0.05)
        target = root / "videos/c.mp4"  # after the first file in path order
        outage_server.stop()
        try:
            flip_byte_keeping_mtime(target, target.stat().st_size // 2)  # rots meanwhile
            # What the engine is told: retry later, not a crash (nor a hang).
            with pytest.raises(RetryLater) as retry:
                await asyncio.wait_for(job, WAIT_S)
            assert retry.value.delay.total_seconds() == OUTAGE_RETRY_S
        finally:
            outage_server.start()
        # The engine's retry: resumes after what was recorded, and finds the rot.
        async with asyncio.timeout(WAIT_S):
            while True:
                try:
                    await verify_integrity_chunk(resources, JobCall(call.payload, 1))
                    break
                except RetryLater:  # the server still starting
                    await asyncio.sleep(0.2)
        async with engine.connect() as connection:
            found = list(await connection.execute(select(integrity_findings)))
            [chunk] = list(await connection.execute(select(integrity_chunks)))
        assert [f._mapping["path"] for f in found] == ["videos/c.mp4"]
        assert found[0]._mapping["observed_hash"] == sha256(target)
        assert chunk.files == len(NAMES) and chunk.finished_at is not None
        assert (await IntegrityRepository(engine).state()).last_full_cycle_at is not None
        recorded = {v.path: v for v in await rows(engine)}
    # No record was changed or lost.
    assert set(recorded) == set(NAMES)
    assert all(v.is_valid for v in recorded.values())
    assert recorded["videos/c.mp4"].file_hash != sha256(target)  # never overwritten
