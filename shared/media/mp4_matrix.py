"""The display matrices of an mp4/mov file's tracks, read from its `moov` box.

Why this exists: PyAV 18 exposes no stream side data, so the only display matrix it offers
is a decoded frame's (`VideoFrame.rotation`), and decoding a frame costs nearly as much as
opening the file. In the mov/mp4 family the matrix is header data: FFmpeg's mov demuxer gives each
stream its `tkhd` matrix times the movie's `mvhd` matrix (ISO/IEC 14496-12 8.2.2 and 8.3.2;
libavformat/mov.c `mov_read_tkhd`), which is what ffprobe reports and what the decoder puts
on frames. Only layouts that FFmpeg reads the same way are accepted; for anything else
`read_tracks` answers None and the caller decodes a frame as before.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from videolib.shared.media.mp4_boxes import Box, Unreadable, boxes, read_exact

#: A 3x3 display matrix, its nine cells row by row: 16.16 fixed point, the last column 2.30.
Matrix = tuple[int, ...]

_TRACK_ID = struct.Struct(">i")  # FFmpeg stores it in AVStream.id, an int
_MATRIX = struct.Struct(">9i")
# Where the matrix starts in the payload, by box and version (1: 64-bit times).
_MVHD_MATRIX_AT = {0: 36, 1: 48}
_TKHD_MATRIX_AT = {0: 40, 1: 52}
_TKHD_TRACK_ID_AT = {0: 12, 1: 20}


@dataclass(frozen=True, slots=True)
class Track:
    """A `trak` of the file's `moov`: its track_ID and the display matrix FFmpeg gives it."""

    track_id: int
    matrix: Matrix


def read_tracks(file: BinaryIO) -> tuple[Track, ...] | None:
    """The tracks of the first `moov`, in file order; None when they cannot be read here.

    FFmpeg makes one stream per `trak`, in this order, so track k is stream k when the
    counts agree. `file` must be seekable; reads are a few bytes per box.
    """
    try:
        end = file.seek(0, os.SEEK_END)
        moov = next((box for box in boxes(file, 0, end) if box.type == b"moov"), None)
        return None if moov is None else _tracks(file, moov)
    except Unreadable:
        return None


def rotation_degrees(matrix: Matrix) -> float:
    """The counter-clockwise angle of a matrix, as FFmpeg's `av_display_rotation_get`.

    Same arithmetic as libavutil/display.c, so the result is bit for bit FFmpeg's: NaN for
    a matrix that squashes an axis to nothing.
    """
    m0, m1, m3, m4 = (value / (1 << 16) for value in (matrix[0], matrix[1], matrix[3], matrix[4]))
    scale_0, scale_1 = math.hypot(m0, m3), math.hypot(m1, m4)
    if scale_0 == 0.0 or scale_1 == 0.0:
        return math.nan
    return -(math.atan2(m1 / scale_1, m0 / scale_0) * 180 / math.pi)


def _tracks(file: BinaryIO, moov: Box) -> tuple[Track, ...]:
    """Each trak's track_ID and tkhd matrix times the mvhd matrix."""
    movie: Matrix | None = None
    tracks: list[Track] = []
    for box in boxes(file, moov.start, moov.end):
        if box.type == b"mvhd":
            # FFmpeg applies the last mvhd read to the traks after it: accept only one,
            # before every trak (without one its movie matrix is all zeros).
            if movie is not None or tracks:
                raise Unreadable("mvhd not first and alone")
            movie = _MATRIX.unpack(_full_box_field(file, box, _MVHD_MATRIX_AT, _MATRIX.size))
        elif box.type == b"trak":
            if movie is None:
                raise Unreadable("trak before mvhd")
            track_id, matrix = _track_header(file, box)
            tracks.append(Track(track_id, _product(matrix, movie)))
    return tuple(tracks)


def _track_header(file: BinaryIO, trak: Box) -> tuple[int, Matrix]:
    """(track_ID, matrix) of a trak's one tkhd."""
    children = list(boxes(file, trak.start, trak.end))
    headers = [box for box in children if box.type == b"tkhd"]
    # FFmpeg rejects a second tkhd, and an mvhd here would change the movie matrix.
    if len(headers) != 1 or any(box.type == b"mvhd" for box in children):
        raise Unreadable("not one tkhd")
    (track_id,) = _TRACK_ID.unpack(
        _full_box_field(file, headers[0], _TKHD_TRACK_ID_AT, _TRACK_ID.size)
    )
    return track_id, _MATRIX.unpack(
        _full_box_field(file, headers[0], _TKHD_MATRIX_AT, _MATRIX.size)
    )


def _product(track: Matrix, movie: Matrix) -> Matrix:
    """track x movie, in FFmpeg's integer arithmetic (mov.c `mov_read_tkhd`).

    64-bit products shifted back by the row of `movie` (16.16, 16.16, 2.30), sums kept in
    32 bits.
    """
    shifts = (16, 16, 30)
    return tuple(
        _int32(sum((track[3 * i + e] * movie[3 * e + j]) >> shifts[e] for e in range(3)))
        for i in range(3)
        for j in range(3)
    )


def _int32(value: int) -> int:
    """Wrap to a signed 32-bit int, as the C assignment to `int` does."""
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def _full_box_field(file: BinaryIO, box: Box, offsets: dict[int, int], count: int) -> bytes:
    """`count` bytes of a full box at its version's offset; versions but 0 and 1 refused."""
    (version,) = read_exact(file, box.start, 1, box.end)
    offset = offsets.get(version)
    if offset is None:
        raise Unreadable(f"{box.type!r} version {version}")
    return read_exact(file, box.start + offset, count, box.end)
