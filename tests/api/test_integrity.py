"""Integrity findings in the API: list, CSV, and actions that re-check the file first."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client
from tests.daemon.harness import row, sha256
from tests.integrity_helpers import flip_byte_keeping_mtime, record, verify_cycle
from videolib.api.app import create_app
from videolib.shared.config import Config
from videolib.shared.db.repository import IntegrityRepository
from videolib.shared.jobs.integrity_jobs import plan_integrity
from videolib.shared.jobs.kinds import JobCall
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.jobs.worker import JobWorker

PATH = "videos/clip.mp4"


async def flagged(config: Config, engine: AsyncEngine, video_file: Path) -> str:
    """Record the clip, rot one byte, let a verification cycle find it; the finding's id."""
    await record(config, engine)
    flip_byte_keeping_mtime(video_file, video_file.stat().st_size // 2)
    end, _ = await verify_cycle(config, engine)
    assert end is not None and end.flagged == 1
    [finding], _ = await IntegrityRepository(engine).findings("open", 0, 10)
    return str(finding.id)


async def test_findings_listed_and_exported_as_csv(
    client: Client, auth: dict[str, str], config: Config, engine: AsyncEngine, video_file: Path
) -> None:
    finding_id = await flagged(config, engine, video_file)
    before = await row(engine, PATH)
    assert before is not None

    listed = await client.get("/api/media/integrity/findings", headers=auth)
    assert listed.status == 200
    body = await listed.json()
    assert body["pagination"]["total"] == 1
    [item] = body["data"]
    assert item["id"] == finding_id and item["path"] == PATH and item["status"] == "open"
    assert item["recordedHash"] == before.file_hash
    assert item["observedHash"] == sha256(video_file)
    closed = await client.get("/api/media/integrity/findings?status=accepted", headers=auth)
    assert (await closed.json())["data"] == []

    exported = await client.get("/api/media/integrity/findings.csv", headers=auth)
    assert exported.status == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    assert [(r["path"], r["recorded_hash"], r["observed_hash"]) for r in rows] == [
        (PATH, before.file_hash, sha256(video_file))
    ]

    status = await (await client.get("/api/media/integrity", headers=auth)).json()
    assert status["openFindings"] == 1


async def test_accept_refuses_a_file_that_changed_since_the_report(
    client: Client, auth: dict[str, str], config: Config, engine: AsyncEngine, video_file: Path
) -> None:
    finding_id = await flagged(config, engine, video_file)
    before = await row(engine, PATH)
    assert before is not None
    reported = sha256(video_file)
    flip_byte_keeping_mtime(video_file, 100)  # it rotted further after the report

    refused = await client.post(f"/api/media/integrity/findings/{finding_id}/accept", headers=auth)
    assert refused.status == 409
    assert "changed again since the report" in (await refused.json())["message"]
    after = await row(engine, PATH)
    assert after is not None and after.file_hash == before.file_hash  # nothing accepted
    finding = await IntegrityRepository(engine).finding(uuid.UUID(finding_id))
    assert finding is not None and finding.status == "open"
    assert finding.observed_hash == sha256(video_file) != reported  # the report is current

    # Now the report matches the file: accepting records the new hash, and says who.
    accepted = await client.post(f"/api/media/integrity/findings/{finding_id}/accept", headers=auth)
    assert accepted.status == 200
    body = await accepted.json()
    assert body["outcome"] == "accepted"
    assert body["finding"]["status"] == "accepted"
    assert body["finding"]["resolvedBy"] == "videolib-cli"
    recorded = await row(engine, PATH)
    assert recorded is not None and recorded.file_hash == sha256(video_file)
    assert video_file.is_file()

    again = await client.post(f"/api/media/integrity/findings/{finding_id}/accept", headers=auth)
    assert again.status == 409
    assert "accepted already" in (await again.json())["message"]


async def test_recheck_closes_a_repaired_or_edited_file_and_keeps_a_missing_one(
    client: Client, auth: dict[str, str], config: Config, engine: AsyncEngine, video_file: Path
) -> None:
    original = video_file.read_bytes()
    stat = os.stat(video_file)
    finding_id = await flagged(config, engine, video_file)
    url = f"/api/media/integrity/findings/{finding_id}/recheck"

    moved = video_file.with_suffix(".away")
    video_file.rename(moved)  # missing (an unmounted share, say): no decision made
    missing = await client.post(url, headers=auth)
    assert missing.status == 409
    assert "file not found" in (await missing.json())["message"]
    moved.rename(video_file)

    video_file.write_bytes(original)  # restored from a backup, mtime as before
    os.utime(video_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    repaired = await client.post(url, headers=auth)
    assert repaired.status == 200
    body = await repaired.json()
    assert (body["outcome"], body["finding"]["status"]) == ("intact", "intact")

    second = await flagged_again(config, engine, video_file)
    with open(video_file, "ab") as file:
        file.write(b"an edit")  # size and mtime change: no longer this finding's business
    edited = await client.post(f"/api/media/integrity/findings/{second}/recheck", headers=auth)
    assert edited.status == 200
    assert (await edited.json())["outcome"] == "superseded"
    recorded = await row(engine, PATH)
    assert recorded is not None and recorded.file_hash == sha256_of(original)


async def flagged_again(config: Config, engine: AsyncEngine, video_file: Path) -> str:
    flip_byte_keeping_mtime(video_file, video_file.stat().st_size // 3)
    end, _ = await verify_cycle(config, engine)
    assert end is not None and end.flagged == 1
    [finding], _ = await IntegrityRepository(engine).findings("open", 0, 10)
    return str(finding.id)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_bad_ids_and_queries_are_named(client: Client, auth: dict[str, str]) -> None:
    bad = await client.post("/api/media/integrity/findings/nope/accept", headers=auth)
    assert bad.status == 400 and "id: not a UUID" in (await bad.json())["message"]
    unknown = "00000000-0000-0000-0000-000000000000"
    absent = await client.post(f"/api/media/integrity/findings/{unknown}/recheck", headers=auth)
    assert absent.status == 404 and "no such finding" in (await absent.json())["message"]
    status = await client.get("/api/media/integrity/findings?status=rotten", headers=auth)
    assert status.status == 400 and "status" in (await status.json())["message"]
    anonymous = await client.get("/api/media/integrity/findings")
    assert anonymous.status == 401


async def test_a_finding_of_a_trashed_or_deleted_video_closes_on_review(
    client: Client, auth: dict[str, str], config: Config, engine: AsyncEngine, video_file: Path
) -> None:
    finding_id = await flagged(config, engine, video_file)
    video = await row(engine, PATH)
    assert video is not None
    trashed = await client.delete(f"/api/media/videos/{video.id}?file=trash", headers=auth)
    assert trashed.status == 200
    refused = await client.post(f"/api/media/integrity/findings/{finding_id}/accept", headers=auth)
    assert refused.status == 409
    assert "trashed or deleted since" in (await refused.json())["message"]
    # Closed, so that its alert does not fire for ever; the trashed file is untouched.
    finding = await IntegrityRepository(engine).finding(uuid.UUID(finding_id))
    assert finding is not None and finding.status == "superseded"
    assert await IntegrityRepository(engine).open_count() == 0
    [trashed_file] = list((video_file.parents[1] / ".trash").rglob("clip.mp4"))
    assert sha256(trashed_file) == finding.observed_hash


async def test_a_finding_of_the_engine_job_is_what_the_api_lists_and_exports(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    auth: dict[str, str],
    engine: AsyncEngine,
    video_file: Path,
) -> None:
    """A real worker loop (in-process JobWorker) runs the planner's jobs; the API started
    afterwards lists the finding, and its /metrics carries the gauges the daemon had."""
    await record(api_config, engine)
    flip_byte_keeping_mtime(video_file, video_file.stat().st_size // 2)
    config = api_config.replace("worker", metrics_port=0)
    worker = JobWorker(config, engine)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    repository = IntegrityRepository(engine)
    try:
        await plan_integrity(WorkerResources(config, engine), JobCall({}, 0))
        async with asyncio.timeout(120):
            while (await repository.state()).last_full_cycle_at is None:
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(running, 120)
    client = await aiohttp_client(create_app(api_config, engine))
    listed = await (await client.get("/api/media/integrity/findings", headers=auth)).json()
    [item] = listed["data"]
    assert item["path"] == PATH and item["status"] == "open"
    assert item["observedHash"] == sha256(video_file)
    status = await (await client.get("/api/media/integrity", headers=auth)).json()
    assert status["openFindings"] == 1 and status["cycleInProgress"] is False
    assert status["lastFullCycleAt"] is not None
    scraped = await (await client.get("/metrics")).text()
    assert "videolib_integrity_flagged_files 1.0" in scraped
    last = datetime.fromisoformat(status["lastFullCycleAt"]).timestamp()
    [exported] = [
        sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "videolib_integrity_last_full_cycle_timestamp_seconds"
    ]
    assert exported == pytest.approx(last, abs=1e-3)
