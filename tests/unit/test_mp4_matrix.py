"""mp4_matrix.py on synthetic boxes: the display matrix FFmpeg gives each track, or None."""

from __future__ import annotations

import io
import math
import struct

import pytest

from videolib.shared.media.mp4_matrix import Matrix, Track, read_tracks, rotation_degrees

IDENTITY: Matrix = (1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30)
# As FFmpeg's av_display_rotation_set writes them: a phone turned a quarter clockwise is -90.
CLOCKWISE_90: Matrix = (0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30)
TURNED_180: Matrix = (-(1 << 16), 0, 0, 0, -(1 << 16), 0, 0, 0, 1 << 30)


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def large_box(kind: bytes, payload: bytes = b"") -> bytes:
    """A box with a 64-bit size (size field 1)."""
    return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload


def mvhd(matrix: Matrix = IDENTITY, version: int = 0) -> bytes:
    times = bytes(8 + 8 + 4 + 8) if version == 1 else bytes(4 + 4 + 4 + 4)
    rest = bytes(4 + 2 + 10) + struct.pack(">9i", *matrix) + bytes(6 * 4 + 4)
    return box(b"mvhd", bytes([version, 0, 0, 0]) + times + rest)


def tkhd(track_id: int, matrix: Matrix = IDENTITY, version: int = 0) -> bytes:
    wide = version == 1
    times = bytes(16 if wide else 8) + struct.pack(">I", track_id) + bytes(4 + (8 if wide else 4))
    rest = bytes(8 + 8) + struct.pack(">9i", *matrix) + struct.pack(">II", 320 << 16, 240 << 16)
    return box(b"tkhd", bytes([version, 0, 0, 0]) + times + rest)


def trak(track_id: int, matrix: Matrix = IDENTITY, version: int = 0) -> bytes:
    return box(b"trak", tkhd(track_id, matrix, version) + box(b"mdia", box(b"hdlr", bytes(24))))


FTYP = box(b"ftyp", b"isom" + bytes(4) + b"isomavc1")
MDAT = box(b"mdat", bytes(64))
MOOV = box(b"moov", mvhd() + trak(1, CLOCKWISE_90) + trak(2))
TRACKS = (Track(1, CLOCKWISE_90), Track(2, IDENTITY))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(FTYP + MDAT + MOOV, TRACKS, id="moov at the end"),
        pytest.param(FTYP + MOOV + MDAT, TRACKS, id="moov at the start"),
        pytest.param(FTYP + MOOV + b"videolib-bench-00000001", TRACKS, id="bytes after moov"),
        pytest.param(
            FTYP + box(b"moov", mvhd(version=1) + trak(1, CLOCKWISE_90, version=1) + trak(2)),
            TRACKS,
            id="version 1 mvhd and tkhd",
        ),
        pytest.param(FTYP + large_box(b"mdat", bytes(64)) + MOOV, TRACKS, id="64-bit mdat"),
        pytest.param(
            FTYP + large_box(b"moov", mvhd() + trak(1, CLOCKWISE_90) + trak(2)),
            TRACKS,
            id="64-bit moov",
        ),
        pytest.param(FTYP + struct.pack(">I4s", 0, b"moov") + MOOV[8:], TRACKS, id="size 0"),
        pytest.param(
            FTYP + box(b"moov", mvhd(CLOCKWISE_90) + trak(7, CLOCKWISE_90)),
            (Track(7, TURNED_180),),
            id="movie matrix applied after the track's",
        ),
        pytest.param(
            FTYP + box(b"moov", mvhd((2 << 16, *IDENTITY[1:])) + trak(1, (0x7FFFFFFF, 0, 0) * 3)),
            (Track(1, (-2, 0, 0, -2, 0, 0, -2, 0, 0)),),
            id="sums wrap to 32 bits as in C",
        ),
        pytest.param(
            FTYP + MOOV + box(b"moov", mvhd() + trak(9, TURNED_180)), TRACKS, id="first moov"
        ),
        pytest.param(FTYP + box(b"moov", mvhd()), (), id="no track"),
        pytest.param(FTYP + box(b"moov", mvhd() + trak(2)), (Track(2, IDENTITY),), id="no video"),
        pytest.param(b"", None, id="empty file"),
        pytest.param(FTYP + MDAT, None, id="no moov"),
        pytest.param((FTYP + MDAT + MOOV)[:-20], None, id="moov cut short"),
        pytest.param((FTYP + MDAT + MOOV)[: len(FTYP) + 30], None, id="mdat cut short"),
        pytest.param(FTYP + box(b"moov", trak(1) + mvhd()), None, id="trak before mvhd"),
        pytest.param(FTYP + box(b"moov", mvhd() + mvhd() + trak(1)), None, id="two mvhd"),
        pytest.param(FTYP + box(b"moov", mvhd() + box(b"trak")), None, id="trak without tkhd"),
        pytest.param(
            FTYP + box(b"moov", mvhd() + box(b"trak", tkhd(1) + tkhd(2))), None, id="two tkhd"
        ),
        pytest.param(FTYP + box(b"moov", mvhd() + trak(1, version=2)), None, id="tkhd version 2"),
        pytest.param(
            FTYP + box(b"moov", mvhd() + box(b"trak", box(b"tkhd", tkhd(1)[8:60]))),
            None,
            id="tkhd too short for its matrix",
        ),
        pytest.param(FTYP + struct.pack(">I4s", 4, b"free") + MOOV, None, id="size under 8"),
        pytest.param(
            FTYP + struct.pack(">I4sQ", 1, b"mdat", 8) + MOOV, None, id="64-bit size under 16"
        ),
        pytest.param(
            FTYP + box(b"moov", mvhd() + struct.pack(">I4s", 4000, b"trak") + tkhd(1)),
            None,
            id="child overruns moov",
        ),
        pytest.param(FTYP + box(b"free") * 1024 + MOOV, None, id="too many boxes"),
    ],
)
def test_read_tracks(data: bytes, expected: tuple[Track, ...] | None) -> None:
    assert read_tracks(io.BytesIO(data)) == expected


@pytest.mark.parametrize(
    ("matrix", "degrees"),
    [
        (IDENTITY, 0.0),
        (CLOCKWISE_90, -90.0),
        ((0, -(1 << 16), 0, 1 << 16, 0, 0, 0, 0, 1 << 30), 90.0),
        (TURNED_180, -180.0),
        ((-(1 << 16), 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30), -180.0),  # mirrored left-right
        ((0, 3 << 16, 0, -(3 << 16), 0, 0, 0, 0, 1 << 30), -90.0),  # scaled
        ((56756, -32768, 0, 32768, 56756, 0, 0, 0, 1 << 30), pytest.approx(30.0, abs=1e-3)),
    ],
)
def test_rotation_degrees(matrix: Matrix, degrees: float) -> None:
    assert rotation_degrees(matrix) == degrees


@pytest.mark.parametrize(
    "matrix",
    [(0,) * 9, (0, 1 << 16, 0, 0, 0, 0, 0, 0, 1 << 30), (1 << 16, 0, 0, 0, 0, 0, 0, 0, 1 << 30)],
)
def test_degenerate_matrix_has_no_angle(matrix: Matrix) -> None:
    assert math.isnan(rotation_degrees(matrix))
