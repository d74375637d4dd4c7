"""API benchmark: 100,000 rows, a real `videolib api` process, 32 concurrent connections.

    python bench/api.py                      # 10 s per scenario
    python bench/api.py --seconds 5 --rows 100000 --connections 32 --client python

Uses DATABASE_URL when set, else an embedded PostgreSQL in a temporary folder. Prints, per
scenario, requests/s, client-side p50/p99, the server-side mean (from its own /metrics),
errors, the server's RSS and the CPU each party spent per request (API process,
PostgreSQL, load generator); before that, EXPLAIN ANALYZE of the list and search
statements. The "seed search" rows run the seed's own search statements (its count, then
its page: ILIKE '%term%' on each of the three columns, which no index of ours serves) on
asyncpg directly, in the same run, so the search row can be read beside them. The cursor
rows read the page after page 2,000 by its nextCursor (keyset: an index range, not 40,000
rows skipped), in the default order and by title. One-connection rows use the Python
client; the 32-connection rows use `wrk` when it is installed (`--client auto`), else the
Python client, which costs about a third of the server's CPU per request. All three share
the machine: on 2 cores they compete, so
the figures are a floor, not the server's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.http_load import (  # noqa: E402
    SECRET,
    ApiProcess,
    api_process,
    measure,
    percentile,
    wait_ready,
)
from videolib.api.cursors import CursorCodec  # noqa: E402
from videolib.shared.config import load_config  # noqa: E402
from videolib.shared.db import migrate  # noqa: E402
from videolib.shared.db.engine import database_url, open_engine  # noqa: E402
from videolib.shared.db.repository import AdminVideoRepository, Keyset, VideoQuery  # noqa: E402
from videolib.shared.media.names import DIRECTORY_TYPES  # noqa: E402

SCENARIOS = {
    "first page": "/api/media/videos",
    "filtered page": "/api/media/videos?directoryType=videos&quality=FHD&orientation=landscape",
    "search": "/api/media/videos?search=studio%207",
    "deep page (2000)": "/api/media/videos?page=2000",
}
EXPLAINED = {
    "first page": VideoQuery(),
    "filtered page": VideoQuery(
        directory_type="videos", qualities=("FHD",), orientation="landscape"
    ),
    "search": VideoQuery(search="studio 7"),
    "deep page (2000)": VideoQuery(page=2000),
}
# The page after page 2,000 by cursor, in these orders (scenario name -> sort).
CURSOR_PAGES = {"cursor page (2001)": "-createdAt", "cursor page by title (2001)": "title"}
_TYPES = ", ".join(f"'{t}'" for t in DIRECTORY_TYPES)
# One statement: rows generated server side, no round trip per row. Type, quality and
# orientation vary independently (a filter on all three matches 1 row in 108).
SEED = f"""
INSERT INTO videos (path, filename, directory_type, producer, creator, title, tags,
    duration_seconds, quality, orientation, has_audio, width, height, file_size, file_hash,
    is_valid, invalid_reason, created_at, updated_at)
SELECT t || '/bench-' || i || '.mp4', 'bench-' || i || '.mp4', t,
    'Studio ' || (i % 200), 'Creator ' || (i % 1000),
    (ARRAY['Mountain', 'Ocean', 'City', 'Forest', 'Desert'])[1 + i % 5] || ' '
        || (ARRAY['Biking', 'Sunset', 'Timelapse', 'Walk', 'Drive'])[1 + (i / 5) % 5]
        || ' ' || i,
    jsonb_build_array('tag' || (i % 50)), 10 + i % 3600,
    (ARRAY['SD', 'HD', 'FHD', 'UHD'])[1 + (i / 9) % 4],
    (ARRAY['landscape', 'portrait', 'square'])[1 + (i / 36) % 3], i % 2 = 0, 1920, 1080,
    1000000 + i, md5(i::text), i % 20 <> 0, CASE WHEN i % 20 = 0 THEN 'missing' END,
    now() - make_interval(mins => i), now()
FROM (SELECT i, (ARRAY[{_TYPES}])[1 + i % 9] AS t FROM generate_series(1, :rows) AS i) AS s
"""


SEED_TERM = "studio 7"
# The seed's GET /api/media/videos?search=... (video-library-management.txt): a count, then
# the page, both with the three ILIKEs; its default isValid=true.
SEED_SEARCH = (
    "FROM videos WHERE is_valid = true"
    " AND (title ILIKE $1 OR producer ILIKE $1 OR creator ILIKE $1)"
)
SEED_STATEMENTS = (
    f"SELECT count(*) {SEED_SEARCH}",
    f"SELECT * {SEED_SEARCH} ORDER BY created_at DESC LIMIT 20 OFFSET 0",
)


async def seed_search_load(dsn: str, connections: int, seconds: float) -> tuple[list[float], int]:
    """The seed's search statements in a loop on `connections` connections: latencies."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    try:

        async def worker() -> None:
            async with pool.acquire() as connection:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    for statement in SEED_STATEMENTS:
                        await connection.fetch(statement, f"%{SEED_TERM}%")
                    latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(connections)))
    finally:
        await pool.close()
    return latencies, 0


async def run_seed_search(dsn: str, args: argparse.Namespace) -> None:
    for connections in (1, args.connections):
        started = time.perf_counter()
        latencies, _ = await seed_search_load(dsn, connections, args.seconds)
        elapsed = time.perf_counter() - started
        name = f"seed search ({connections} conn)"
        print(
            f"{name:25} {len(latencies) / elapsed:7.1f} req/s  "
            f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms  "
            f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms  (its statements alone, no HTTP)"
        )


async def run_load(api: ApiProcess, args: argparse.Namespace, scenarios: dict[str, str]) -> None:
    await wait_ready(api.base)
    use_wrk = args.client == "wrk" or (args.client == "auto" and bool(shutil.which("wrk")))
    print(f"load generator for 32 connections: {'wrk' if use_wrk else 'python'}")
    # One connection first: the latency of a request that does not queue behind others.
    plan = [(f"{name} (1 conn)", path, 1) for name, path in scenarios.items()]
    plan += [(name, path, args.connections) for name, path in scenarios.items()]
    for name, path, connections in plan:
        result = await measure(api, path, connections, args.seconds, use_wrk=use_wrk)
        print(result.line(name))


async def seed_and_explain(url: object, rows: int) -> dict[str, str]:
    """Seed the rows and print the plans; the scenarios to load, cursor pages included."""
    async with open_engine(url, pool_size=2) as engine:  # type: ignore[arg-type]
        await migrate.upgrade(engine)
        started = time.perf_counter()
        async with engine.begin() as connection:
            # Never on someone's data: the benchmark wants an empty database.
            if await connection.scalar(text("SELECT count(*) FROM videos")):
                raise SystemExit("bench/api.py: the database has videos; use an empty one")
            await connection.execute(text(SEED), {"rows": rows})
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE videos"))
        print(f"seeded {rows:,} rows in {time.perf_counter() - started:.1f} s")
        repository = AdminVideoRepository(engine)
        explained = dict(EXPLAINED)
        scenarios = dict(SCENARIOS)
        for name, sort in CURSOR_PAGES.items():
            deep = await repository.list_page(VideoQuery(page=2000, sort=sort), with_total=False)
            if deep.last is None:
                continue  # fewer rows than 2,000 pages
            keyset = Keyset(sort, *deep.last)
            explained[name] = VideoQuery(sort=sort, keyset=keyset)
            cursor = CursorCodec(SECRET).encode(keyset)
            scenarios[name] = f"/api/media/videos?sort={sort}&cursor={cursor}"
        for name, query in explained.items():
            plan = await repository.explain_list(query)
            print(f"\n-- EXPLAIN ANALYZE {name}\n{plan}")
        async with engine.connect() as connection:
            seed_count = SEED_STATEMENTS[0].replace("$1", f"'%{SEED_TERM}%'")
            result = await connection.exec_driver_sql(f"EXPLAIN ANALYZE {seed_count}")
            print("\n-- EXPLAIN ANALYZE seed search count\n" + "\n".join(r[0] for r in result))
        print()
        return scenarios


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="videolib-bench-api-"))
    try:
        root = work / "library"
        for directory_type in DIRECTORY_TYPES:
            (root / directory_type).mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k == "DATABASE_URL"}
        env.update(MEDIA_LIBRARY_PATH=str(root), VIDEOLIB_STATE_DIR=str(work / "state"))
        config = load_config(None, env)
        with database_url(config) as url:
            scenarios = await seed_and_explain(url, args.rows)
            database = url.set(drivername="postgresql").render_as_string(hide_password=False)
            with api_process({**env, "DATABASE_URL": database}) as api:
                print(f"cores={os.cpu_count()} connections={args.connections} "
                      f"seconds={args.seconds:g} (load generator on the same machine)")  # fmt: skip
                await run_load(api, args, scenarios)
                await run_seed_search(database, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
