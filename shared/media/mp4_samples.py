"""Where an mp4/mov file's samples end, from the sample tables of its `moov` box.

Why: a faststart mp4 (index first) whose `mdat` was cut short, a copy interrupted and
renamed into place, opens fine in FFmpeg, which reads only the header; every version of
it would record the file valid. The sample tables say where each chunk of samples lies
(ISO/IEC 14496-12 8.7: `stco`/`co64` chunk offsets, `stsc` samples per chunk, `stsz`/`stz2`
sample sizes), so the end of the last chunk against the file size tells a cut file
without reading its media. Both probe backends run this same check.
"""

from __future__ import annotations

import itertools
import os
import struct
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, overload

from videolib.shared.media.mp4_boxes import (
    Box,
    Unreadable,
    boxes,
    child,
    read_exact,
    read_moov,
    top_level,
)

_FULL_BOX_AND_COUNT = struct.Struct(">4xI")  # version and flags, then an entry count
_STSZ_HEAD = struct.Struct(">4xII")  # version and flags, sample_size, sample_count
_STZ2_HEAD = struct.Struct(">4x3xBI")  # version and flags, reserved, field_size, count
_STSC_ENTRY = struct.Struct(">III")  # first_chunk (1-based), samples_per_chunk, description
_TRACK_PATH = (b"mdia", b"minf", b"stbl")


def sample_data_end(file: BinaryIO) -> int | None:
    """The byte just past the last chunk any track's sample table points to.

    None when the file has no `moov` to read here, no `mdat` after it (media written
    before the index ends before it, and the index is whole), or tables without samples
    (a fragmented mp4 keeps them in `moof` boxes, not checked). `file` must be seekable.
    """
    try:
        top = top_level(file)
        if not _media_after_moov(top):
            return None  # the samples lie before a header that is whole: nothing is cut
        in_memory = read_moov(file, top)
        if in_memory is None:
            return None
        file = in_memory
        moov = next(boxes(file, 0, file.seek(0, os.SEEK_END)))
        ends = [
            _track_data_end(file, trak)
            for trak in boxes(file, moov.start, moov.end)
            if trak.type == b"trak"
        ]
    except Unreadable:
        return None
    known = [value for value in ends if value is not None]
    return max(known) if known else None


def _media_after_moov(top: Sequence[Box]) -> bool:
    """True when an `mdat` follows the first `moov` (faststart): a cut can lose media only."""
    moov = next((box.begin for box in top if box.type == b"moov"), None)
    return moov is not None and any(box.type == b"mdat" and box.begin > moov for box in top)


class UniformSizes(Sequence[int]):
    """stsz's one size for every sample, as a sequence without a list behind it.

    A mov of PCM audio counts one sample per audio frame, the same size each: millions in an
    hour, which as a list would cost a probe worker gigabytes.
    """

    def __init__(self, size: int, count: int) -> None:
        self.size, self.samples = size, count

    def __len__(self) -> int:
        return self.samples

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> UniformSizes: ...
    def __getitem__(self, index: int | slice) -> int | UniformSizes:
        if isinstance(index, slice):
            return UniformSizes(self.size, len(range(*index.indices(self.samples))))
        if not -self.samples <= index < self.samples:
            raise IndexError(index)
        return self.size


def chunk_ends(
    offsets: Sequence[int], sizes: Sequence[int], runs: Sequence[tuple[int, int]]
) -> Iterator[int]:
    """The end of each chunk: its offset plus the sizes of its samples (pure).

    `runs` are stsc's (first_chunk, samples_per_chunk), first_chunk counted from 1; each
    run lasts until the next one's first chunk.
    """
    if isinstance(sizes, UniformSizes):  # no list of millions of equal sizes
        uniform = sizes.size
        total: Callable[[int], int] = lambda count: count * uniform  # noqa: E731
    else:
        total = [0, *itertools.accumulate(sizes)].__getitem__
    sample = 0
    bounds = [first for first, _ in runs[1:]] + [len(offsets) + 1]
    for (first, per_chunk), next_first in zip(runs, bounds, strict=True):
        for chunk in range(first, min(next_first, len(offsets) + 1)):
            last = min(sample + per_chunk, len(sizes))
            yield offsets[chunk - 1] + total(last) - total(sample)
            sample = last


def last_chunk_end(
    offsets: Sequence[int], sizes: Sequence[int], runs: Sequence[tuple[int, int]]
) -> int | None:
    """The largest chunk end, as `max(chunk_ends(...))` but without a loop over the
    chunks in the usual case (pure): chunks in file order and a table that sizes every
    sample, where the last chunk ends last."""
    if not offsets or not sizes or not runs:
        return None
    chunks_per_run = [b - a for (a, _), (b, _) in itertools.pairwise(runs)]
    chunks_per_run.append(len(offsets) + 1 - runs[-1][0])
    claimed = sum(n * per_chunk for n, (_, per_chunk) in zip(chunks_per_run, runs, strict=True))
    in_order = list(offsets) == sorted(offsets)  # in C, a pass over a sorted table
    last_samples = runs[-1][1]
    if claimed == len(sizes) and in_order and chunks_per_run[-1] > 0 and last_samples > 0:
        if isinstance(sizes, UniformSizes):
            return offsets[-1] + last_samples * sizes.size
        return offsets[-1] + sum(sizes[len(sizes) - last_samples :])
    return max(chunk_ends(offsets, sizes, runs), default=None)


def _track_data_end(file: BinaryIO, trak: Box) -> int | None:
    """The end of a track's last chunk, None when the track has no samples."""
    table: Box | None = trak
    for kind in _TRACK_PATH:
        table = child(file, table, kind) if table is not None else None
    if table is None:
        return None
    tables: dict[bytes, Box] = {}
    for box in boxes(file, table.start, table.end):
        tables.setdefault(box.type, box)
    return last_chunk_end(
        _chunk_offsets(file, tables), _sample_sizes(file, tables), _chunk_runs(file, tables)
    )


def _chunk_offsets(file: BinaryIO, tables: dict[bytes, Box]) -> Sequence[int]:
    """stco's 32-bit or co64's 64-bit chunk offsets."""
    for kind, code in ((b"stco", "I"), (b"co64", "Q")):
        box = tables.get(kind)
        if box is not None:
            (count,) = _FULL_BOX_AND_COUNT.unpack(read_exact(file, box.start, 8, box.end))
            return _big_endian(code, read_exact(file, box.start + 8, count * _width(code), box.end))
    return ()


def _sample_sizes(file: BinaryIO, tables: dict[bytes, Box]) -> Sequence[int]:
    """Every sample's size, from stsz (one size for all, or a table) or the compact stz2."""
    box = tables.get(b"stsz")
    if box is not None:
        size, count = _STSZ_HEAD.unpack(read_exact(file, box.start, _STSZ_HEAD.size, box.end))
        if size:
            return UniformSizes(size, count)
        return _big_endian("I", read_exact(file, box.start + 12, count * 4, box.end))
    box = tables.get(b"stz2")
    if box is None:
        return ()
    field_size, count = _STZ2_HEAD.unpack(read_exact(file, box.start, _STZ2_HEAD.size, box.end))
    codes = {8: "B", 16: "H"}  # 4-bit fields are too rare to read here
    if field_size not in codes:
        raise Unreadable(f"stz2 field size {field_size}")
    data = read_exact(file, box.start + 12, count * field_size // 8, box.end)
    return _big_endian(codes[field_size], data)


def _chunk_runs(file: BinaryIO, tables: dict[bytes, Box]) -> list[tuple[int, int]]:
    """stsc's (first_chunk, samples_per_chunk) entries, in order."""
    box = tables.get(b"stsc")
    if box is None:
        return []
    (count,) = _FULL_BOX_AND_COUNT.unpack(read_exact(file, box.start, 8, box.end))
    data = read_exact(file, box.start + 8, count * _STSC_ENTRY.size, box.end)
    runs = [(first, per_chunk) for first, per_chunk, _ in _STSC_ENTRY.iter_unpack(data)]
    if any(first < 1 for first, _ in runs) or runs != sorted(runs):
        raise Unreadable("stsc not in chunk order")
    return runs


def _width(code: str) -> int:
    return array(code).itemsize


def _big_endian(code: str, data: bytes) -> array[int]:
    """Unsigned big-endian integers of one width, as an array (fast for long tables)."""
    values = array(code, data)
    if sys.byteorder == "little" and values.itemsize > 1:
        values.byteswap()
    return values
