"""GET /api/media/videos/{id}/fingerprint: the hashes, or why there are none (issue 12 §3)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client
from tests.integration.test_fingerprints import run_until_settled, zero_the_pictures
from tests.scenes import make_scene_video
from videolib.api.app import create_app
from videolib.shared.config import Config
from videolib.shared.db.repository import FingerprintRepository, VideoRepository
from videolib.shared.db.schema import videos
from videolib.shared.ingest import scan
from videolib.shared.jobs.resources import WorkerResources
from videolib.shared.library import Library
from videolib.shared.media.goimagehash import to_unsigned
from videolib.shared.media.stash_phash import video_phash
from videolib.shared.runtime import examiner_pool

URL = "/api/media/videos"


async def fingerprint_everything(config: Config, engine: AsyncEngine) -> dict[str, str]:
    """Scan the videos folder, run each video's job (as the engine would) until it is
    settled; ids by path."""
    library = Library.from_config(config)
    async with examiner_pool(config) as pool:
        await scan(["videos"], library=library, repository=VideoRepository(engine), pool=pool)
    resources = WorkerResources(config, engine)
    try:
        needing = await FingerprintRepository(engine).needing(config.fingerprints.max_attempts)
        for video_id in needing:
            await run_until_settled(resources, video_id)
    finally:
        await resources.close(grace_s=1.0)
    async with engine.connect() as connection:
        rows = await connection.execute(select(videos.c.path, videos.c.id))
    return {path: str(video_id) for path, video_id in rows}


async def test_fingerprint_shows_the_hash_or_why_it_was_given_up(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_config: Config,
    engine: AsyncEngine,
    library_root: Path,
    auth: dict[str, str],
) -> None:
    folder = library_root / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    good = make_scene_video(folder / "good.mp4", 11, seconds=3)
    zero_the_pictures(make_scene_video(folder / "zeroed.mp4", 12, seconds=3))
    # Retried at once, given up after the second failure.
    config = api_config.replace("fingerprints", max_attempts=2, retry_seconds=0.001)
    ids = await fingerprint_everything(config, engine)
    client = await aiohttp_client(create_app(config, engine))

    response = await client.get(f"{URL}/{ids['videos/good.mp4']}/fingerprint", headers=auth)
    assert response.status == 200, await response.text()
    done = await response.json()
    assert (done["status"], done["error"], done["seconds"]) == ("done", None, 3)
    assert done["phash"] == f"{to_unsigned(video_phash(str(good))):016x}"  # as Stash writes it
    assert done["computedAt"].endswith("Z")

    response = await client.get(f"{URL}/{ids['videos/zeroed.mp4']}/fingerprint", headers=auth)
    assert response.status == 200, await response.text()
    failed = await response.json()
    assert (failed["status"], failed["attempts"], failed["maxAttempts"]) == ("gaveUp", 2, 2)
    assert failed["error"].startswith("frame hashes: ") and failed["phash"] is None


async def test_an_unknown_or_malformed_id_is_a_clear_4xx(
    client: Client, auth: dict[str, str]
) -> None:
    response = await client.get(f"{URL}/{uuid.uuid4()}/fingerprint", headers=auth)
    assert response.status == 404
    assert "no such video" in (await response.json())["message"]
    response = await client.get(f"{URL}/not-a-uuid/fingerprint", headers=auth)
    assert response.status == 400
