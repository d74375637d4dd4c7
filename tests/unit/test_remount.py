"""Which folders changed device between two looks of the watch checker."""

from __future__ import annotations

import pytest

from videolib.daemon.remount import Devices, changed


@pytest.mark.parametrize(
    ("last", "now", "expected"),
    [
        ({".": 1, "studios": 1}, {".": 1, "studios": 1}, []),
        ({".": 1, "studios": 7}, {".": 1, "studios": 1}, ["studios"]),  # umount -l
        ({".": 1, "studios": 1}, {".": 1, "studios": 9}, ["studios"]),  # mounted over
        ({".": 1, "studios": None}, {".": 1, "studios": 7}, ["studios"]),  # folder back
        ({".": 1, "studios": 7}, {".": 1, "studios": None}, ["studios"]),  # folder gone
        ({".": 1, "gifs": 1}, {".": 2, "gifs": 2}, [".", "gifs"]),  # the whole root
    ],
)
def test_changed(last: Devices, now: Devices, expected: list[str]) -> None:
    assert changed(last, now) == expected
