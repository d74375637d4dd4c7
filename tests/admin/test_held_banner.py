"""The held-pass banner of the admin page, in Chromium: shown, clicked, applied."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.admin.conftest import Server
from tests.mounts import tmpfs


def api(server: Server, method: str, path: str, body: object | None = None) -> Any:
    """A bearer-token call (plain urllib: Playwright holds the loop of this thread)."""
    request = urllib.request.Request(
        f"{server.url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_banner_shows_a_held_pass_and_its_button_applies_it(
    page: Any, server: Server, library_root: Path
) -> None:
    with tmpfs(library_root / "videos", "1m"):  # the share of videos/ is not mounted
        scanned = api(server, "POST", "/api/media/videos/scan", {"directoryType": "videos"})
        assert [h["missing"] for h in scanned["held"]] == [3] and scanned["missing"] == 0

        page.goto(f"{server.url}/admin/")
        page.get_by_label("Token").fill(server.token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#rows tr[data-id]")).to_have_count(5)  # nothing marked missing
        banner = page.get_by_role("region", name="Held passes")
        expect(banner).to_contain_text("videos: 3 of 3 records held back")
        banner.get_by_role("button", name="Mark 3 missing in videos").click()

        expect(page.locator("#held-result")).to_have_text("videos: 3 records marked missing.")
        expect(banner).to_be_hidden()
        expect(page.locator("#rows tr[data-id]")).to_have_count(2)  # the valid ones left
    assert api(server, "GET", "/api/media/library/held-passes")["heldPasses"] == []
