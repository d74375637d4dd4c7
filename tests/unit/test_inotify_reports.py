"""Which refused folders are polled: one stat-walk per refused subtree (issue 11 §2)."""

from __future__ import annotations

import pytest

from videolib.daemon.inotify_reports import WatchReports, subtree_tops

ROOT = "/lib"
INBOX = "/elsewhere/inbox"


@pytest.mark.parametrize(
    ("refused", "tops"),
    [
        ([], []),
        # A deep chain refused from level 3 on: its first refused folder stands for it.
        (
            ["/lib/videos/a/b/c", "/lib/videos/a/b/c/d", "/lib/videos/a/b/c/d/e"],
            ["/lib/videos/a/b/c"],
        ),
        # Order of the refusals does not matter.
        (["/lib/videos/a/b/c/d", "/lib/videos/a/b/c"], ["/lib/videos/a/b/c"]),
        # Two subtrees side by side; a sibling sharing a prefix is not under the other.
        (
            ["/lib/videos/x", "/lib/videos/x-2", "/lib/videos/x/y"],
            ["/lib/videos/x", "/lib/videos/x-2"],
        ),
        # Hidden folders are walked by nobody.
        (["/lib/videos/.sync", "/lib/videos/a/.cache/b"], []),
        # The targets themselves are polled whole when refused (Watcher._schedule).
        (["/lib", INBOX], []),
        # Below the inbox that lives elsewhere; outside every target: nothing.
        ([f"{INBOX}/batch", "/tmp/other"], [f"{INBOX}/batch"]),
    ],
)
def test_subtree_tops(refused: list[str], tops: list[str]) -> None:
    assert subtree_tops(refused, [ROOT, INBOX]) == tops


def test_reports_hand_over_each_refusal_once() -> None:
    overflows: list[None] = []
    reports = WatchReports(lambda: overflows.append(None))
    reports.refused("/lib/videos/a", "[Errno 28] inotify watch limit reached")
    reports.refused("/lib/videos/a", "[Errno 28] inotify watch limit reached")
    assert reports.take_refused() == {"/lib/videos/a": "[Errno 28] inotify watch limit reached"}
    assert reports.take_refused() == {}
    reports.overflowed()
    assert overflows == [None]
