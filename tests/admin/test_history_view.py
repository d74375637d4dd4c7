"""The history dialog of the library page (issue 11 §6), in a real browser."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.admin.conftest import Server
from tests.admin.test_library_page import row, sign_in


def test_an_edit_shows_in_the_history_with_its_old_and_new_value(page: Any, server: Server) -> None:
    sign_in(page, server)
    row(page, "square-loop.mp4").get_by_role("button", name=re.compile("^Edit")).click()
    dialog = page.locator("#edit-dialog")
    dialog.get_by_label("Title").fill("Square dance")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()

    row(page, "Square dance").get_by_role("button", name=re.compile("^History")).click()
    history = page.locator("#history-dialog")
    expect(history).to_be_visible()
    events = history.locator(".history-event")
    expect(events).to_have_count(2)  # recorded, then edited: newest first
    expect(events.first).to_contain_text("Edited")
    expect(events.first).to_contain_text('title: – → "Square dance"')
    expect(events.last).to_contain_text("Recorded")
    expect(events.last).to_contain_text("videos/square-loop.mp4")
    history.get_by_role("button", name="Close").click()
    expect(history).to_be_hidden()
