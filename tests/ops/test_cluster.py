"""The whole of issue 13 at once (§6): two `videolib daemon`, two `videolib worker` and two
`videolib api` processes on one PostgreSQL and one library, with kill -9 in the middle.

What runs: a backlog the first reconciliation records and the engine backfills
(thumbnails and fingerprints), a burst of drops (some through the inbox) copied in at
once, an API scan started through one replica and followed through the other; the leader
daemon is killed -9 after the burst's first file is listed, then one worker while it holds
a job, and a second wave of drops comes after the takeover.

What it checks:
- the standby takes over (its /readyz role, a new epoch in daemon_leader), within 10 s;
- nothing lost: every dropped file is listed once (API and table), valid, with a thumbnail
  and a fingerprint, and the inbox is empty;
- no duplicate rows: videos by path and by dropped file, one `ingested` history event per
  video, one thumbnail and one fingerprint per video, near-duplicate pairs once each;
- every job done exactly once, counted from the engine's own log (pgqueuer_log) and the
  workers' logs: no job completes twice, every job queued completes, the killed worker's
  job is picked again and completes once, and each video's thumbnail and fingerprint are
  made once across both workers.

The job keys are not in the engine's log, and a finished job's row is deleted: a trigger
the test adds to its own database keeps (id, entrypoint, dedupe_key) of every job queued.

One gap it found is pinned by the last test (xfail, strict): an inbox move the killed
leader made but had not recorded loses its originalFilename on the new leader.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import processes
from tests.daemon.harness import eventually, fast, listed, running_service, sha256
from tests.daemon.test_failover import FAILOVER_S, Daemon, start_daemon
from tests.daemon.test_inbox import kill_after
from tests.media import make_scene_video
from videolib.shared.config import Config
from videolib.shared.tokens import issue_token

#: Six processes and their media workers on two cores: a minute and a half when others run
#: too, and the start alone can take a minute on a machine loaded 8 times over.
pytestmark = pytest.mark.timeout(300)

SECRET = "cluster-secret-" + "x" * 40
#: A bound on each wait: generous, it only costs time when something is wrong.
WAIT_S = 90.0
#: For six Python processes importing at once to be up; for all the media jobs, on the
#: one worker left, to be done.
STARTUP_S = WORK_S = 180.0
#: A job whose worker is silent this long is picked by the other (worker.stalled_seconds):
#: well above a busy machine's heartbeat delays, so a living worker never loses its job.
STALLED_S = 5.0
#: The media jobs and their backfills: each queued job of these must complete exactly once.
MEDIA_KINDS = ("make_thumbnail", "make_fingerprint", "backfill_thumbnails", "backfill_fingerprints")

JOURNAL_SQL = """
CREATE TABLE test_job_journal (job_id bigint PRIMARY KEY, entrypoint text, dedupe_key text);
CREATE FUNCTION test_journal_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_job_journal VALUES (NEW.id, NEW.entrypoint, NEW.dedupe_key);
    RETURN NEW;
END $$;
CREATE TRIGGER test_journal_job AFTER INSERT ON pgqueuer
    FOR EACH ROW EXECUTE FUNCTION test_journal_job();
"""


@dataclass
class Spawned:
    """A videolib subprocess whose output goes to a log file (JSON lines at info)."""

    process: subprocess.Popen[bytes]
    log: Path

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = self.log.read_text(errors="replace").splitlines()
        found = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in found if name is None or e.get("event") == name]

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Cluster:
    home: Path
    config: Config
    thumbnails: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def environment(self, name: str, settings: str, **extra: str) -> dict[str, str]:
        folder = self.home / name
        folder.mkdir(exist_ok=True)
        (folder / "config.toml").write_text(settings)
        return {
            **os.environ,
            "VIDEOLIB_CONFIG": str(folder / "config.toml"),
            "DATABASE_URL": self.config.database.url,
            "MEDIA_LIBRARY_PATH": str(self.config.library_root),
            "VIDEOLIB_STATE_DIR": str(folder / "state"),
            "VIDEOLIB_LOG_LEVEL": "info",
            **extra,
        }

    def spawn(self, name: str, command: str, env: dict[str, str]) -> Spawned:
        log = self.home / name / "output.log"
        argv = [sys.executable, "-m", "videolib.shared.commands.cli", command]
        with log.open("wb") as output:
            process = subprocess.Popen(argv, env=env, stdout=output, stderr=output)
        self.started.append(process)
        return Spawned(process, log)

    def worker(self, name: str) -> Spawned:
        settings = (
            f"[worker]\nmetrics_port = 0\nstalled_seconds = {STALLED_S}\n"
            f'[thumbnails]\ndir = "{self.thumbnails}"\n'
        )
        return self.spawn(name, "worker", self.environment(name, settings))

    def api(self, name: str) -> tuple[Spawned, str]:
        port = processes.free_port()
        settings = f'[thumbnails]\ndir = "{self.thumbnails}"\n'
        env = self.environment(
            name,
            settings,
            JWT_SECRET=SECRET,
            MEDIA_API_HOST="127.0.0.1",
            MEDIA_API_PORT=str(port),
            VIDEOLIB_LOG_LEVEL="warning",
        )
        return self.spawn(name, "api", env), f"http://127.0.0.1:{port}"

    def daemon(self, name: str) -> Daemon:
        started = start_daemon(self.config, self.home, name, self.config.database.url)
        self.started.append(started.process)
        return started


@pytest.fixture
def cluster(config: Config, tmp_path: Path) -> Iterator[Cluster]:
    thumbnails = tmp_path / "thumbnails"  # shared, as on a NAS: workers write, APIs serve
    thumbnails.mkdir()
    made = Cluster(tmp_path / "cluster", config, thumbnails)
    made.home.mkdir()
    yield made
    for process in made.started:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a frozen one must be able to stop
            process.terminate()
    for process in made.started:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as connection:
        return await connection.scalar(text(sql), params)


async def fetch(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(sql), params)).all())


def make_clips(folder: Path, names: list[str], first_seed: int, seconds: int = 4) -> list[Path]:
    """Distinct short scenes (one seed each): real pictures for thumbnails and hashes."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make_scene_video(folder / name, seed=first_seed + i, seconds=seconds, width=160, height=90)
        for i, name in enumerate(names)
    ]


def drop(clips: list[Path], library: Path, folder: str) -> dict[str, str]:
    """Rename into `folder` (one file system: each appears whole, all at once);
    {name: sha256} of what was dropped."""
    dropped = {}
    for clip in clips:
        dropped[clip.name] = sha256(clip)
        os.rename(clip, library / folder / clip.name)
    return dropped


async def daemon_ready(daemon: Daemon) -> None:
    """Daemon.ready with a bound for a loaded machine: `daemon_ready`, its metrics port."""

    async def came() -> int | None:
        assert daemon.process.poll() is None, daemon.log.read_text()
        found = [e for e in daemon.events() if e.get("event") == "daemon_ready"]
        return int(found[0]["metrics_port"]) if found else None

    daemon.port = await eventually(came, STARTUP_S, "daemon_ready")


def files_ingested(daemon: Daemon) -> int:
    """Files the daemon's watcher ingested (its reconciliations' scans not counted)."""
    return sum(1 for e in daemon.events() if e.get("event") == "file_ingested")


async def serving(http: aiohttp.ClientSession, base: str, replica: Spawned) -> None:
    async def healthy() -> bool:
        assert replica.alive(), replica.log.read_text()
        try:
            async with http.get(f"{base}/healthz") as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False

    await eventually(healthy, STARTUP_S, f"{base} to serve")


def worker_ready(worker: Spawned) -> Callable[[], Awaitable[bool]]:
    async def ready() -> bool:
        assert worker.alive(), worker.log.read_text()
        return bool(worker.events("worker_ready"))

    return ready


def start_scan(http: aiohttp.ClientSession, base: str) -> Callable[[], Awaitable[str | None]]:
    """POST an async scan of studios; its job's location, or None on a 409 (the daemon
    holds studios' lock while it ingests the burst: a client tries again)."""

    async def post() -> str | None:
        body = {"directoryType": "studios", "async": True}
        async with http.post(f"{base}/api/media/videos/scan", json=body) as response:
            if response.status == 409:
                assert (await response.json())["error"] == "conflict"
                return None
            assert response.status == 202, await response.text()
            return response.headers["Location"]

    return post


async def get_json(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def freeze_holding_a_job(engine: AsyncEngine, workers: list[Spawned]) -> Spawned:
    """SIGSTOP a worker that holds a picked job, and leave it frozen; returns it.

    Frozen, it can neither finish nor beat the job's heartbeat; the settle lets a statement
    it sent just before arrive, so a job still 'picked' then is really held by it (a job
    started by one worker is only picked by another STALLED_S after its last heartbeat).
    """

    async def one_frozen() -> Spawned | None:
        for worker in workers:
            os.kill(worker.process.pid, signal.SIGSTOP)
            await asyncio.sleep(0.5)
            started = [int(e["job_id"]) for e in worker.events("job_started") if e.get("job_id")]
            held = await scalar(
                engine,
                "SELECT count(*) FROM pgqueuer WHERE status = 'picked' AND id = ANY(:ids)",
                ids=started,
            )
            if held:
                return worker
            os.kill(worker.process.pid, signal.SIGCONT)
        return None

    return await eventually(one_frozen, WAIT_S, "a worker holding a job")


async def test_two_daemons_workers_and_apis_with_kill_9_lose_nothing_and_do_nothing_twice(
    cluster: Cluster, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    async with engine.connect() as connection:  # several statements: asyncpg's simple query
        raw = await connection.get_raw_connection()
        await raw.driver_connection.execute(JOURNAL_SQL)  # type: ignore[union-attr]
        await connection.commit()

    staging = tmp_path / "staging"
    # A backlog already in the library: the first reconciliation records it, and the
    # engine's backfill jobs (queued after that scan) defer its thumbnails and fingerprints.
    backlog = make_clips(staging / "backlog", [f"backlog-{i:02}.mp4" for i in range(1, 8)], 101)
    # A near-duplicate pair (long enough to match): a scene and a copy trimmed by a second.
    for name, skip in (("original", 0), ("trimmed", 1)):
        backlog.append(
            make_scene_video(
                staging / "backlog" / f"twin-{name}.mp4",
                seed=100,
                seconds=8,
                width=160,
                height=90,
                skip_seconds=skip,
            )
        )
    wave_videos = make_clips(staging / "v", [f"burst-{i:02}.mp4" for i in range(14)], 200)
    wave_inbox = make_clips(staging / "i", [f"inbox-{i:02}.mp4" for i in range(6)], 300)
    wave_studios = make_clips(staging / "s", [f"studio-{i:02}.mp4" for i in range(6)], 400)
    # Longer: their fingerprint jobs are still running when a worker is looked for to kill.
    late_videos = make_clips(staging / "lv", [f"late-{i:02}.mp4" for i in range(3)], 500, 12)
    late_inbox = make_clips(staging / "li", [f"late-inbox-{i:02}.mp4" for i in range(2)], 600)
    dropped = drop(backlog, library_root, "videos")

    # All six at once: the two daemons race for the lock, one leads.
    daemons = [cluster.daemon("daemon-one"), cluster.daemon("daemon-two")]
    workers = [cluster.worker("worker-one"), cluster.worker("worker-two")]
    (api_one, base_one), (api_two, base_two) = cluster.api("api-one"), cluster.api("api-two")
    auth = {"Authorization": f"Bearer {issue_token(SECRET)}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        for daemon in daemons:
            await daemon_ready(daemon)

        async def one_leads() -> tuple[Daemon, Daemon] | None:
            by_role = {await daemon.role(): daemon for daemon in daemons}
            if set(by_role) != {"leader", "standby"}:
                return None
            return by_role["leader"], by_role["standby"]

        leader, standby = await eventually(one_leads, WAIT_S, "one leader, one standby")
        await serving(http, base_one, api_one)
        await serving(http, base_two, api_two)
        for worker in workers:
            await eventually(worker_ready(worker), STARTUP_S, "a worker to be ready")
        before = (await fetch(engine, "SELECT epoch, holder FROM daemon_leader"))[0]

        async def recorded(count: int) -> int | None:
            found = int(await scalar(engine, "SELECT count(*) FROM videos"))
            return found if found >= count else None

        await eventually(lambda: recorded(len(backlog)), WAIT_S, "the backlog recorded")

        # The burst, all at once, and a scan of studios through replica one meanwhile.
        ingested_before = files_ingested(leader)
        dropped |= drop(wave_videos, library_root, "videos")
        dropped |= drop(wave_studios, library_root, "studios")
        inboxed = drop(wave_inbox, library_root, "inbox")
        location = await eventually(start_scan(http, base_one), WAIT_S, "the scan accepted")

        # kill -9 of the leader in the middle of the burst: once it has ingested a file of it.
        async def leader_ingested() -> bool:
            assert leader.process.poll() is None, leader.log.read_text()
            return files_ingested(leader) > ingested_before

        await eventually(leader_ingested, WAIT_S, "the leader to ingest the burst's first file")
        leader.process.kill()
        killed_at = time.monotonic()

        async def leads() -> bool:
            return await standby.role() == "leader"

        await eventually(leads, WAIT_S, "the standby to lead")
        took = time.monotonic() - killed_at
        print(f"\nfailover under the burst: {took:.2f} s")
        assert took < FAILOVER_S
        after = (await fetch(engine, "SELECT epoch, holder FROM daemon_leader"))[0]
        assert after.epoch > before.epoch and after.holder != before.holder
        assert (await standby.readyz())["leader"] == after.holder

        # The second wave, for the new leader alone; then kill -9 of a worker mid-job.
        dropped |= drop(late_videos, library_root, "videos")
        moved_by_new_leader = drop(late_inbox, library_root, "inbox")
        inboxed |= moved_by_new_leader
        victim = await freeze_holding_a_job(engine, workers)
        victim_jobs = {int(e["job_id"]) for e in victim.events("job_started") if e.get("job_id")}
        held = {
            row.id
            for row in await fetch(
                engine,
                "SELECT id FROM pgqueuer WHERE status = 'picked' AND id = ANY(:ids)",
                ids=sorted(victim_jobs),
            )
        }
        media_children = processes.descendants(victim.process.pid)
        victim.process.kill()
        victim.process.wait(10)
        survivor = next(w for w in workers if w is not victim)
        assert processes.wait_gone(media_children, 20) == set(), "the worker's media processes"

        # Everything done: every file recorded, valid, with a thumbnail and a fingerprint,
        # no media job left in the queue, the scan finished.
        expected = len(dropped) + len(inboxed)

        async def all_done() -> bool:
            assert survivor.alive(), survivor.log.read_text()
            done = await scalar(
                engine,
                "SELECT count(*) FROM videos v JOIN video_fingerprints f ON f.video_id = v.id"
                " WHERE v.is_valid AND v.thumbnail_path IS NOT NULL",
            )
            left = await scalar(
                engine,
                "SELECT count(*) FROM pgqueuer WHERE (entrypoint = ANY(:kinds) OR id = ANY(:held))"
                " AND status IN ('queued', 'picked')",
                kinds=list(MEDIA_KINDS),
                held=sorted(held),
            )
            return bool(done == expected and left == 0)

        await eventually(all_done, WORK_S, f"{expected} videos made and no job left")

        async def scan_ended() -> dict[str, Any] | None:
            job = await get_json(http, f"{base_two}{location}")
            return job if job["status"] != "running" else None

        scan_job = await eventually(scan_ended, WAIT_S, "the scan, followed through replica two")
        assert scan_job["status"] == "succeeded", scan_job
        assert scan_job == await get_json(http, f"{base_one}{location}")

        # Listed through both replicas: each file once, valid, with a thumbnail.
        for base in (base_one, base_two):
            page = await get_json(http, f"{base}/api/media/videos?limit=100")
            listed = page["data"]
            assert page["pagination"]["total"] == len(listed) == expected
            assert all(v["isValid"] and v["thumbnailPath"] for v in listed), listed
    assert standby.process.poll() is None and survivor.alive()

    # -- nothing lost, no duplicate rows --------------------------------------------------
    videos = await fetch(
        engine, "SELECT id, path, file_hash, original_filename, is_valid FROM videos"
    )
    assert len(videos) == len({v.path for v in videos}) == expected
    hashes = Counter(v.file_hash for v in videos)
    for name, digest in dropped.items():
        assert hashes[digest] == 1, f"{name}: recorded {hashes[digest]} times"
    for name, digest in inboxed.items():
        [moved] = [v for v in videos if v.file_hash == digest]  # once, not lost, not twice
        assert not moved.path.startswith("inbox/"), moved
        # Not asked of the first wave: a move the old leader made but had not recorded
        # when killed is journaled in its own state dir, which the new leader cannot read,
        # so that record lacks its originalFilename (the file itself is there, once; the
        # xfail test below).
        if name in moved_by_new_leader:
            assert moved.original_filename == name, moved
    assert sorted(p.name for p in (library_root / "inbox").iterdir()) == []
    ids = {v.id for v in videos}
    ingested = Counter(
        row.video_id
        for row in await fetch(engine, "SELECT video_id FROM video_events WHERE kind = 'ingested'")
    )
    assert set(ingested) == ids and set(ingested.values()) == {1}, "one ingested event each"
    for table in ("thumbnails", "video_fingerprints"):
        made = await fetch(engine, f"SELECT video_id FROM {table}")
        assert Counter(r.video_id for r in made) == Counter(ids), table
    pairs = await fetch(
        engine,
        "SELECT least(video_id, other_id) AS a, greatest(video_id, other_id) AS b"
        " FROM near_duplicate_pairs",
    )
    assert pairs, "the trimmed copy and its original are a near-duplicate pair"
    assert len(pairs) == len(set(pairs))
    assert len(list((cluster.thumbnails).rglob("*.jpg"))) == expected

    # -- every job done exactly once, counted ---------------------------------------------
    log = await fetch(
        engine,
        "SELECT job_id, entrypoint, status::text AS status, count(*) AS n FROM pgqueuer_log"
        " GROUP BY job_id, entrypoint, status",
    )
    by_job: dict[int, Counter[str]] = {}
    kind_of: dict[int, str] = {}
    for row in log:
        by_job.setdefault(row.job_id, Counter())[row.status] += row.n
        kind_of[row.job_id] = row.entrypoint
    twice = {job: c for job, c in by_job.items() if c["successful"] > 1}
    assert twice == {}, "jobs completed twice"
    media_jobs = {job: c for job, c in by_job.items() if kind_of[job] in MEDIA_KINDS}
    unfinished = {job: c for job, c in media_jobs.items() if c["successful"] != 1}
    assert unfinished == {}, "media jobs queued but not completed once"
    assert held, "the killed worker held a job"
    for job in held:  # picked by the victim, then by the survivor, completed once
        assert (by_job[job]["picked"], by_job[job]["successful"]) == (2, 1), by_job[job]
        assert job in {int(e["job_id"]) for e in survivor.events("job_started")}
    journal = {
        row.job_id: (row.entrypoint, row.dedupe_key)
        for row in await fetch(engine, "SELECT * FROM test_job_journal")
    }
    assert set(media_jobs) <= set(journal)
    for kind, prefix in (
        ("make_thumbnail", "make_thumbnail:"),
        ("make_fingerprint", "make_fingerprint:"),
    ):
        completed = [j for j in media_jobs if kind_of[j] == kind]
        keys = {journal[j][1] for j in completed}
        assert keys == {f"{prefix}{v}" for v in ids}, kind
        assert len(completed) == len(keys), f"{kind}: a key's job completed twice"
    for kind in ("backfill_thumbnails", "backfill_fingerprints"):
        assert any(kind_of[j] == kind for j in media_jobs), f"no {kind} ran"
    # The work itself, from both workers' logs (the victim's too): once per video.
    for event in ("thumbnail_made", "fingerprint_made"):
        works = Counter(e["video_id"] for w in workers for e in w.events(event))
        # A video whose job the victim held may have been made just before the kill, its
        # line not yet written: at most once, then.
        victim_videos = {
            journal[j][1].split(":", 1)[1] for j in held if kind_of[j].startswith("make_")
        }
        assert set(works.values()) <= {1}, f"{event} twice: {works}"
        assert {str(v) for v in ids} - set(works) <= victim_videos, event


async def test_a_move_the_killed_leader_left_unrecorded_keeps_its_original_filename(
    config: Config, database_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    """What the cluster test above saw now and then, made certain: the leader (host A) is
    killed after linking an inbox drop into videos/ and unlinking it from the inbox, before
    recording it. The new leader (host B, its own state dir) used to find a plain new file
    and record it without originalFilename or standardizedAt, A's journal entry waiting in
    A's state dir; the journal is in the database now, and B finishes A's move from it."""
    clip = make_scene_video(tmp_path / "drop.mp4", seed=7, seconds=2, width=160, height=90)
    shutil.copyfile(clip, config.inbox_path / "drop.mp4")
    host_a = config.replace("state", dir=tmp_path / "host-a")
    killed = kill_after("source_removed", host_a, "inbox/drop.mp4")
    assert killed.returncode == -9, killed.stderr
    host_b = fast(config.replace("state", dir=tmp_path / "host-b"))
    async with running_service(host_b, database_url):
        video = await listed(engine, "videos/drop.mp4", timeout=WAIT_S)
    assert video.file_hash == sha256(clip)  # the file itself is not lost
    assert (video.original_filename, video.standardized_at is not None) == ("drop.mp4", True)
    assert await scalar(engine, "SELECT count(*) FROM inbox_moves") == 0  # A's entry settled
    assert os.listdir(config.inbox_path) == []
    assert sorted(os.listdir(config.library_root / "videos")) == ["drop.mp4"]
