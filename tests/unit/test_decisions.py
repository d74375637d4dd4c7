"""The rescan rules, case by case."""

from __future__ import annotations

import pytest

from videolib.shared.db.records import Fingerprint
from videolib.shared.decisions import Examine, Skip, decide_rescan


def recorded(size: int = 10, mtime: int = 5, reason: str | None = None) -> Fingerprint:
    return Fingerprint(size, mtime, reason)


@pytest.mark.parametrize(
    ("found", "record", "skip_existing", "expected"),
    [
        ((10, 5), None, True, Examine("new")),
        ((10, 5), recorded(), True, Skip("unchanged")),
        ((11, 5), recorded(), True, Examine("changed")),
        ((10, 6), recorded(), True, Examine("changed")),
        ((10, 5), recorded(), False, Examine("forced")),
        ((10, 5), recorded(reason="corrupt"), True, Examine("was corrupt")),
        ((10, 5), recorded(reason="unreadable"), True, Examine("was unreadable")),
        ((10, 5), recorded(reason="missing"), True, Examine("was missing")),
        # An admin's soft delete is not undone by reading the file again.
        ((10, 5), recorded(reason="deleted"), True, Skip("unchanged")),
        ((10, 5), recorded(size=None, mtime=None), True, Examine("changed")),  # type: ignore[arg-type]
    ],
)
def test_decide_rescan(
    found: tuple[int, int], record: Fingerprint | None, skip_existing: bool, expected: object
) -> None:
    assert decide_rescan(*found, record, skip_existing=skip_existing) == expected
