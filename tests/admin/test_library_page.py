"""The admin library page in a real browser (Debian's chromium), against the real API."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.admin.conftest import ARTIFACTS, Server


def sign_in(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/admin/")
    page.get_by_label("Token").fill(server.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#rows tr[data-id]")).to_have_count(5)


def test_login_prompt_then_library_then_logout(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/admin/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#library")).to_be_hidden()
    page.get_by_label("Token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("not accepted")
    sign_in(page, server)
    first = page.locator("#rows tr[data-id]").first
    expect(first.locator("img.thumb")).to_be_visible()
    expect(page.locator("#page-info")).to_contain_text("5 videos")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "library.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def row(page: Any, name: str) -> Any:
    return page.locator("#rows tr[data-id]", has_text=name)


def test_filters_and_search_live_in_the_url(page: Any, server: Server) -> None:
    sign_in(page, server)
    filters = page.locator("#filters")
    filters.get_by_label("Directory type").select_option("videos")
    expect(page.locator("#rows tr[data-id]")).to_have_count(3)
    page.get_by_label("Portrait").check()
    expect(page.locator("#rows tr[data-id]")).to_have_count(1)
    expect(row(page, "phone-clip.mp4")).to_be_visible()
    page.get_by_label("All", exact=True).check()
    page.get_by_label("HD", exact=True).check()
    expect(page.locator("#rows tr[data-id]")).to_have_count(1)
    expect(row(page, "beach-sunset.mp4")).to_contain_text("HD")
    expect(page).to_have_url(re.compile(r"directoryType=videos.*quality=HD"))
    # The view survives a reload: a bookmark shows the same rows.
    page.reload()
    expect(page.get_by_label("HD", exact=True)).to_be_checked()
    expect(page.locator("#rows tr[data-id]")).to_have_count(1)
    page.get_by_label("HD", exact=True).uncheck()
    filters.get_by_label("Directory type").select_option("")
    # Search over title, producer, creator: give one video a producer first.
    edit_row(page, "interview.mp4", producer="Acme Studios", title="The Interview")
    page.get_by_label("Search").fill("acme")
    expect(page.locator("#rows tr[data-id]")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"search=acme"))
    page.get_by_label("Search").fill("nothing-matches-this")
    expect(page.locator("#rows")).to_contain_text("No videos match")
    # Sorting by a column: the header says which way.
    page.get_by_label("Search").fill("")
    expect(page.locator("#rows tr[data-id]")).to_have_count(5)
    page.get_by_role("button", name="Size").click()
    expect(page.locator("th[data-sort=fileSize]")).to_have_attribute("aria-sort", "descending")
    expect(page.locator("#rows tr[data-id]").first).to_contain_text("beach-sunset.mp4")
    page.get_by_role("button", name="Size").click()
    expect(page.locator("#rows tr[data-id]").first).to_contain_text("cat.mp4")
    expect(page).to_have_url(re.compile(r"sort=fileSize"))


def edit_row(page: Any, name: str, **fields: str) -> None:
    row(page, name).get_by_role("button", name=re.compile("^Edit")).click()
    dialog = page.locator("#edit-dialog")
    expect(dialog).to_be_visible()
    for field, value in fields.items():
        dialog.get_by_label(field.capitalize(), exact=False).first.fill(value)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()


def test_edit_saves_in_place_with_tag_suggestions(page: Any, server: Server) -> None:
    sign_in(page, server)
    edit_row(
        page, "cat.mp4", title="Cat on a mat", producer="Home", creator="Ann", tags="pets, cats"
    )
    cat = row(page, "Cat on a mat")
    expect(cat).to_contain_text("Home • Ann")
    expect(cat).to_contain_text("pets, cats")
    expect(cat.locator(".row-result")).to_have_text("Saved")
    # The next edit suggests the tags in use.
    row(page, "square-loop.mp4").get_by_role("button", name=re.compile("^Edit")).click()
    dialog = page.locator("#edit-dialog")
    dialog.get_by_label("Tags").fill("pe")
    dialog.get_by_role("button", name=re.compile("Add tag pets")).click()
    expect(dialog.get_by_label("Tags")).to_have_value("pets, ")
    dialog.get_by_role("button", name="Save").click()
    expect(row(page, "square-loop.mp4")).to_contain_text("pets")
    page.reload()
    expect(row(page, "Cat on a mat")).to_contain_text("Home • Ann")


def test_scan_dialog_shows_progress_to_the_end(page: Any, server: Server) -> None:
    from tests.media import make_video

    root = server.config.library_root
    for name in ("new-one.mp4", "new-two.mp4"):
        make_video(root / "videos" / name, width=320, height=180)
    (root / "videos" / "broken.mp4").write_text("not a video")
    sign_in(page, server)
    page.get_by_role("button", name="Scan directory").click()
    dialog = page.locator("#scan-dialog")
    dialog.get_by_label("Directory type").select_option("videos")
    expect(dialog.get_by_label(re.compile("Skip existing"))).to_be_checked()
    dialog.get_by_role("button", name="Start scan").click()
    expect(dialog.locator("#scan-state")).to_contain_text("Scan complete", timeout=30000)
    expect(dialog.locator("dd.created")).to_have_text("2")
    expect(dialog.locator("dd.skipped")).to_have_text("3")
    expect(dialog.locator("dd.failed")).to_have_text("1")
    expect(dialog.locator("#scan-errors")).to_contain_text("broken.mp4")
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator("#rows tr[data-id]")).to_have_count(7)
    expect(row(page, "new-two.mp4")).to_be_visible()


def test_validate_delete_restore_and_purge(page: Any, server: Server) -> None:
    sign_in(page, server)
    beach = row(page, "beach-sunset.mp4")
    beach.get_by_role("button", name=re.compile("^Validate")).click()
    expect(beach.locator(".row-result")).to_have_text("Valid ✓")
    # A file damaged on disk: validation says so in red, the row is struck through.
    (server.config.library_root / "videos" / "square-loop.mp4").write_text("damaged")
    square = row(page, "square-loop.mp4")
    square.get_by_role("button", name=re.compile("^Validate")).click()
    expect(square.locator(".row-result.fail")).to_contain_text("Invalid: corrupt")
    expect(square).to_have_class(re.compile("invalid"))
    # Delete asks first; cancelling keeps the row.
    beach.get_by_role("button", name=re.compile("^Delete")).click()
    page.locator("#confirm-dialog").get_by_role("button", name="Cancel").click()
    expect(beach).to_be_visible()
    beach.get_by_role("button", name=re.compile("^Delete")).click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(row(page, "beach-sunset.mp4")).to_have_count(0)
    # Show invalid: the deleted one, struck through with its reason; restore brings it back.
    page.get_by_label("Show invalid").check()
    deleted = row(page, "beach-sunset.mp4")
    expect(deleted).to_contain_text("Invalid (deleted)")
    expect(deleted.locator(".title")).to_have_css("text-decoration-line", "line-through")
    deleted.get_by_role("button", name=re.compile("^Restore")).click()
    expect(row(page, "beach-sunset.mp4")).to_have_count(0)
    # Permanent delete of the corrupt one needs two confirmations.
    broken = row(page, "square-loop.mp4")
    broken.get_by_role("button", name=re.compile("^Delete permanently")).click()
    page.locator("#confirm-dialog").get_by_role("button", name="Continue").click()
    expect(page.locator("#confirm-title")).to_have_text("This cannot be undone")
    page.locator("#confirm-dialog").get_by_role("button", name="Delete permanently").click()
    expect(page.locator("#rows")).to_contain_text("No invalid videos")
    page.get_by_label("Show invalid").uncheck()
    expect(page.locator("#rows tr[data-id]")).to_have_count(4)
    expect(row(page, "beach-sunset.mp4")).to_be_visible()


def test_bulk_edit_and_validate_two_rows(page: Any, server: Server) -> None:
    sign_in(page, server)
    page.get_by_label("Select cat.mp4").check()
    page.get_by_label("Select phone-clip.mp4").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    page.get_by_role("button", name="Bulk edit").click()
    dialog = page.locator("#bulk-dialog")
    dialog.get_by_label("Producer").fill("Bulk Films")
    dialog.get_by_label("Tags").fill("batch")
    dialog.get_by_role("button", name="Apply to selected").click()
    for name in ("cat.mp4", "phone-clip.mp4"):
        expect(row(page, name)).to_contain_text("Bulk Films")
        expect(row(page, name)).to_contain_text("batch")
    expect(row(page, "beach-sunset.mp4")).not_to_contain_text("Bulk Films")
    page.get_by_role("button", name="Validate selected").click()
    progress = page.locator("#progress-dialog")
    expect(progress.locator("#progress-text")).to_contain_text("Done: 2 succeeded, 0 failed")
    progress.get_by_role("button", name="Close").click()
    expect(progress).to_be_hidden()


def test_state_changing_calls_need_the_csrf_header(page: Any, server: Server) -> None:
    sign_in(page, server)
    video_id = row(page, "cat.mp4").get_attribute("data-id")
    api = page.context.request  # shares the page's cookies
    assert api.get(f"{server.url}/api/media/videos/{video_id}").ok
    refused = api.put(f"{server.url}/api/media/videos/{video_id}", data={"title": "x"})
    assert refused.status == 403
    assert refused.json()["error"] == "csrf_failed"
    thumbnail = api.get(f"{server.url}/api/media/videos/{video_id}/thumbnail")
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert "no-cache" in thumbnail.headers["cache-control"]
    assert thumbnail.headers["etag"]


def test_phone_screen_and_keyboard(browser: Any, server: Server) -> None:
    from tests.admin.conftest import new_page

    page = new_page(browser, 390, 844)
    sign_in(page, server)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px screen"
    expect(row(page, "cat.mp4").get_by_role("button", name=re.compile("^Edit"))).to_be_visible()
    # Keyboard only: tab to the scan button and open the dialog with Enter; Escape closes it.
    page.locator("body").focus()
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "scan-open":
            break
    assert page.evaluate("document.activeElement.id") == "scan-open"
    page.keyboard.press("Enter")
    expect(page.locator("#scan-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#scan-dialog")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "library-phone.png"), full_page=True)


def test_login_link_and_duplicates_view(page: Any, server: Server) -> None:
    import shutil

    videos = server.config.library_root / "videos"
    shutil.copy(videos / "beach-sunset.mp4", videos / "beach-copy.mp4")
    # A login link: the token rides in the fragment, which never reaches the server.
    page.goto(f"{server.url}/admin/#token={server.token}")
    expect(page.locator("#rows tr[data-id]")).to_have_count(5)
    expect(page).to_have_url(re.compile(r"/admin/$"))  # the token left the address bar
    page.get_by_role("button", name="Scan directory").click()
    page.locator("#scan-dialog").get_by_role("button", name="Start scan").click()
    expect(page.locator("#scan-state")).to_contain_text("Scan complete", timeout=30000)
    page.locator("#scan-dialog").get_by_role("button", name="Close").click()
    page.get_by_role("link", name="Duplicates").click()
    group = page.locator(".dup-group")
    expect(group).to_have_count(1)
    expect(group).to_contain_text("2 copies")
    expect(group).to_contain_text("videos/beach-copy.mp4")
    expect(group).to_contain_text("videos/beach-sunset.mp4")
    expect(page).to_have_url(re.compile(r"view=duplicates"))
    page.go_back()
    expect(page.locator("#library")).to_be_visible()
