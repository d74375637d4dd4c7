"""Bulk validate through the job engine: answered per id, not queued behind a long batch."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client
from tests.api.test_maintenance import URL, create
from videolib.shared.jobs.batches import VALIDATE, WAITING_REQUEST, start_batch

#: The chunks of a `validate --all` queued before the request, no worker running.
BACKLOG_CHUNKS = 40


async def test_bulk_validate_is_not_queued_behind_a_validate_all(
    client: Client, auth: dict[str, str], engine: AsyncEngine, video_file: Path
) -> None:
    video = await create(client, auth, "videos/clip.mp4")
    await start_batch(engine, VALIDATE, [uuid.uuid4() for _ in range(BACKLOG_CHUNKS)], chunk_size=1)
    absent = str(uuid.uuid4())
    response = await client.post(
        f"{URL}/bulk", json={"ids": [video["id"], absent], "action": "validate"}, headers=auth
    )
    assert response.status == 200
    results = (await response.json())["results"]
    assert [(r["id"], r["ok"], r["error"]) for r in results] == [
        (video["id"], True, None),
        (absent, False, f"{absent}: no such video"),
    ]
    assert results[0]["video"]["isValid"] is True
    # Taken first, before the chunks queued earlier: the engine logs each pick in order.
    async with engine.connect() as connection:
        picks = (
            await connection.execute(
                text(
                    "SELECT priority FROM pgqueuer_log WHERE entrypoint = :kind"
                    " AND status = 'picked' ORDER BY id"
                ),
                {"kind": VALIDATE.task},
            )
        ).scalars()
        order = list(picks)
    assert WAITING_REQUEST in order[:2], order  # the first dequeue (two at once) had it
