"""Walk the boxes of an mp4/mov file (ISO/IEC 14496-12 4.2), a few bytes per box.

Shared by the readers of header facts that FFmpeg's libraries do not expose the same way
in every version: the display matrices (mp4_matrix.py) and the sample tables
(mp4_samples.py). Anything not laid out as the standard says raises `Unreadable`.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_HEADER = struct.Struct(">I4s")
_LARGE_SIZE = struct.Struct(">Q")
# Boxes read per level before giving up: every box is at least 8 bytes, this bounds the time.
MAX_BOXES = 1024


@dataclass(frozen=True, slots=True)
class Box:
    """A box: its four-character type and where its payload lies in the file."""

    type: bytes
    start: int  # first byte of the payload, after the header
    end: int
    begin: int  # first byte of the header


class Unreadable(Exception):
    """A layout these readers do not read exactly as FFmpeg does."""


def boxes(file: BinaryIO, start: int, end: int) -> Iterator[Box]:
    """The boxes between `start` and `end`, in order."""
    position = start
    for _ in range(MAX_BOXES):
        if position == end:
            return
        size, kind = _HEADER.unpack(read_exact(file, position, _HEADER.size, end))
        header = _HEADER.size
        if size == 1:  # a 64-bit size follows the type
            (size,) = _LARGE_SIZE.unpack(read_exact(file, position + header, _LARGE_SIZE.size, end))
            header += _LARGE_SIZE.size
        elif size == 0:  # the box runs to the end of its parent
            size = end - position
        if size < header or position + size > end:
            raise Unreadable(f"box {kind!r} of size {size} at {position}")
        yield Box(kind, position + header, position + size, position)
        position += size
    raise Unreadable("too many boxes")


def top_level(file: BinaryIO) -> list[Box]:
    """The file's top-level boxes, the last one possibly running past the end of the file.

    Unlike `boxes`, a box cut short ends the list instead of failing it: a cut `mdat` is
    what the caller looks for. A header that cannot be a box (a trailer) ends it too.
    """
    end = file.seek(0, os.SEEK_END)
    found: list[Box] = []
    position = 0
    while position + _HEADER.size <= end and len(found) < MAX_BOXES:
        size, kind = _HEADER.unpack(read_exact(file, position, _HEADER.size, end))
        header = _HEADER.size
        if size == 1 and position + header + _LARGE_SIZE.size <= end:
            (size,) = _LARGE_SIZE.unpack(read_exact(file, position + header, 8, end))
            header += _LARGE_SIZE.size
        elif size == 0:
            size = end - position
        if size < header:
            break
        found.append(Box(kind, position + header, position + size, position))
        position += size
    return found


def read_moov(file: BinaryIO, top: list[Box]) -> io.BytesIO | None:
    """The first top-level `moov` box, header included, in memory; None when there is none.

    One read for the whole box, then its many small fields come from memory, not from a
    disk or a network share.
    """
    moov = next((box for box in top if box.type == b"moov"), None)
    if moov is None:
        return None
    end = file.seek(0, os.SEEK_END)
    return io.BytesIO(read_exact(file, moov.begin, moov.end - moov.begin, end))


def child(file: BinaryIO, parent: Box, kind: bytes) -> Box | None:
    """The first box of a type directly inside `parent`."""
    return next((box for box in boxes(file, parent.start, parent.end) if box.type == kind), None)


def read_exact(file: BinaryIO, offset: int, count: int, limit: int) -> bytes:
    """Exactly `count` bytes at `offset`, all before `limit`."""
    if offset + count > limit:
        raise Unreadable(f"{count} bytes at {offset} run past {limit}")
    file.seek(offset)
    data = file.read(count)
    if len(data) != count:
        raise Unreadable(f"file ends before {offset + count}")
    return data
