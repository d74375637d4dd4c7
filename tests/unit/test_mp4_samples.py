"""mp4_samples.py: where the sample tables say the media ends, on hand-built boxes."""

from __future__ import annotations

import io
import struct
import tracemalloc

import pytest

from videolib.shared.media.mp4_samples import UniformSizes, chunk_ends, sample_data_end


def _box(kind: bytes, *children: bytes) -> bytes:
    payload = b"".join(children)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, fields: bytes) -> bytes:
    return _box(kind, b"\0\0\0\0" + fields)


def _stco(*offsets: int) -> bytes:
    return _full(b"stco", struct.pack(f">I{len(offsets)}I", len(offsets), *offsets))


def _co64(*offsets: int) -> bytes:
    return _full(b"co64", struct.pack(f">I{len(offsets)}Q", len(offsets), *offsets))


def _stsz(*sizes: int, constant: int = 0, count: int = 0) -> bytes:
    if constant:
        return _full(b"stsz", struct.pack(">II", constant, count))
    return _full(b"stsz", struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes))


def _stz2(field_bits: int, *sizes: int) -> bytes:
    code = {8: "B", 16: "H"}[field_bits]
    head = b"\0\0\0" + bytes([field_bits]) + struct.pack(">I", len(sizes))
    return _full(b"stz2", head + struct.pack(f">{len(sizes)}{code}", *sizes))


def _stsc(*runs: tuple[int, int]) -> bytes:
    entries = b"".join(struct.pack(">III", first, per, 1) for first, per in runs)
    return _full(b"stsc", struct.pack(">I", len(runs)) + entries)


def _trak(*tables: bytes) -> bytes:
    return _box(b"trak", _box(b"mdia", _box(b"minf", _box(b"stbl", *tables))))


def _file(*traks: bytes, media: int = 0) -> io.BytesIO:
    """ftyp, a moov of the traks, then an mdat of `media` bytes."""
    head = _box(b"ftyp", b"isom\0\0\0\0") + _box(b"moov", *traks)
    return io.BytesIO(head + _box(b"mdat", bytes(media)))


@pytest.mark.parametrize(
    ("offsets", "sizes", "runs", "expected"),
    [
        ([100], [10, 20], [(1, 2)], [130]),
        ([100, 200], [10, 20, 30, 40], [(1, 2)], [130, 270]),
        # Runs change the samples per chunk: 1 then 3.
        ([100, 200, 300], [5, 6, 7, 8, 9], [(1, 1), (2, 3), (3, 1)], [105, 221, 309]),
        # A table claiming more samples than it sizes stops at the last sized one.
        ([100, 200], [10], [(1, 1)], [110, 200]),
        ([], [], [(1, 1)], []),
    ],
)
def test_chunk_ends(
    offsets: list[int], sizes: list[int], runs: list[tuple[int, int]], expected: list[int]
) -> None:
    assert list(chunk_ends(offsets, sizes, runs)) == expected


def test_the_largest_chunk_end_of_all_tracks() -> None:
    video = _trak(_stco(1000, 5000), _stsz(100, 200, 300), _stsc((1, 2), (2, 1)))
    audio = _trak(_co64(3000), _stsz(constant=50, count=4), _stsc((1, 4)))
    # Video's chunk 2 ends at 5000 + 300; audio's at 3000 + 200.
    assert sample_data_end(_file(video, audio)) == 5300


def test_compact_sample_sizes() -> None:
    assert sample_data_end(_file(_trak(_stco(64), _stz2(8, 1, 2, 3), _stsc((1, 3))))) == 70
    assert sample_data_end(_file(_trak(_stco(64), _stz2(16, 1000, 2), _stsc((1, 2))))) == 1066


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an mp4 at all",
        _box(b"ftyp", b"isom") + _box(b"mdat", bytes(10)),  # no moov: FFmpeg's case
        # A fragmented mp4: empty tables in moov, samples in moof.
        _file(_trak(_stco(), _stsz(), _stsc())).getvalue(),
        # Chunk offsets without sample sizes: no verdict.
        _file(_trak(_stco(1, 2, 3))).getvalue(),
        # A table running past its box: not read here, no verdict.
        _file(_trak(_full(b"stco", struct.pack(">II", 1000, 64)))).getvalue(),
    ],
)
def test_nothing_to_say(data: bytes) -> None:
    assert sample_data_end(io.BytesIO(data)) is None


def test_a_faststart_file_cut_short_points_past_its_end() -> None:
    # moov first, then an mdat of 100 bytes whose last 40 are lost.
    head = _box(b"ftyp", b"isom\0\0\0\0")
    trak_size = len(_trak(_stco(0), _stsz(100), _stsc((1, 1))))
    media_at = len(head) + 8 + trak_size + 8  # past ftyp, moov and the mdat header
    moov = _box(b"moov", _trak(_stco(media_at), _stsz(100), _stsc((1, 1))))
    whole = head + moov + _box(b"mdat", bytes(100))
    assert sample_data_end(io.BytesIO(whole)) == len(whole)
    assert sample_data_end(io.BytesIO(whole[:-40])) == len(whole)


def test_an_index_written_last_is_not_read() -> None:
    # mdat then moov: a cut would have taken the moov, so whatever its tables say (here
    # past the end) the media lies before a whole index.
    tables = _trak(_stco(1 << 30), _stsz(100), _stsc((1, 1)))
    data = _box(b"ftyp", b"isom") + _box(b"mdat", bytes(16)) + _box(b"moov", tables)
    assert sample_data_end(io.BytesIO(data)) is None
    assert sample_data_end(io.BytesIO(data + b"trailer bytes")) is None


def test_one_size_for_millions_of_samples_is_not_a_list() -> None:
    # A PCM mov counts a sample per audio frame: an hour of 48 kHz is 172,800,000 of them.
    samples = 172_800_000
    audio = _trak(_stco(1000), _stsz(constant=4, count=samples), _stsc((1, samples)))
    tracemalloc.start()
    try:
        end = sample_data_end(_file(audio))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end == 1000 + 4 * samples
    assert peak < 1_000_000, peak


def test_uniform_sizes_are_a_sequence_of_one_size() -> None:
    sizes = UniformSizes(7, 5)
    assert list(sizes) == [7] * 5 and len(sizes[1:4]) == 3 and sizes[-1] == 7
    assert list(chunk_ends([100, 200], sizes, [(1, 2), (2, 3)])) == [114, 221]
    with pytest.raises(IndexError):
        sizes[5]
