"""`videolib doctor`: the pure checks case by case, and the command as a user runs it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL

from videolib.shared.commands import doctor
from videolib.shared.commands.doctor import (
    DatabaseFacts,
    DirectoryFacts,
    ProbeFacts,
    Status,
    check_database,
    check_free_disk,
    check_inbox,
    check_inotify,
    check_job_queue,
    check_jwt_secret,
    check_library_folders,
    check_probe,
    check_search,
    check_watcher,
)
from videolib.shared.db.engine import open_engine
from videolib.shared.db.repository import QueueState
from videolib.shared.db.repository.leader import LeaderLock, daemon_session_name
from videolib.shared.errors import ConfigError
from videolib.shared.media.names import DIRECTORY_TYPES

SECRET = "doctor-test-secret-" + "x" * 32
LINE = re.compile(r"^(?:OK  |WARN|FAIL)  (?P<check>[a-z][a-z ]*): \S")
CHECKS = [
    "config", "user", "database", "search", "jobs", "watcher", "library root", "library marker",
    "library folders", "inbox", "probe",
    "inotify", "jwt secret", "disk",
]  # fmt: skip
NOBODY = 65534


def directory(name: str, **changes: bool) -> DirectoryFacts:
    facts = {"exists": True, "is_dir": True, "readable": True, "writable": True, **changes}
    return DirectoryFacts(name=name, path=Path("/lib") / name, **facts)


# -- pure checks -----------------------------------------------------------------------------


def test_result_line_format() -> None:
    assert doctor.ok("disk", "5 GiB").line() == "OK    disk: 5 GiB"
    assert doctor.fail("inbox", "x", "mkdir").line() == "FAIL  inbox: x (fix: mkdir)"
    assert doctor.warn("user", "root", "sudo").line() == "WARN  user: root (fix: sudo)"


@pytest.mark.parametrize(
    ("facts", "status", "words"),
    [
        (
            DatabaseFacts(url="embedded", embedded=True, revision="2", head="2"),
            Status.OK,
            "embedded: reachable, schema at head (2)",
        ),
        (
            DatabaseFacts(url="embedded", embedded=True, revision=None, head="2"),
            Status.WARN,
            "migrates it",
        ),
        (
            DatabaseFacts(url="embedded", embedded=True, error="initdb: no space", head="2"),
            Status.FAIL,
            "embedded: could not start: initdb: no space",
        ),
        (DatabaseFacts(url="pg", error="refused", head="2"), Status.FAIL, "unreachable: refused"),
        (
            DatabaseFacts(url="pg", revision="2", head="2", known_revisions=frozenset({"1", "2"})),
            Status.OK,
            "schema at head (2)",
        ),
        (
            DatabaseFacts(url="pg", revision="1", head="2", known_revisions=frozenset({"1", "2"})),
            Status.FAIL,
            "videolib db upgrade",
        ),
        (
            DatabaseFacts(url="pg", revision=None, head="2", known_revisions=frozenset({"2"})),
            Status.FAIL,
            "schema at nothing",
        ),
        (
            DatabaseFacts(url="pg", revision="9", head="2", known_revisions=frozenset({"2"})),
            Status.FAIL,
            "a newer videolib",
        ),
    ],
)
def test_database(facts: DatabaseFacts, status: Status, words: str) -> None:
    result = check_database(facts)
    assert result.status is status
    assert words in result.line()


@pytest.mark.parametrize(
    ("facts", "status", "words"),
    [
        (DatabaseFacts(url="var/pgdata", embedded=True, revision="2", head="2",
                       substring_index=True), Status.OK, "pg_trgm index idx_videos_substring"),
        (DatabaseFacts(url="pg", error="refused", head="2"), Status.WARN, "not checked"),
        (DatabaseFacts(url="pg", revision="1", head="2", substring_index=False), Status.WARN,
         "not checked"),
        (DatabaseFacts(url="pg", revision="2", head="2", substring_index=True), Status.OK,
         "pg_trgm index idx_videos_substring"),
        (DatabaseFacts(url="pg", revision="2", head="2", substring_index=False), Status.WARN,
         "every search scans every video (fix: as the database owner or a superuser run"
         " `CREATE EXTENSION pg_trgm;`"),
    ],
)  # fmt: skip
def test_search(facts: DatabaseFacts, status: Status, words: str) -> None:
    result = check_search(facts)
    assert result.status is status
    assert words in result.line()


@pytest.mark.parametrize(
    ("queue", "status", "words"),
    [
        (None, Status.WARN, "not checked"),
        (QueueState(installed=False), Status.FAIL, "tables (pgqueuer) are missing"),
        (QueueState(installed=True), Status.OK, "job engine installed"),
        (QueueState(installed=True, oldest_due_seconds=30.0, picked=1), Status.OK, "1 running"),
        (QueueState(installed=True, oldest_due_seconds=900.0), Status.WARN, "no worker takes it"),
    ],
)
def test_job_queue(queue: QueueState | None, status: Status, words: str) -> None:
    result = check_job_queue(queue)
    assert (result.status, result.check) == (status, "jobs")
    assert words in result.detail


@pytest.mark.parametrize(
    ("facts", "status", "words"),
    [
        (DatabaseFacts(url="u", revision="h", head="h", leader="videolib daemon 7-ab@host"),
         Status.OK, "videolib daemon 7-ab@host leads"),
        (DatabaseFacts(url="u", revision="h", head="h"), Status.WARN, "no daemon leads"),
        (DatabaseFacts(url="u", error="refused", head="h"), Status.WARN, "not checked"),
        (DatabaseFacts(url="u", revision="g", head="h"), Status.WARN, "not checked"),
    ],
)  # fmt: skip
def test_watcher(facts: DatabaseFacts, status: Status, words: str) -> None:
    result = check_watcher(facts)
    assert result.status is status and words in result.detail, result.line()


def test_folders_need_write_only_where_inbox_files_move() -> None:
    folders = [directory("studios", writable=False), directory("videos")]
    assert check_library_folders(folders, {"videos"}).status is Status.OK
    failed = check_library_folders(folders, {"studios"})
    assert failed.status is Status.FAIL
    assert "not writable (inbox files move here): studios" in failed.detail


def test_missing_and_unreadable_folders_are_named() -> None:
    folders = [directory("gifs", exists=False, is_dir=False), directory("curated", readable=False)]
    result = check_library_folders(folders, set())
    assert result.status is Status.FAIL
    assert result.detail == "missing: gifs; not readable: curated"
    assert "install -d" in result.fix and "{gifs}" in result.fix


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        (directory("inbox"), Status.OK),
        # What root never sees: a 0o500 inbox, for the service user.
        (directory("inbox", writable=False), Status.FAIL),
        (directory("inbox", exists=False, is_dir=False), Status.FAIL),
        (directory("inbox", is_dir=False), Status.FAIL),
    ],
)
def test_inbox(facts: DirectoryFacts, status: Status) -> None:
    assert check_inbox(facts).status is status


@pytest.mark.parametrize(
    ("max_watches", "folders", "polling", "status"),
    [
        (8192, 100, False, Status.OK),
        (8192, 5000, False, Status.WARN),
        (8192, 9000, False, Status.FAIL),
        (8192, 9000, True, Status.OK),
        (None, 10, False, Status.WARN),
    ],
)
def test_inotify(max_watches: int | None, folders: int, polling: bool, status: Status) -> None:
    result = check_inotify(max_watches, folders, polling)
    assert result.status is status
    if status is Status.FAIL:
        assert "fs.inotify.max_user_watches=524288" in result.fix


@pytest.mark.parametrize(
    ("secret", "secret_file", "status"),
    [
        ("", None, Status.FAIL),
        ("x" * 31, None, Status.FAIL),
        ("x" * 32, None, Status.OK),
        ("", Path("var/jwt_secret"), Status.OK),  # a local run makes it at first start
    ],
)
def test_jwt_secret(secret: str, secret_file: Path | None, status: Status) -> None:
    result = check_jwt_secret(secret, secret_file)
    assert result.status is status
    assert secret not in result.line() or not secret  # the secret itself is never printed


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        (ProbeFacts("pyav", None, None, "12.0"), Status.OK),
        (ProbeFacts("ffprobe", "/usr/bin/ffprobe", "6.1", "12.0"), Status.OK),
        (ProbeFacts("ffprobe", None, None, "12.0"), Status.FAIL),
        (ProbeFacts("pyav", "/usr/bin/ffprobe", "6.1", None, "no module av"), Status.FAIL),
    ],
)
def test_probe(facts: ProbeFacts, status: Status) -> None:
    assert check_probe(facts).status is status


def test_free_disk() -> None:
    assert check_free_disk(Path("/i"), 2 * 1024**3).status is Status.OK
    assert check_free_disk(Path("/i"), 512 * 1024**2).status is Status.WARN


def test_ffprobe_version_line() -> None:
    line = "ffprobe version 5.1.6-0+deb12u1 Copyright (c) 2007-2024 the FFmpeg developers"
    assert doctor.ffprobe_version(line) == "5.1.6-0+deb12u1"
    assert doctor.ffprobe_version("something else") is None


def test_a_config_error_is_one_fail_line_and_no_other_checks() -> None:
    def load() -> doctor.Config:
        raise ConfigError("api.port", "x", "environment MEDIA_API_PORT", "expected a number")

    results = doctor.doctor(load)
    assert [r.line() for r in results] == [
        "FAIL  config: environment MEDIA_API_PORT: api.port = 'x': expected a number"
        " (fix: correct the setting named; every key is in config.toml)"
    ]


# -- the command -----------------------------------------------------------------------------


def dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def videolib_doctor(
    env: dict[str, str], *, user: int | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "doctor"]
    if user is not None:
        command = [
            "setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command,
        ]  # fmt: skip
    return subprocess.run(
        command,
        env={**os.environ, "VIDEOLIB_CONFIG": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def lines_by_check(output: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in output.splitlines():
        match = LINE.match(line)
        assert match, f"not a doctor line: {line!r}"
        found[match["check"]] = line
    return found


@pytest.fixture
def env(database_url: URL, library_root: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": dsn(database_url),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "JWT_SECRET": SECRET,
    }


def test_all_ok_on_a_good_setup(env: dict[str, str]) -> None:
    result = videolib_doctor(env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_by_check(result.stdout)
    assert list(lines) == CHECKS
    for check, line in lines.items():
        # Root passes permission checks whatever the modes, which doctor says as a WARN.
        expected = "WARN" if check == "user" and os.geteuid() == 0 else "OK"
        if check == "watcher":  # no daemon runs in this test
            expected = "WARN"
        assert line.startswith(expected), line
    assert "schema at head" in lines["database"]
    assert "job engine installed" in lines["jobs"]
    assert SECRET not in result.stdout


def test_missing_folder_fails(env: dict[str, str], library_root: Path) -> None:
    (library_root / "gifs").rmdir()
    result = videolib_doctor(env)
    assert result.returncode == 1
    line = lines_by_check(result.stdout)["library folders"]
    assert line.startswith("FAIL  library folders: missing: gifs"), line


def test_missing_marker_fails_and_names_init(env: dict[str, str], library_root: Path) -> None:
    (library_root / ".videolib-library").unlink()
    result = videolib_doctor(env)
    assert result.returncode == 1
    line = lines_by_check(result.stdout)["library marker"]
    assert line.startswith("FAIL  library marker: "), line
    assert "nothing is marked missing" in line and "`videolib init`" in line


def test_unreachable_database_fails(env: dict[str, str]) -> None:
    result = videolib_doctor({**env, "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/db"})
    assert result.returncode == 1
    line = lines_by_check(result.stdout)["database"]
    assert line.startswith("FAIL  database: postgresql://u:***@127.0.0.1:1/db: unreachable"), line
    assert ":p@" not in result.stdout


def test_bad_config_fails_with_one_line(env: dict[str, str]) -> None:
    result = videolib_doctor({**env, "MEDIA_API_PORT": "x"})
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL  config: environment MEDIA_API_PORT: api.port = 'x'")


@pytest.fixture
def shared_library() -> Iterator[Path]:
    """A library another user can reach: pytest's tmp_path is private to root."""
    base = Path(tempfile.mkdtemp(prefix="videolib-doctor-"))
    base.chmod(0o755)
    root = base / "library"
    for directory_type in DIRECTORY_TYPES:
        (root / directory_type).mkdir(parents=True)
    yield root
    shutil.rmtree(base, ignore_errors=True)


def test_unwritable_inbox_fails_for_the_service_user(shared_library: Path) -> None:
    """chmod 0o500 on the inbox: root would pass regardless, so as root the command runs
    as `nobody` (setpriv), the owner of the library, as a service user would."""
    user = None
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv: the pure check_inbox cases cover this")
        for path in [shared_library, *shared_library.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
        user = NOBODY
    (shared_library / "inbox").chmod(0o500)
    env = {
        "MEDIA_LIBRARY_PATH": str(shared_library),
        "JWT_SECRET": SECRET,
        "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/db",
    }
    result = videolib_doctor(env, user=user)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = lines_by_check(result.stdout)
    assert lines["inbox"].startswith("FAIL  inbox: "), lines["inbox"]
    assert "not writable" in lines["inbox"]
    assert lines["library folders"].startswith("OK"), lines["library folders"]
    assert lines["user"].startswith("OK"), lines["user"]


def test_a_marker_of_another_library_fails(env: dict[str, str]) -> None:
    # The database knows this library by another id: another share is mounted here.
    async def record_other_id() -> None:
        connection = await asyncpg.connect(env["DATABASE_URL"])
        try:
            await connection.execute(
                "INSERT INTO settings (key, value) VALUES ('library_id', $1)", str(uuid.uuid4())
            )
        finally:
            await connection.close()

    asyncio.run(record_other_id())
    result = videolib_doctor(env)
    assert result.returncode == 1
    line = lines_by_check(result.stdout)["library marker"]
    assert line.startswith("FAIL  library marker: "), line
    assert "another library's share is mounted here" in line


async def test_the_daemon_holding_the_leader_lock_is_named(
    env: dict[str, str], database_url: URL
) -> None:
    name = daemon_session_name()
    async with open_engine(database_url, pool_size=1, application_name=name) as engine:
        lock = LeaderLock(engine, name, lease_s=30.0)
        assert await lock.try_take() is not None
        try:
            result = await asyncio.to_thread(videolib_doctor, env)
        finally:
            await lock.release()
    line = lines_by_check(result.stdout)["watcher"]
    assert line == f"OK    watcher: {name} leads; any other daemon stands by", line
