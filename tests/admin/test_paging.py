"""The admin page's Next and Previous go by the API's cursors, in a real browser."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert

from tests.admin.conftest import Server
from tests.admin.test_library_page import sign_in
from videolib.shared.db.engine import open_engine
from videolib.shared.db.schema import videos

EXTRA = 40  # beside the five real videos: three pages of twenty


async def _insert_rows(server: Server) -> None:
    # Older than the real videos (recorded now), so they follow them, newest first.
    start = datetime(2020, 1, 1, tzinfo=UTC)
    url = server.config.sqlalchemy_url()
    async with open_engine(url, pool_size=1) as engine, engine.begin() as connection:
        await connection.execute(
            insert(videos),
            [
                {
                    "path": f"videos/row-{n:02}.mp4",
                    "filename": f"row-{n:02}.mp4",
                    "directory_type": "videos",
                    "title": f"Row {n:02}",
                    "file_size": 1000,
                    "created_at": start + timedelta(minutes=n),
                }
                for n in range(EXTRA)
            ],
        )


@pytest.fixture
def many_rows(server: Server) -> Server:
    """The server's library with forty more records (rows without files), before the browser."""
    asyncio.run(_insert_rows(server))
    return server


def titles_shown(page: Any) -> list[str]:
    return [
        re.sub(r"\s+", " ", text) for text in page.locator("#rows tr[data-id]").all_inner_texts()
    ]


def test_next_and_previous_go_by_cursor(many_rows: Server, page: Any) -> None:
    server = many_rows
    requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            requests.append(request.url) if "/api/media/videos?" in request.url else None
        ),
    )
    page.goto(f"{server.url}/admin/")
    page.get_by_label("Token").fill(server.token)
    page.get_by_role("button", name="Sign in").click()
    rows = page.locator("#rows tr[data-id]")
    expect(rows).to_have_count(20)
    info = page.locator("#page-info")
    expect(info).to_have_text("Page 1 of 3 · 45 videos")
    expect(page.locator("#page-prev")).to_be_disabled()
    first_page = titles_shown(page)
    assert "Row 39" in first_page[5] and "Row 25" in first_page[-1]

    page.locator("#page-next").click()
    expect(info).to_have_text("Page 2 of 3 · 45 videos")
    expect(rows.first).to_contain_text("Row 24")
    expect(rows.last).to_contain_text("Row 05")
    assert "cursor=" in requests[-1] and "page=" not in requests[-1]
    expect(page).to_have_url(re.compile(r"page=2.*cursor=|cursor=.*page=2"))

    page.locator("#page-next").click()
    expect(info).to_have_text("Page 3 of 3 · 45 videos")
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("Row 04")
    expect(rows.last).to_contain_text("Row 00")
    expect(page.locator("#page-next")).to_be_disabled()

    page.locator("#page-prev").click()
    expect(info).to_have_text("Page 2 of 3 · 45 videos")
    expect(rows.first).to_contain_text("Row 24")
    expect(rows.last).to_contain_text("Row 05")
    assert "cursor=" in requests[-1]

    # A reload keeps the page: the URL holds its cursor.
    page.reload()
    expect(info).to_have_text("Page 2 of 3 · 45 videos")
    expect(rows.first).to_contain_text("Row 24")

    page.locator("#page-prev").click()
    expect(info).to_have_text("Page 1 of 3 · 45 videos")
    expect(rows).to_have_count(20)
    assert titles_shown(page) == first_page
    expect(page.locator("#page-prev")).to_be_disabled()

    # A new sort starts again at page 1, by number, without the old sort's cursor.
    page.get_by_role("button", name="Title").click()
    expect(info).to_have_text("Page 1 of 3 · 45 videos")
    assert "cursor=" not in requests[-1]
    page.locator("#page-next").click()
    expect(info).to_have_text("Page 2 of 3 · 45 videos")
    expect(rows.first).to_contain_text("Row 20")  # Row 00..39, then the untitled real ones


def test_sign_in_still_shows_the_five(page: Any, server: Server) -> None:
    """The paging change leaves a one-page library as it was: both buttons disabled."""
    sign_in(page, server)
    expect(page.locator("#page-info")).to_have_text("Page 1 of 1 · 5 videos")
    expect(page.locator("#page-prev")).to_be_disabled()
    expect(page.locator("#page-next")).to_be_disabled()
