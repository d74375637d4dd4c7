"""The admin page's near-duplicates view in a real browser (Debian's chromium), against the
real API, PostgreSQL and files (issue 12 §3): a group shows side by side, and "Keep this
one" moves the others' files to the trash."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert, select

from tests.admin.conftest import Server
from tests.admin.test_library_page import sign_in
from videolib.shared.db.engine import open_engine
from videolib.shared.db.schema import video_fingerprints, videos
from videolib.shared.media.similarity import FrameHashes, index_keys
from videolib.shared.near_duplicates import refresh_near_duplicates

FAMILY = ("videos/beach-sunset.mp4", "videos/phone-clip.mp4", "videos/square-loop.mp4")


def _hashes(count: int, seed: int) -> tuple[int, ...]:
    rng = random.Random(seed)
    return tuple(rng.getrandbits(64) - (1 << 63) for _ in range(count))


async def _fingerprint_family(server: Server) -> dict[str, uuid.UUID]:
    """Synthetic frame hashes: the three clips one family (trimmed copies), as the
    fingerprint job would store them, then the job's refresh."""
    shown, mirror = _hashes(40, 1), _hashes(40, 2)
    async with open_engine(server.config.sqlalchemy_url(), pool_size=2) as engine:
        async with engine.begin() as connection:
            rows = await connection.execute(
                select(videos.c.path, videos.c.id).where(videos.c.path.in_(FAMILY))
            )
            ids = {path: video_id for path, video_id in rows}
            for trim, path in enumerate(FAMILY):
                frames = FrameHashes(shown[trim * 4 :], mirror[trim * 4 :])
                await connection.execute(
                    insert(video_fingerprints).values(
                        video_id=ids[path],
                        frame_hashes=list(frames.seconds),
                        mirrored_hashes=list(frames.mirrored),
                        index_keys=index_keys(frames),
                        algorithm=1,
                    )
                )
        for video_id in ids.values():
            await refresh_near_duplicates(engine, video_id)
    return ids


@pytest.fixture
def family(server: Server) -> dict[str, uuid.UUID]:
    """The family fingerprinted and grouped (before the browser starts: Playwright's sync
    API marks this thread's event loop running)."""
    return asyncio.run(_fingerprint_family(server))


def _invalid_reason(page: Any, server: Server, video_id: uuid.UUID) -> str | None:
    """The record as the API gives it, through the page's own session cookie."""
    response = page.request.get(f"{server.url}/api/media/videos/{video_id}")
    assert response.ok, response.text()
    reason: str | None = response.json()["invalidReason"]
    return reason


def test_keep_one_trashes_the_others(
    family: dict[str, uuid.UUID], page: Any, server: Server
) -> None:
    ids = family
    root = server.config.library_root
    contents = {path: (root / path).read_bytes() for path in FAMILY}
    sign_in(page, server)
    page.get_by_role("link", name="Similar videos").click()
    group = page.locator("#near-groups .near-group")
    expect(group).to_have_count(1)
    cards = group.locator(".near-card")
    expect(cards).to_have_count(3)
    # The keeper first (most pixels), side by side, each playable from the stream route.
    expect(cards.first).to_contain_text("videos/beach-sunset.mp4")
    expect(cards.first).to_contain_text("Suggested keeper")
    phone = cards.filter(has_text="videos/phone-clip.mp4")
    expect(phone).to_contain_text("Matches the keeper")
    expect(phone).to_contain_text("offset -4 s")
    player = phone.locator("video")
    phone_id = ids["videos/phone-clip.mp4"]
    expect(player).to_have_attribute("src", f"/api/media/videos/{phone_id}/stream")
    assert (player.get_attribute("poster") or "").startswith(
        f"/api/media/videos/{phone_id}/thumbnail?v="
    )

    phone.get_by_role("button", name="Keep this one: videos/phone-clip.mp4").click()
    confirm = page.locator("#confirm-dialog")
    confirm.get_by_role("button", name="Keep this one, trash the others").click()
    expect(page.locator("#near-result")).to_have_text("2 videos moved to the trash.")
    expect(page.locator("#near-groups")).to_contain_text("No near-duplicates found")

    today = datetime.now(UTC).date().isoformat()
    for path in ("videos/beach-sunset.mp4", "videos/square-loop.mp4"):
        assert not (root / path).exists()
        assert (root / ".trash" / today / path).read_bytes() == contents[path]
    assert (root / "videos/phone-clip.mp4").read_bytes() == contents["videos/phone-clip.mp4"]
    reasons = {path: _invalid_reason(page, server, video_id) for path, video_id in ids.items()}
    assert reasons == {
        "videos/beach-sunset.mp4": "trashed",
        "videos/square-loop.mp4": "trashed",
        "videos/phone-clip.mp4": None,
    }
