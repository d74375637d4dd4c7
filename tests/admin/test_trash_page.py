"""The admin page's trash and clean-up actions in a real browser (Debian's chromium),
against the real API, PostgreSQL and files (issue 11 §3-4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import expect

from tests.admin.conftest import Server
from tests.admin.test_library_page import row, sign_in


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def confirm(page: Any, name: str) -> None:
    page.locator("#confirm-dialog").get_by_role("button", name=name).click()


def test_move_to_trash_then_restore(page: Any, server: Server) -> None:
    root = server.config.library_root
    clip = root / "videos" / "beach-sunset.mp4"
    content = clip.read_bytes()
    sign_in(page, server)
    beach = row(page, "beach-sunset.mp4")
    beach.get_by_role("button", name=re.compile("^Move to trash")).click()
    expect(page.locator("#confirm-title")).to_have_text("Move the file to the trash?")
    confirm(page, "Cancel")
    expect(beach).to_be_visible()
    assert clip.exists()

    beach.get_by_role("button", name=re.compile("^Move to trash")).click()
    confirm(page, "Move to trash")
    expect(row(page, "beach-sunset.mp4")).to_have_count(0)
    expect(page.locator("#rows tr[data-id]")).to_have_count(4)
    trashed = root / ".trash" / today() / "videos" / "beach-sunset.mp4"
    assert not clip.exists() and trashed.read_bytes() == content

    page.get_by_label("Show invalid").check()
    in_trash = row(page, "beach-sunset.mp4")
    expect(in_trash).to_contain_text("In the trash (from videos/beach-sunset.mp4)")
    expect(in_trash.get_by_role("button", name=re.compile("^Move to trash"))).to_have_count(0)
    in_trash.get_by_role("button", name=re.compile("^Restore")).click()
    expect(row(page, "beach-sunset.mp4")).to_have_count(0)
    page.get_by_label("Show invalid").uncheck()
    expect(page.locator("#rows tr[data-id]")).to_have_count(5)
    assert clip.read_bytes() == content and not trashed.exists()


def test_restore_refused_shows_why_on_the_row(page: Any, server: Server) -> None:
    root = server.config.library_root
    sign_in(page, server)
    row(page, "cat.mp4").get_by_role("button", name=re.compile("^Move to trash")).click()
    confirm(page, "Move to trash")
    expect(page.locator("#rows tr[data-id]")).to_have_count(4)
    (root / "gifs" / "cat.mp4").write_bytes(b"a new file took the name")
    page.get_by_label("Show invalid").check()
    cat = row(page, "cat.mp4")
    cat.get_by_role("button", name=re.compile("^Restore")).click()
    expect(cat.locator(".row-result.fail")).to_contain_text("a file is there now")
    assert (root / "gifs" / "cat.mp4").read_bytes() == b"a new file took the name"
    assert (root / ".trash" / today() / "gifs" / "cat.mp4").is_file()


def test_cleanup_dry_run_then_apply(page: Any, server: Server) -> None:
    root = server.config.library_root
    sign_in(page, server)
    # One soft-deleted (its file stays), one whose file went (missing after a validate).
    row(page, "phone-clip.mp4").get_by_role("button", name=re.compile("^Delete")).click()
    confirm(page, "Delete")
    expect(row(page, "phone-clip.mp4")).to_have_count(0)
    (root / "videos" / "square-loop.mp4").unlink()
    square = row(page, "square-loop.mp4")
    square.get_by_role("button", name=re.compile("^Validate")).click()
    expect(square.locator(".row-result.fail")).to_contain_text("Invalid")

    page.get_by_role("link", name="Clean-up").click()
    expect(page).to_have_url(re.compile(r"view=cleanup"))
    page.get_by_role("button", name="List (dry run)").click()
    listed = page.locator("#cleanup-rows tr")
    expect(listed).to_have_count(2)
    expect(page.locator("#cleanup-summary")).to_contain_text("Dry run: 2 videos")
    expect(listed.filter(has_text="videos/phone-clip.mp4")).to_contain_text("yes")
    expect(listed.filter(has_text="videos/square-loop.mp4")).to_contain_text("no")
    assert (root / "videos" / "phone-clip.mp4").exists()  # the dry run changed nothing

    page.get_by_role("button", name="Move files to trash and drop records").click()
    confirm(page, "Move to trash and drop")
    expect(page.locator("#cleanup-summary")).to_contain_text("Moved 1 files to the trash")
    expect(page.locator("#cleanup-summary")).to_contain_text("dropped 1 records")
    report = page.locator("#cleanup-report li")
    expect(report).to_have_count(2)
    expect(report.filter(has_text="phone-clip.mp4")).to_contain_text(
        f".trash/{today()}/videos/phone-clip.mp4"
    )
    assert not (root / "videos" / "phone-clip.mp4").exists()
    assert (root / ".trash" / today() / "videos" / "phone-clip.mp4").is_file()

    page.get_by_role("button", name="List (dry run)").click()
    expect(page.locator("#cleanup-summary")).to_have_text("No invalid videos match.")
    page.get_by_role("link", name="Library").click()
    expect(page.locator("#rows tr[data-id]")).to_have_count(3)
