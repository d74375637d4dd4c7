"""Page cursors: every sort's keys round trip, what is refused, which cursors a page gives."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from videolib.api.cursors import MAC_BYTES, CursorCodec, PageCursors, page_cursors
from videolib.api.schemas import BadRequestError
from videolib.shared.db.repository import Keyset, VideoPage

CODEC = CursorCodec("unit-test-secret-" + "z" * 40)
ROW = uuid.UUID("00000000-0000-4000-8000-000000000001")
MOMENT = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "keyset",
    [
        Keyset("-createdAt", MOMENT, ROW),
        Keyset("createdAt", MOMENT.astimezone(timezone(timedelta(hours=2))), ROW, backward=True),
        Keyset("title", 'Mountain \u00e9t\u00e9 "quoted" \u2603', ROW),
        Keyset("-title", None, ROW, backward=True),
        Keyset("title", "", ROW),
        Keyset("durationSeconds", 0, ROW),
        Keyset("-durationSeconds", None, ROW),
        Keyset("fileSize", 2**40 + 1, ROW, backward=True),
        Keyset("-fileSize", None, ROW),
    ],
)
def test_round_trip(keyset: Keyset) -> None:
    cursor = CODEC.encode(keyset)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert CODEC.decode(cursor, keyset.sort) == keyset


def _signed(fields: object) -> str:
    """A cursor with a valid MAC around any payload: what a future version might write."""
    payload = json.dumps(fields).encode()
    mac = CODEC._mac(payload)
    return base64.urlsafe_b64encode(mac + payload).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("cursor", "sort", "reason"),
    [
        (CODEC.encode(Keyset("title", "a", ROW)), "-title", "made for sort=title, not sort=-title"),
        ("A", "title", "not base64url"),
        ("AAAA", "title", "altered"),
        (base64.urlsafe_b64encode(b"\0" * MAC_BYTES + b"[]").decode(), "title", "altered"),
        (_signed({"v": 1}), "title", "another version"),
        (_signed([2, "title", "after", "a", str(ROW)]), "title", "another version"),
        (_signed([1, "title", "sideways", "a", str(ROW)]), "title", "direction"),
        (_signed([1, "title", "after", 5, str(ROW)]), "title", "not text"),
        (_signed([1, "fileSize", "after", "5", str(ROW)]), "fileSize", "not an integer"),
        (_signed([1, "fileSize", "after", True, str(ROW)]), "fileSize", "not an integer"),
        (_signed([1, "createdAt", "after", None, str(ROW)]), "createdAt", "not a timestamp"),
        (_signed([1, "createdAt", "after", "yesterday", str(ROW)]), "createdAt", "timestamp"),
        (_signed([1, "createdAt", "after", "2026-01-01T00:00:00", str(ROW)]), "createdAt", "zone"),
        (_signed([1, "title", "after", "a", "not-a-uuid"]), "title", "not a UUID"),
        (_signed([1, "title", "after", "a", None]), "title", "not a UUID"),
    ],
)
def test_refused(cursor: str, sort: str, reason: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        CODEC.decode(cursor, sort)
    assert raised.value.message.startswith("cursor: ")
    assert reason in raised.value.message


def test_another_secret_cannot_read_it() -> None:
    cursor = CODEC.encode(Keyset("title", "a", ROW))
    with pytest.raises(BadRequestError, match="cursor: not a cursor this API issued"):
        CursorCodec("a-different-secret-" + "q" * 40).decode(cursor, "title")


FIRST = ("a", uuid.UUID(int=1))
LAST = ("c", uuid.UUID(int=3))
AFTER = Keyset("title", *LAST)
BEFORE = Keyset("title", *FIRST, backward=True)


def page(rows: int, more: bool | None = None) -> VideoPage:
    keys = (FIRST, LAST) if rows else (None, None)
    return VideoPage("[]", rows, None, first=keys[0], last=keys[1], more=more)


@pytest.mark.parametrize(
    ("shown", "keyset", "rows_before", "total", "expected"),
    [
        # OFFSET pages: the total and the rows before decide.
        (page(3), None, 0, 10, PageCursors(AFTER, None)),  # page 1
        (page(3), None, 3, 10, PageCursors(AFTER, BEFORE)),  # page 2
        (page(1), None, 9, 10, PageCursors(None, BEFORE)),  # the last page
        (page(3), None, 0, 3, PageCursors(None, None)),  # the only page
        (page(0), None, 30, 10, PageCursors(None, None)),  # past the end
        # Keyset pages read forwards: `more` decides what follows; the cursor's row precedes.
        (page(3, True), Keyset("title", "0", ROW), 0, 10, PageCursors(AFTER, BEFORE)),
        (page(2, False), Keyset("title", "0", ROW), 0, 10, PageCursors(None, BEFORE)),
        # ... backwards: `more` decides what precedes; the cursor's row follows.
        (page(3, True), Keyset("title", "z", ROW, True), 0, 10, PageCursors(AFTER, BEFORE)),
        (page(3, False), Keyset("title", "z", ROW, True), 0, 10, PageCursors(AFTER, None)),
        # Every row past the cursor is gone: nothing to offer.
        (page(0, False), Keyset("title", "0", ROW), 0, 10, PageCursors(None, None)),
    ],
)
def test_which_cursors_a_page_gives(
    shown: VideoPage, keyset: Keyset | None, rows_before: int, total: int, expected: PageCursors
) -> None:
    assert page_cursors(shown, "title", keyset, rows_before=rows_before, total=total) == expected
