"""Page cursors: a keyset page's start as an opaque, signed string, and which ones a page gives.

A cursor is base64url (no padding) of a MAC and a JSON array `[version, sort, direction,
sort value, id]`. A search's pages are ranked (whole-word matches first, then the other
matches, each in the sort's order: repository/search.py), an order no index range walks, so
its cursors hold the number of rows before the page instead (direction `offset`, the value
that number, no id): still opaque and signed, as cheap as `page=` at that depth.

The MAC (HMAC-SHA256 under a key derived from `api.jwt_secret`, cut to
16 bytes) means a cursor the server did not issue (edited, cut short, from another
deployment) is refused as a 400 naming `cursor`, before any of its values reaches SQL.
The values are checked against their sort's types all the same: the MAC proves where a
cursor came from, not that an older version of this code wrote the same shape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from videolib.api.schemas import BadRequestError
from videolib.shared.db.repository import Keyset, VideoPage
from videolib.shared.db.repository.keyset import KeyValue

VERSION = 1
MAC_BYTES = 16
_DIRECTIONS = {"after": False, "before": True}
OFFSET = "offset"
#: No search has more pages than this; a larger offset is no cursor we issued.
MAX_OFFSET = 100_000_000
_INTEGER_SORTS = frozenset({"durationSeconds", "fileSize"})


def _refused(reason: str) -> BadRequestError:
    return BadRequestError(f"cursor: {reason}")


class CursorCodec:
    """Encodes keysets as cursors and reads them back, refusing any it did not sign."""

    def __init__(self, secret: str) -> None:
        # A key of its own: a cursor's MAC can never double as a token's signature.
        self._key = hmac.new(secret.encode(), b"videolib page cursor", hashlib.sha256).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:MAC_BYTES]

    def encode(self, keyset: Keyset) -> str:
        direction = "before" if keyset.backward else "after"
        return self._sealed([VERSION, keyset.sort, direction, _plain(keyset.value), str(keyset.id)])

    def encode_offset(self, sort: str, offset: int) -> str:
        """A search page's cursor: the rows before it (see the module's docstring)."""
        return self._sealed([VERSION, sort, OFFSET, offset, ""])

    def _sealed(self, fields: list[Any]) -> str:
        payload = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(self._mac(payload) + payload).rstrip(b"=").decode()

    def decode(self, cursor: str, sort: str) -> Keyset | int:
        """The keyset (or a search's offset) of a cursor made for `sort`; a 400 naming
        `cursor` for any other."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise _refused("not a cursor this API issued (not base64url)") from None
        mac, payload = raw[:MAC_BYTES], raw[MAC_BYTES:]
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            raise _refused(
                "not a cursor this API issued (altered, cut short, or signed with another secret)"
            )
        try:
            fields = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _refused("unreadable") from None
        if not isinstance(fields, list) or len(fields) != 5 or fields[0] != VERSION:
            raise _refused("from another version of the API; start again from page 1")
        _, made_for, direction, value, row_id = fields
        if made_for != sort:
            raise _refused(f"made for sort={made_for}, not sort={sort}; send the same sort")
        if direction == OFFSET:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _refused("unreadable offset")
            if not 0 <= value <= MAX_OFFSET:
                raise _refused("offset out of range")
            return value
        if direction not in _DIRECTIONS:
            raise _refused("unreadable direction")
        return Keyset(sort, _typed(sort, value), _uuid(row_id), _DIRECTIONS[direction])


def _plain(value: KeyValue) -> Any:
    """A sort value as JSON: timestamps in full (microseconds and offset)."""
    return value.isoformat() if isinstance(value, datetime) else value


def _typed(sort: str, value: Any) -> KeyValue:
    key = sort.lstrip("-")
    if key == "createdAt":
        if not isinstance(value, str):
            raise _refused("createdAt value is not a timestamp")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _refused("createdAt value is not a timestamp") from None
        if moment.tzinfo is None:
            raise _refused("createdAt value has no time zone")
        return moment
    if value is None:
        return None
    if key in _INTEGER_SORTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _refused(f"{key} value is not an integer")
        return value
    if not isinstance(value, str):
        raise _refused(f"{key} value is not text")
    return value


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise _refused("row id is not a UUID") from None


@dataclass(frozen=True, slots=True)
class PageCursors:
    """Where the pages beside one start: past its last row, and before its first."""

    next: Keyset | None
    prev: Keyset | None


def page_cursors(
    page: VideoPage, sort: str, keyset: Keyset | None, *, rows_before: int, total: int
) -> PageCursors:
    """The cursors a page offers, None where there is nothing to go to.

    An OFFSET page (keyset None) knows its place from `rows_before` and the total; a keyset
    page knows only its own direction (`page.more`): the way it came from has at least the
    row its cursor named, unless the page is empty (that row and all past it are gone).
    """
    if page.first is None or page.last is None:
        return PageCursors(None, None)
    after = Keyset(sort, page.last[0], page.last[1])
    before = Keyset(sort, page.first[0], page.first[1], backward=True)
    if keyset is None:
        more_after, more_before = rows_before + page.rows < total, rows_before > 0
    elif keyset.backward:
        more_after, more_before = True, bool(page.more)
    else:
        more_after, more_before = bool(page.more), True
    return PageCursors(after if more_after else None, before if more_before else None)
