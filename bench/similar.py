"""Similar-video benchmark: GET /videos/{id}/similar's work at 100,000 fingerprinted videos.

    python bench/similar.py                          # 100,000 videos (a few minutes)
    python bench/similar.py --videos 20000 --queries 100     # developing
    python bench/similar.py --probes                 # query_keys' one-bit probes too
    python bench/similar.py --keep /tmp/similar-100k # seeded once, measured again later

Uses DATABASE_URL when set (an empty database), else an embedded PostgreSQL in a temporary
folder, or in --keep's folder, kept: a later run with the same folder and --videos finds
the videos there (seeding 100,000 takes ~10 minutes) and measures only, after migrating.

The videos come from one INSERT ... SELECT over unnest; their hashes are drawn with
numpy in worker processes: 30-600 seconds each, in scenes of 1-8 seconds whose hashes
differ by a bit or two from second to second (as a real video's do), the mirror drawn the
same way. One video in ten is a copy of an earlier one: trimmed by 10 %, re-encoded
(3 bits of each hash flipped), mirrored, or with a 5 s intro. One in 25 opens with the
same 5 s test card, whose keys so many videos hold that the query leaves them out. The
index keys are `similarity.index_keys`, whatever its current body, so the figures follow
h12-match's. Fingerprints are COPYed with the keys' trigger disabled; the keys table is
then filled by one INSERT ... SELECT unnest and its indexes built after, as a backfill is,
and the keys' counts by one GROUP BY, as migration 0023's backfill.

Then, for a sample of videos (half of them copies), what the route does, timed in parts:
the fingerprint's read, the candidates' statement (the asked keys held by at most
MAX_KEY_VIDEOS videos by their counts, their videos by one scan of video_fingerprint_keys'
primary key, counted, the best COMPARE_LIMIT kept), `compare` over those,
and all together; p50 and p99 of each, the candidates per query, how often a cap cut, and
whether each copy's source was found. Before that, EXPLAIN ANALYZE of the statement.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import asyncpg
import numpy as np
from sqlalchemy.engine import URL

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videolib.shared.config import asyncpg_url  # noqa: E402
from videolib.shared.db import migrate  # noqa: E402
from videolib.shared.db.embedded import embedded_postgres  # noqa: E402
from videolib.shared.db.engine import open_engine  # noqa: E402
from videolib.shared.db.repository import NearDuplicateRepository  # noqa: E402
from videolib.shared.media.similarity import FrameHashes, index_keys, query_keys  # noqa: E402
from videolib.shared.near_duplicates import (  # noqa: E402
    CANDIDATE_SECONDS,
    COMPARE_LIMIT,
    MAX_KEY_VIDEOS,
    candidate_keys,
    min_shared_keys,
    verify,
)

TARGET_MS = 50.0
COPY_SHARE = 0.1
TEST_CARD_SHARE = 0.04
TRANSFORMS = ("trim", "reencode", "mirror", "intro")
BATCH = 2000

VIDEOS = """
INSERT INTO videos (id, path, filename, directory_type, duration_seconds, quality,
    orientation, width, height, file_size, file_hash)
SELECT ids.id, 'videos/v' || lpad(i::text, 7, '0') || '.mp4',
    'v' || lpad(i::text, 7, '0') || '.mp4', 'videos', 60, 'FHD', 'landscape', 1920, 1080,
    1000000, 'bench-' || i
FROM unnest($1::uuid[]) WITH ORDINALITY AS ids(id, i)
"""
# The keys of every fingerprint, as migration 0017's backfill makes them (index_keys holds
# each key once, so no DISTINCT: the primary key built after would refuse a duplicate).
KEYS = """
INSERT INTO video_fingerprint_keys (key, video_id)
SELECT key, f.video_id FROM video_fingerprints AS f, unnest(f.index_keys) AS key
"""
# How many videos hold each key, as migration 0023's backfill counts them.
KEY_COUNTS = """
INSERT INTO video_fingerprint_key_counts (key, videos)
SELECT key, count(*) FROM video_fingerprint_keys GROUP BY key
"""
KEY_COUNTS_TABLE = "video_fingerprint_key_counts"
Hashes = np.ndarray  # uint64, one per second


def _flips(rng: np.random.Generator, count: int, at_most: int) -> Hashes:
    """For each of `count` hashes, a mask of 0..at_most random bits (a bit may repeat)."""
    masks = np.zeros(count, dtype=np.uint64)
    wanted = rng.integers(0, at_most + 1, count)
    for k in range(at_most):
        bits = rng.integers(0, 64, count).astype(np.uint64)
        masks ^= np.where(wanted > k, np.left_shift(np.uint64(1), bits), np.uint64(0))
    return masks


def _scenes(rng: np.random.Generator, seconds: int) -> Hashes:
    """Per-second hashes in scenes: a base per scene, a bit or two off each second."""
    lengths = rng.integers(1, 9, seconds)  # enough scenes for any cut
    bases = rng.integers(0, 2**64, seconds, dtype=np.uint64, endpoint=False)
    out: Hashes = np.repeat(bases, lengths)[:seconds] ^ _flips(rng, seconds, 2)
    return out


def _derive(
    rng: np.random.Generator, source: tuple[Hashes, Hashes], how: str
) -> tuple[Hashes, Hashes]:
    shown, mirrored = source
    if how == "trim":
        cut = max(1, len(shown) // 10)
        return shown[cut:], mirrored[cut:]
    if how == "reencode":
        return shown ^ _flips(rng, len(shown), 3), mirrored ^ _flips(rng, len(shown), 3)
    if how == "mirror":
        return mirrored, shown
    return np.concatenate([_scenes(rng, 5), shown]), np.concatenate([_scenes(rng, 5), mirrored])


def _signed(values: Hashes) -> tuple[int, ...]:
    return tuple(values.view(np.int64).tolist())


def make_chunk(start: int, count: int, seed: int) -> tuple[list[FrameHashes], dict[int, int]]:
    """Videos start..start+count: their hashes, and copy index -> source index (copies
    come from the same chunk, so that chunks are made apart, in worker processes)."""
    rng = np.random.default_rng(seed * 1_000_003 + start)
    card = np.random.default_rng(seed)  # the same test card in every chunk
    test_card = (_scenes(card, 5), _scenes(card, 5))
    library: list[tuple[Hashes, Hashes]] = []
    sources: dict[int, int] = {}
    for i in range(count):
        if i > 10 and rng.random() < COPY_SHARE:
            source = int(rng.integers(i))
            sources[start + i] = start + source
            how = TRANSFORMS[int(rng.integers(len(TRANSFORMS)))]
            library.append(_derive(rng, library[source], how))
            continue
        seconds = int(rng.integers(30, 601))
        shown, mirrored = _scenes(rng, seconds), _scenes(rng, seconds)
        if rng.random() < TEST_CARD_SHARE:
            shown = np.concatenate([test_card[0], shown])
            mirrored = np.concatenate([test_card[1], mirrored])
        library.append((shown, mirrored))
    return [FrameHashes(_signed(s), _signed(m)) for s, m in library], sources


def _chunk_records(
    start: int, ids: list[uuid.UUID], seed: int
) -> tuple[dict[int, int], list[tuple[object, ...]]]:
    library, sources = make_chunk(start, len(ids), seed)
    records: list[tuple[object, ...]] = [
        (video_id, list(h.seconds), list(h.mirrored), index_keys(h), 1)
        for video_id, h in zip(ids, library, strict=True)
    ]
    return sources, records


async def seeded(db: asyncpg.Connection, videos: int) -> tuple[list[uuid.UUID], dict[int, int]]:
    """The videos of an earlier run kept (--keep), or new ones (`seed`)."""
    if not await db.fetchval("SELECT to_regclass('bench_similar_copies') IS NOT NULL"):
        return await seed(db, videos)
    ids = [row["id"] for row in await db.fetch("SELECT id FROM videos ORDER BY path")]
    if len(ids) != videos:
        raise SystemExit(f"bench/similar.py: the kept database has {len(ids)} videos, not {videos}")
    rows = await db.fetch("SELECT copy, source FROM bench_similar_copies")
    for table in ("videos", "video_fingerprints", "video_fingerprint_keys", KEY_COUNTS_TABLE):
        await db.execute(f"ANALYZE {table}")
    return ids, {row["copy"]: row["source"] for row in rows}


async def seed(db: asyncpg.Connection, videos: int) -> tuple[list[uuid.UUID], dict[int, int]]:
    """The videos' rows, then their fingerprints made in worker processes and COPYed in,
    then their keys; the ids, and copy index -> source index (kept in a table of its own,
    for --keep). The hashes are not kept: a query reads its video's from the table, as
    the route does."""
    if await db.fetchval("SELECT count(*) FROM videos"):
        raise SystemExit("bench/similar.py: the database has videos; use an empty one")
    ids = [uuid.uuid4() for _ in range(videos)]
    await db.execute(VIDEOS, ids)
    columns = ["video_id", "frame_hashes", "mirrored_hashes", "index_keys", "algorithm"]
    sources: dict[int, int] = {}
    started = time.monotonic()
    # The keys are filled in one statement below, far faster than a trigger row by row.
    await db.execute("ALTER TABLE video_fingerprints DISABLE TRIGGER USER")
    loop = asyncio.get_running_loop()
    workers = os.cpu_count() or 2
    starts = list(range(0, videos, BATCH))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # A few chunks in flight at once: made ones wait in memory for their COPY.
        for window in range(0, len(starts), workers):
            pending = [
                loop.run_in_executor(pool, _chunk_records, start, ids[start : start + BATCH], 12)
                for start in starts[window : window + workers]
            ]
            for done in pending:
                chunk_sources, records = await done
                sources.update(chunk_sources)
                await db.copy_records_to_table(
                    "video_fingerprints", records=records, columns=columns
                )
    await db.execute("ALTER TABLE video_fingerprints ENABLE TRIGGER USER")
    print(f"fingerprints made and copied in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    # Indexes built once at the end: far faster than entry by entry during the insert.
    await db.execute("ALTER TABLE video_fingerprint_keys DROP CONSTRAINT pk_video_fingerprint_keys")
    await db.execute("DROP INDEX ix_video_fingerprint_keys_video_id")
    # The counts' trigger too: one GROUP BY below instead of a 64M-row transition table.
    await db.execute("ALTER TABLE video_fingerprint_keys DISABLE TRIGGER USER")
    await db.execute(KEYS)
    await db.execute(KEY_COUNTS)
    await db.execute("ALTER TABLE video_fingerprint_keys ENABLE TRIGGER USER")
    await db.execute("SET maintenance_work_mem = '1GB'")
    await db.execute(
        "ALTER TABLE video_fingerprint_keys ADD CONSTRAINT pk_video_fingerprint_keys"
        " PRIMARY KEY (key, video_id)"
    )
    await db.execute(
        "CREATE INDEX ix_video_fingerprint_keys_video_id ON video_fingerprint_keys (video_id)"
    )
    print(f"keys inserted and indexed in {time.monotonic() - started:.0f} s")
    for table in ("videos", "video_fingerprints", "video_fingerprint_keys", KEY_COUNTS_TABLE):
        await db.execute(f"VACUUM ANALYZE {table}")
    await db.execute("CREATE TABLE bench_similar_copies (copy integer, source integer)")
    await db.copy_records_to_table("bench_similar_copies", records=list(sources.items()))
    return ids, sources


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _least(asked: int, args: argparse.Namespace) -> int:
    """The route's least keys shared, or the one given (--min-shared)."""
    return args.min_shared if args.min_shared is not None else min_shared_keys(asked)


def _keys_of(hashes: FrameHashes, probes: bool) -> list[int]:
    if probes:  # the shown picture's keys and their one-bit neighbours in two bands
        return query_keys(hashes)
    return candidate_keys(hashes)


async def measure(url: URL, sources: dict[int, int], ids: list[uuid.UUID],
                  args: argparse.Namespace) -> None:  # fmt: skip
    rng = random.Random(7)
    copies = rng.sample(sorted(sources), min(args.queries // 2, len(sources)))
    others = rng.sample([i for i in range(len(ids)) if i not in sources],
                        args.queries - len(copies))  # fmt: skip
    sample = copies + others
    bound = args.max_key_videos
    read_s: list[float] = []
    index_s: list[float] = []
    compare_s: list[float] = []
    total_s: list[float] = []
    counts: list[int] = []
    asked: list[int] = []
    capped = found = 0
    async with open_engine(url, pool_size=2) as engine:
        repository = NearDuplicateRepository(engine)
        first = sample[0]
        hashes = await repository.fingerprint(ids[first], valid_only=False)
        assert hashes is not None
        keys = _keys_of(hashes, args.probes)
        least = _least(len(keys), args)
        plan = await repository.explain_candidates(ids[first], keys, bound, COMPARE_LIMIT, least)
        print(f"-- EXPLAIN ANALYZE of the candidates (video {first}, {len(keys)} keys)\n{plan}\n")
        only_index = "Index Only Scan using pk_video_fingerprint_keys" in plan
        for i in sample:
            started = time.perf_counter()
            hashes = await repository.fingerprint(ids[i], valid_only=False)
            assert hashes is not None
            read = time.perf_counter()
            keys = _keys_of(hashes, args.probes)
            least = _least(len(keys), args)
            page = await repository.candidates(ids[i], keys, bound, COMPARE_LIMIT, least)
            looked_up = time.perf_counter()
            matches = verify(hashes, page.candidates)
            ended = time.perf_counter()
            read_s.append(read - started)
            index_s.append(looked_up - read)
            compare_s.append(ended - looked_up)
            total_s.append(ended - started)
            counts.append(page.proposed)
            asked.append(len(keys))
            capped += page.proposed > len(page.candidates)
            if i in sources and ids[sources[i]] in {m.video_id for m in matches}:
                found += 1
    full = CANDIDATE_SECONDS * 4  # a long video's keys
    print(f"{'part':<28}{'p50 ms':>10}{'p99 ms':>10}")
    for name, values in (("fingerprint read", read_s), ("candidates", index_s),
                         ("compare", compare_s), ("total", total_s)):  # fmt: skip
        print(f"{name:<28}{_ms(values, 0.5):>10.1f}{_ms(values, 0.99):>10.1f}")
    print(f"\nqueries {len(sample)}, keys asked: median {statistics.median(asked):.0f}, max "
          f"{max(asked)} ({'with' if args.probes else 'no'} one-bit probes); keys held by "
          f"more than {bound} videos left out; {_least(full, args)} shared of {full} asked, "
          "at least")  # fmt: skip
    print(
        f"candidates per query: median {statistics.median(counts):.0f}, max {max(counts)};"
        f" more than the {COMPARE_LIMIT} compared in {capped} of {len(sample)}"
    )
    print(f"copies whose source was found: {found} of {len(copies)}")
    print(f"plan reads only the keys' primary key: {'yes' if only_index else 'NO'}")
    verdict = "meets" if _ms(total_s, 0.5) <= TARGET_MS else "misses"
    print(f"p50 total {_ms(total_s, 0.5):.1f} ms {verdict} the {TARGET_MS:.0f} ms target")


async def run(url: URL, args: argparse.Namespace) -> None:
    started = time.monotonic()
    db = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    try:
        ids, sources = await seeded(db, args.videos)
        sizes = await db.fetchrow(
            "SELECT pg_size_pretty(pg_total_relation_size('video_fingerprints')) AS prints,"
            " pg_size_pretty(pg_relation_size('video_fingerprint_keys')) AS keys,"
            " pg_size_pretty(pg_total_relation_size('video_fingerprint_keys')) AS all_keys,"
            " pg_size_pretty(pg_relation_size('pk_video_fingerprint_keys')) AS pk,"
            " pg_size_pretty(pg_relation_size('ix_video_fingerprint_keys_video_id')) AS by_video,"
            " (SELECT sum(videos) FROM video_fingerprint_key_counts) AS rows"
        )
        seconds = await db.fetchval("SELECT sum(cardinality(frame_hashes)) FROM video_fingerprints")
        held = await db.fetchrow(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY videos) AS median,"
            " max(videos) AS most, avg(videos)::float AS mean"
            " FROM video_fingerprint_key_counts WHERE videos > 0"
        )
    finally:
        await db.close()
    assert sizes is not None and held is not None
    print(f"{args.videos} videos, {seconds} seconds of hashes, {len(sources)} copies: made "
          f"and stored in {time.monotonic() - started:.0f} s; fingerprints {sizes['prints']}, "
          f"{sizes['rows']} key rows: table {sizes['keys']}, primary key {sizes['pk']}, "
          f"video_id index {sizes['by_video']}, {sizes['all_keys']} in all")  # fmt: skip
    print(f"videos per key: mean {held['mean']:.0f}, median {held['median']:.0f}, "
          f"max {held['most']}\n")  # fmt: skip
    await measure(url, sources, ids, args)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--max-key-videos", type=int, default=MAX_KEY_VIDEOS)
    parser.add_argument("--min-shared", type=int, default=None, help="instead of the route's")
    parser.add_argument("--probes", action="store_true", help="ask query_keys' probes too")
    parser.add_argument("--keep", type=Path, help="the embedded server's folder, kept")
    args = parser.parse_args()
    if given := os.environ.get("DATABASE_URL"):
        await _migrated_run(asyncpg_url(given), args)
        return
    if args.keep is not None:
        with embedded_postgres(args.keep) as url:
            await _migrated_run(url, args)
        return
    state = Path(tempfile.mkdtemp(prefix="videolib-bench-similar-"))
    try:
        with embedded_postgres(state) as url:
            await _migrated_run(url, args)
    finally:
        shutil.rmtree(state, ignore_errors=True)


async def _migrated_run(url: URL, args: argparse.Namespace) -> None:
    async with open_engine(url, pool_size=1) as engine:
        await migrate.upgrade(engine)
    await run(url, args)


if __name__ == "__main__":
    asyncio.run(main())
