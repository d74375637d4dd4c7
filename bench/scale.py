"""Scale benchmark: the API over 1,000,000 rows, the daemon watching their files in 50,000 folders.

    python bench/scale.py                              # 1,000,000 rows and files (about 15 min)
    python bench/scale.py --rows 20000 --folders 1000 --seconds 2 --drops 20   # developing
    python bench/scale.py --work-dir /dev/shm          # the files on a tmpfs
    python bench/scale.py --explain                    # with the pages' query plans

Uses DATABASE_URL when set (an empty database), else an embedded PostgreSQL in the work
folder. The rows come from one INSERT ... SELECT over generate_series with skewed
distributions (types, studios, quality, orientation, log-normal durations, recent dates
more common, 3% missing or deleted). Then:

1. A real `videolib api`: first page, filtered page, search and a deep cursor page, p50
   with 1 connection and req/s with 32 (wrk when installed), as bench/api.py measures.
2. One sparse file per valid row, with the row's size and mtime, so the daemon's first
   reconciliation finds every file unchanged and skips it unread (shared/decisions.py);
   sparse files take an inode each and no data blocks.
3. A real `videolib daemon` watching them: its RSS and its workers', the first
   reconciliation, then drop-to-listed latency while idle (bench/daemon.py's drops).

fs.inotify.max_user_watches is raised for the run when it is below what the folders need
(root only), and put back at the end. Prints a summary table against the issue's targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import asyncpg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.daemon import Daemon, DropLatency, latency, seeds  # noqa: E402
from bench.http_load import ApiProcess, Measurement, api_process, measure, wait_ready  # noqa: E402
from videolib.shared.config import asyncpg_url  # noqa: E402
from videolib.shared.db import migrate  # noqa: E402
from videolib.shared.db.embedded import embedded_postgres  # noqa: E402
from videolib.shared.db.engine import open_engine  # noqa: E402
from videolib.shared.db.repository import AdminVideoRepository, VideoQuery  # noqa: E402
from videolib.shared.media.names import DIRECTORY_TYPES  # noqa: E402

# Share of the folders per type, in percent (the inbox stays empty: the daemon moves what
# lands there). Interleaved over the folder numbers so every prefix of them has the mix.
TYPE_SHARES = {
    "videos": 35,
    "studios": 20,
    "highlights": 12,
    "compilations": 8,
    "curated": 8,
    "playback": 7,
    "private": 6,
    "gifs": 4,
}
_TYPE_OF_FOLDER = [t for t, share in TYPE_SHARES.items() for _ in range(share)]
# Title words; "mountain", the search below, is one of them.
# fmt: off
_WORDS = (
    "Mountain", "Ocean", "City", "Forest", "Desert", "River", "Island", "Canyon", "Harbor",
    "Valley", "Glacier", "Meadow", "Biking", "Sunset", "Timelapse", "Walk", "Drive", "Flight",
    "Dive", "Climb", "Ride", "Storm", "Night", "Morning", "Festival", "Market", "Concert",
    "Wedding", "Interview", "Tutorial", "Review", "Trailer", "Highlights", "Live", "Winter",
    "Summer", "Autumn", "Spring", "Golden", "Blue",
)
# fmt: on


def _sql_array(values: list[str] | tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


# One statement, server side: $1 folders, $2 rows, $3 the newest mtime in ns. `drawn` fixes
# each row's random draws once (a MATERIALIZED CTE: volatile columns are evaluated once per
# row, not once per reference).
SEED = f"""
WITH drawn AS MATERIALIZED (
    SELECT i, (i - 1) % $1 AS folder,
        random() AS r_studio, random() AS r_creator, random() AS r_word1, random() AS r_word2,
        random() AS r_tags, random() AS r_tag1, random() AS r_tag2, random() AS r_quality,
        random() AS r_shape, random() AS r_audio, random() AS r_valid, random() AS r_age,
        1 - random() AS r_len1, random() AS r_len2
    FROM generate_series(1, $2) AS i
), shaped AS (
    SELECT *,
        ({_sql_array(_TYPE_OF_FOLDER)})[1 + (folder * 37) % {len(_TYPE_OF_FOLDER)}] AS t,
        CASE WHEN r_quality < 0.10 THEN 'SD' WHEN r_quality < 0.40 THEN 'HD'
             WHEN r_quality < 0.85 THEN 'FHD' ELSE 'UHD' END AS quality,
        CASE WHEN r_shape < 0.75 THEN 'landscape' WHEN r_shape < 0.95 THEN 'portrait'
             ELSE 'square' END AS orientation,
        -- log-normal, median 4 min (Box-Muller), 1 s to 4 h
        least(14400, greatest(1, round(240 * exp(sqrt(-2 * ln(r_len1))
            * cos(2 * pi() * r_len2)))))::int AS seconds,
        CASE WHEN r_valid < 0.02 THEN 'missing' WHEN r_valid < 0.03 THEN 'deleted' END AS gone
    FROM drawn
), sized AS (
    SELECT *,
        CASE quality WHEN 'SD' THEN 480 WHEN 'HD' THEN 720 WHEN 'FHD' THEN 1080
             ELSE 2160 END AS short_side,
        CASE quality WHEN 'SD' THEN 1500000 WHEN 'HD' THEN 4000000 WHEN 'FHD' THEN 8000000
             ELSE 25000000 END AS bits_per_second
    FROM shaped
)
INSERT INTO videos (path, filename, directory_type, producer, creator, title, tags,
    duration_seconds, quality, orientation, has_audio, width, height, file_size, file_hash,
    file_mtime_ns, is_valid, invalid_reason, last_validated, thumbnail_path, created_at,
    updated_at)
SELECT t || '/f' || lpad(folder::text, 5, '0') || '/v' || lpad(i::text, 7, '0') || '.mp4',
    'v' || lpad(i::text, 7, '0') || '.mp4', t,
    'Studio ' || floor(200 * r_studio ^ 3)::int, 'Creator ' || floor(2000 * r_creator ^ 2)::int,
    w[1 + floor(r_word1 * {len(_WORDS)})::int] || ' ' || w[1 + floor(r_word2 * {len(_WORDS)})::int]
        || ' ' || (i % 997),
    CASE WHEN r_tags < 0.3 THEN '[]'::jsonb
         WHEN r_tags < 0.7 THEN jsonb_build_array('tag' || floor(50 * r_tag1 ^ 2)::int)
         ELSE jsonb_build_array('tag' || floor(50 * r_tag1 ^ 2)::int,
                                'tag' || floor(50 * r_tag2)::int) END,
    seconds, quality, orientation, r_audio < 0.9,
    CASE orientation WHEN 'landscape' THEN short_side * 16 / 9 ELSE short_side END,
    CASE orientation WHEN 'portrait' THEN short_side * 16 / 9 ELSE short_side END,
    seconds::bigint * bits_per_second / 8,
    encode(sha256(convert_to('bench-' || i, 'UTF8')), 'hex'),
    $3 - i::bigint * 1000003, gone IS NULL, gone, now(),
    CASE WHEN gone IS NULL THEN 'bench/' || i || '.jpg' END,
    now() - make_interval(secs => 157680000 * r_age ^ 1.5), now()
FROM sized, (SELECT {_sql_array(_WORDS)} AS w) AS vocabulary
"""

SCENARIOS = {
    "first page": "/api/media/videos",
    "filtered page": "/api/media/videos?directoryType=videos&quality=FHD&orientation=landscape",
    "search": "/api/media/videos?search=mountain",
}
EXPLAINED = {
    "first page": VideoQuery(),
    "filtered page": VideoQuery(
        directory_type="videos", qualities=("FHD",), orientation="landscape"
    ),
    "search": VideoQuery(search="mountain"),
}
#: The page a cursor is taken from: page 10,000 must cost what page 1 costs (issue 14).
CURSOR_PAGE = 10_000
#: (figure, target, unit) of the issue; p50 is the 1-connection client-side median.
TARGETS_MS = {"first page": 5.0, "filtered page": 5.0, "search": 15.0, "cursor page": 5.0}
DAEMON_RSS_TARGET_MB = 300
RECONCILE_TARGET_S = 60
DROP_P99_TARGET_S = 1.0


@dataclass
class Figures:
    """Everything the summary table shows; None where a part was skipped."""

    rows: int = 0
    files: int = 0
    folders: int = 0
    pages: dict[str, tuple[Measurement, Measurement]] | None = None
    cursor_skipped: str = ""
    watch_setup_s: float | None = None
    reconcile_s: float | None = None
    daemon_rss_mb: float | None = None
    daemon_peak_mb: float | None = None
    workers_rss_mb: float | None = None
    drops: DropLatency | None = None


# -- the rows ------------------------------------------------------------------------------


async def seed_rows(db: asyncpg.Connection, rows: int, folders: int) -> float:
    """Insert the rows and analyze them; returns seconds. Refuses a database with videos."""
    if await db.fetchval("SELECT count(*) FROM videos"):
        raise SystemExit("bench/scale.py: the database has videos; use an empty one")
    started = time.monotonic()
    async with db.transaction():
        await db.execute("SELECT setseed(0.14)")  # the same library at every run
        await db.execute(SEED, folders, rows, time.time_ns() - 86400 * 10**9)
    await db.execute("VACUUM ANALYZE videos")
    return time.monotonic() - started


async def explain(url: str) -> None:
    """EXPLAIN ANALYZE of each scenario's page statement, as a request with a known total
    runs it (the API remembers a filter's total, so it counts once, not per page)."""
    async with open_engine(asyncpg_url(url), pool_size=1) as engine:
        repository = AdminVideoRepository(engine)
        for name, query in EXPLAINED.items():
            plan = await repository.explain_list(query, with_total=False)
            print(f"\n-- EXPLAIN ANALYZE {name}\n{plan}")
    print()


# -- the API -------------------------------------------------------------------------------


async def next_cursor(api: ApiProcess, page: int) -> str | None:
    """pagination.nextCursor of `page` of the default list, None when the API has none."""
    headers = {"Authorization": f"Bearer {api.token}"}
    url = f"{api.base}/api/media/videos?page={page}"
    async with aiohttp.ClientSession(headers=headers) as session, session.get(url) as response:
        body = json.loads(await response.text())
    cursor = body.get("pagination", {}).get("nextCursor")
    return cursor if isinstance(cursor, str) else None


async def measure_pages(api: ApiProcess, args: argparse.Namespace, figures: Figures) -> None:
    await wait_ready(api.base)
    use_wrk = args.client == "wrk" or (args.client == "auto" and bool(shutil.which("wrk")))
    print(f"load generator for {args.connections} connections: {'wrk' if use_wrk else 'python'}")
    paths = dict(SCENARIOS)
    # The deepest page the library has, up to CURSOR_PAGE (20 rows a page by default).
    cursor = await next_cursor(api, max(1, min(CURSOR_PAGE, args.rows // 40)))
    if cursor is None:
        figures.cursor_skipped = (
            "the API returned no pagination.nextCursor (keyset paging, issue 14 item 6, "
            "is not in this tree)"
        )
        print(f"cursor page: skipped, {figures.cursor_skipped}")
    else:
        paths["cursor page"] = f"/api/media/videos?cursor={quote(cursor, safe='')}"
    figures.pages = {}
    for name, path in paths.items():
        one = await measure(api, path, 1, args.seconds, use_wrk=use_wrk)
        print(one.line(f"{name} (1 conn)"))
        many = await measure(api, path, args.connections, args.seconds, use_wrk=use_wrk)
        print(many.line(name))
        figures.pages[name] = (one, many)


# -- the files -----------------------------------------------------------------------------


def check_inodes(folder: Path, needed: int) -> None:
    free = os.statvfs(folder).f_favail
    if free < needed:
        raise SystemExit(
            f"bench/scale.py: {folder} has {free:,} free inodes and the library needs "
            f"{needed:,}; pass --work-dir on another filesystem or fewer --files"
        )


async def make_files(db: asyncpg.Connection, root: Path, files: int) -> tuple[int, int, float]:
    """One sparse file per valid row (its size and mtime), in path order, up to `files`.

    Valid rows left without a file are deleted, so the library on disk is what is
    recorded. Returns (files, folders, seconds).
    """
    started = time.monotonic()
    made = folders = 0
    last = ""
    query = (
        "SELECT path, file_size, file_mtime_ns FROM videos WHERE is_valid "
        'ORDER BY path COLLATE "C" LIMIT $1'
    )
    async with db.transaction():
        cursor = await db.cursor(query, files)
        while rows := await cursor.fetch(10_000):
            folders += await asyncio.to_thread(_write_sparse, str(root), rows, last)
            made, last = made + len(rows), rows[-1]["path"]
    await db.execute('DELETE FROM videos WHERE is_valid AND path COLLATE "C" > $1', last)
    return made, folders, time.monotonic() - started


def _write_sparse(root: str, rows: list[asyncpg.Record], previous: str) -> int:
    """Create the rows' files (sparse: no data blocks); returns the folders made."""
    folders = 0
    current = previous.rsplit("/", 1)[0]
    for path, size, mtime_ns in rows:
        folder = path.rsplit("/", 1)[0]
        if folder != current:
            os.makedirs(f"{root}/{folder}", exist_ok=True)
            current, folders = folder, folders + 1
        fd = os.open(f"{root}/{path}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.ftruncate(fd, size)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
    return folders


# -- the daemon ----------------------------------------------------------------------------

WATCHES = Path("/proc/sys/fs/inotify/max_user_watches")


@contextmanager
def inotify_watches(needed: int, setting: Path = WATCHES) -> Iterator[None]:
    """max_user_watches at least `needed` for the block, then as it was (root only)."""
    before = int(setting.read_text())
    if before >= needed:
        yield
        return
    try:
        setting.write_text(str(needed))
    except OSError as error:
        print(f"fs.inotify.max_user_watches is {before:,}, below {needed:,}, and stays so "
              f"({error.strerror}): the daemon polls what it cannot watch")  # fmt: skip
        yield
        return
    print(f"fs.inotify.max_user_watches raised from {before:,} to {needed:,} for this run")
    try:
        yield
    finally:
        setting.write_text(str(before))
        print(f"fs.inotify.max_user_watches restored to {before:,}")


async def measure_daemon(
    env: dict[str, str], url: str, root: Path, work: Path, args: argparse.Namespace,
    figures: Figures,
) -> None:  # fmt: skip
    data = seeds(work)
    started = time.monotonic()
    daemon = Daemon(env)
    await asyncio.to_thread(daemon.wait_ready)
    figures.watch_setup_s = time.monotonic() - started
    print(f"daemon ready (watches in place) in {figures.watch_setup_s:.1f} s")
    name = "videolib_daemon_reconcile_last_success_timestamp_seconds"
    while daemon.metric(name) == 0:
        if daemon.process.poll() is not None:
            raise SystemExit(f"the daemon exited with {daemon.process.returncode}")
        await asyncio.sleep(0.5)
    figures.reconcile_s = daemon.metric("videolib_daemon_reconcile_seconds_sum")
    skipped = daemon.metric('videolib_daemon_files_total{outcome="skipped"}')
    if skipped != figures.files:  # else the pass read files: not the figure we want
        print(f"warning: the first pass skipped {skipped:,.0f} of {figures.files:,} files")
    await asyncio.sleep(2)  # settle: what the pass freed is given back
    own, workers = daemon.rss_mb()
    figures.daemon_rss_mb, figures.workers_rss_mb = own, workers
    figures.daemon_peak_mb = daemon.peak_rss_mb()
    print(
        f"first reconciliation {figures.reconcile_s:.1f} s; daemon RSS {own:.0f} MB "
        f"(peak {figures.daemon_peak_mb:.0f} MB), its workers {workers:.0f} MB"
    )
    db = await asyncpg.connect(url)
    try:
        figures.drops = await latency(db, root, data, args.drops)
    finally:
        await db.close()
    print(figures.drops.line())
    assert daemon.stop() == 0, "the daemon did not stop cleanly"


# -- the summary ---------------------------------------------------------------------------


def summary(figures: Figures) -> str:
    lines = [
        f"\nsummary: {figures.rows:,} rows; daemon on {figures.files:,} files in "
        f"{figures.folders:,} folders",
        f"{'figure':38} {'measured':>14}  {'target':>10}",
    ]

    def row(figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        lines.append(f"{figure:38} {value:>14}  {target:>10}  {verdict}")

    for name, (one, many) in (figures.pages or {}).items():
        limit = TARGETS_MS[name]
        row(f"{name} p50, 1 connection", f"{one.p50_s * 1000:.1f} ms", f"<= {limit:g} ms",
            one.p50_s * 1000 <= limit)  # fmt: skip
        row(f"{name}, 32 connections", f"{many.requests_per_s:,.0f} req/s")
    if figures.cursor_skipped:
        row("cursor page", "skipped", "<= 5 ms")
    if figures.reconcile_s is not None:
        assert figures.daemon_rss_mb is not None and figures.workers_rss_mb is not None
        rss = figures.daemon_rss_mb
        row("daemon RSS after the first pass", f"{rss:.0f} MB",
            f"<= {DAEMON_RSS_TARGET_MB} MB", rss <= DAEMON_RSS_TARGET_MB)  # fmt: skip
        row("daemon peak RSS (VmHWM)", f"{figures.daemon_peak_mb:.0f} MB")
        row("its worker processes, RSS together", f"{figures.workers_rss_mb:.0f} MB")
        row("daemon start to watches in place", f"{figures.watch_setup_s:.1f} s")
        row("first reconciliation", f"{figures.reconcile_s:.1f} s",
            f"<= {RECONCILE_TARGET_S} s", figures.reconcile_s <= RECONCILE_TARGET_S)  # fmt: skip
    if figures.drops is not None:
        drops = figures.drops
        row(f"drop-to-listed p50 ({len(drops.waits)}/{drops.dropped})", f"{drops.p50:.3f} s")
        row("drop-to-listed p99, idle", f"{drops.p99:.3f} s", f"<= {DROP_P99_TARGET_S} s",
            len(drops.waits) == drops.dropped and drops.p99 <= DROP_P99_TARGET_S)  # fmt: skip
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, help="files for the daemon (default: every valid row)")
    parser.add_argument("--folders", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per API scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--drops", type=int, default=200, help="videos dropped, 10 a second")
    parser.add_argument("--explain", action="store_true", help="print the pages' plans")
    parser.add_argument("--work-dir", type=Path, help="where the library goes (default: TMPDIR)")
    args = parser.parse_args()
    files = args.rows if args.files is None else min(args.files, args.rows)
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="videolib-bench-scale-", dir=args.work_dir))
    figures = Figures(rows=args.rows)
    given = os.environ.get("DATABASE_URL")
    server: AbstractContextManager[object] = (
        nullcontext(given) if given else embedded_postgres(work / "state")
    )
    try:
        check_inodes(work, files + args.folders + 10_000)
        with server as found:
            url = given or found.set(drivername="postgresql").render_as_string(  # type: ignore[attr-defined]
                hide_password=False
            )
            async with open_engine(asyncpg_url(url), pool_size=1) as engine:
                await migrate.upgrade(engine)
            root = work / "library"
            for directory_type in DIRECTORY_TYPES:
                (root / directory_type).mkdir(parents=True)
            settings = work / "daemon.toml"
            settings.write_text("[daemon]\nmetrics_port = 0\n")  # default settle settings
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "MEDIA_LIBRARY_PATH": str(root),
                "VIDEOLIB_STATE_DIR": str(work / "run"),
                "VIDEOLIB_CONFIG": str(settings),
            }
            print(f"cores={os.cpu_count()} (a shared machine: figures are indicative)")
            db = await asyncpg.connect(url)
            try:
                seconds = await seed_rows(db, args.rows, args.folders)
                print(f"seeded {args.rows:,} rows in {seconds:.0f} s")
                if args.explain:
                    await explain(url)
                with api_process(env) as api:
                    await measure_pages(api, args, figures)
                made, folders, seconds = await make_files(db, root, files)
                figures.files, figures.folders = made, folders
                print(f"made {made:,} sparse files in {folders:,} folders in {seconds:.0f} s")
            finally:
                await db.close()
            # A watch per folder, plus room for whatever else of root's uses inotify now.
            with inotify_watches(folders + len(DIRECTORY_TYPES) + 16_384):
                await measure_daemon(env, url, root, work, args, figures)
    finally:
        for process in Daemon.started:
            if process.poll() is None:
                process.kill()
                process.wait()
        print(summary(figures))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
