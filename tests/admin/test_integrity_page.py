"""The admin page's integrity view in Chromium: a flagged file, a refused stale accept, CSV."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.admin.conftest import Server
from tests.daemon.harness import sha256
from tests.integrity_helpers import flip_byte_keeping_mtime, verify_cycle
from videolib.shared.db.engine import open_engine

ROTTEN = "videos/beach-sunset.mp4"


async def _verify_all(server: Server) -> None:
    """One verification cycle over the page's library, as the workers' jobs run it."""
    config = server.config
    async with open_engine(config.sqlalchemy_url(), pool_size=2) as engine:
        await verify_cycle(config, engine)


@pytest.fixture
def flagged(server: Server) -> Path:
    """The server's library with one file rotted and found (before the browser starts)."""
    path = server.config.library_root / ROTTEN
    flip_byte_keeping_mtime(path, path.stat().st_size // 2)
    asyncio.run(_verify_all(server))
    return path


def test_integrity_view_refuses_a_stale_accept_then_accepts(
    flagged: Path, page: Any, server: Server
) -> None:
    page.goto(f"{server.url}/admin/#token={server.token}")
    page.get_by_role("link", name="Integrity").click()
    expect(page).to_have_url(re.compile(r"view=integrity"))
    finding = page.locator(".finding")
    expect(finding).to_have_count(1)
    expect(finding).to_contain_text(ROTTEN)
    expect(finding).to_contain_text(sha256(flagged))
    expect(page.locator("#integrity-summary")).to_contain_text("1 open")

    # The file rots further while the page shows the old report: accept is refused.
    flip_byte_keeping_mtime(flagged, 200)
    finding.get_by_role("button", name="Accept new hash").click()
    expect(page.locator(".finding .finding-note")).to_contain_text("changed again")
    expect(page.locator(".finding")).to_contain_text(sha256(flagged))  # the report is current

    page.locator(".finding").get_by_role("button", name="Accept new hash").click()
    expect(page.locator(".finding")).to_have_count(0)
    expect(page.locator("#integrity-findings")).to_contain_text("No open findings")
    page.locator("#integrity-status").select_option("accepted")
    expect(page.locator(".finding")).to_contain_text("accepted")

    href = page.locator("#integrity-export").get_attribute("href")
    assert href == "/api/media/integrity/findings.csv?status=accepted"
    request = urllib.request.Request(
        server.url + href, headers={"Authorization": f"Bearer {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    assert ROTTEN in text and sha256(flagged) in text
