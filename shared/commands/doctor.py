"""`videolib doctor`: checks a deployment and prints one line per check, with the fix.

Each check is a pure function from facts to a frozen `CheckResult`; the facts are gathered
at the edge (`gather_*`), so the decisions are tested without files, a database or root.
Exit code 1 when any check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import getpass
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory

from videolib.shared.config import Config, load_config
from videolib.shared.db import migrate, trigram
from videolib.shared.db.engine import database_url, open_engine
from videolib.shared.db.repository import JobQueueRepository, QueueState, SettingsRepository
from videolib.shared.db.repository.leader import leader_session
from videolib.shared.errors import ConfigError
from videolib.shared.library import INBOX, Library
from videolib.shared.library_marker import (
    LIBRARY_ID_SETTING,
    Marker,
    MarkerFile,
    marker_status,
    read_marker,
)
from videolib.shared.media.names import DIRECTORY_TYPES
from videolib.shared.media.probe import find_ffprobe
from videolib.shared.tokens import signing_secret

#: RFC 7518 §3.2: an HS256 key must be at least 256 bits.
MIN_SECRET_LENGTH = 32
#: Below this much free space in the inbox an upload or a large drop may not fit.
MIN_FREE_BYTES = 1024**3
#: A doctor must answer quickly even when the database host drops packets.
DATABASE_TIMEOUT_S = 10.0
MAX_WATCHES_FILE = Path("/proc/sys/fs/inotify/max_user_watches")
#: What to suggest for max_user_watches (a common distribution default on newer kernels).
SUGGESTED_WATCHES = 524288


class Status(enum.Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class CheckResult:
    status: Status
    check: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """`OK    check: detail`, with `(fix: ...)` unless the check passed."""
        fix = f" (fix: {self.fix})" if self.fix and self.status is not Status.OK else ""
        return f"{self.status.value:<4}  {self.check}: {self.detail}{fix}"


def ok(check: str, detail: str) -> CheckResult:
    return CheckResult(Status.OK, check, detail)


def warn(check: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(Status.WARN, check, detail, fix)


def fail(check: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(Status.FAIL, check, detail, fix)


# -- facts: what the edge reads ------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryFacts:
    name: str
    path: Path
    exists: bool
    is_dir: bool
    readable: bool  # listable and enterable
    writable: bool  # files can be created and renamed in it


@dataclass(frozen=True)
class DatabaseFacts:
    url: str  # password hidden; for the embedded server, where its data directory is
    embedded: bool = False
    error: str | None = None
    revision: str | None = None
    head: str = ""
    known_revisions: frozenset[str] = frozenset()
    substring_index: bool | None = None  # None: not looked at (embedded, or unreachable)
    #: The library id the database records (settings `library_id`); None before `init`.
    library_id: str | None = None
    #: The job engine's queue (None: not looked at).
    queue: QueueState | None = None
    #: The session name of the daemon holding the leader lock; None: none leads.
    leader: str | None = None


@dataclass(frozen=True)
class ProbeFacts:
    backend: str
    ffprobe_path: str | None
    ffprobe_version: str | None  # None: not found or `-version` failed
    pyav_version: str | None  # None: PyAV not importable
    pyav_error: str | None = None


# -- checks: pure ----------------------------------------------------------------------------


def check_config(config: Config | None, error: ConfigError | None) -> CheckResult:
    if error is not None or config is None:
        reason = error.message if error else "not loaded"
        return fail("config", reason, "correct the setting named; every key is in config.toml")
    return ok("config", f"loaded from {config.source}")


def check_user(name: str, uid: int) -> CheckResult:
    # Root passes every permission check below whatever the modes, so they prove nothing.
    if uid == 0:
        return warn(
            "user",
            "running as root: the permission checks pass for root whatever the modes",
            "run as the service user: sudo -u videolib videolib doctor",
        )
    return ok("user", f"{name} (uid {uid})")


def check_database(facts: DatabaseFacts) -> CheckResult:
    if facts.embedded and facts.error is not None:
        return fail(
            "database",
            f"{facts.url}: could not start: {facts.error}",
            "read the server's log in that directory; or set DATABASE_URL",
        )
    if facts.embedded and facts.revision != facts.head:
        return warn(
            "database",
            f"{facts.url}: schema at {facts.revision or 'nothing'}, not head ({facts.head})",
            "`videolib run` (or any other command) migrates it",
        )
    if facts.error is not None:
        return fail(
            "database",
            f"{facts.url}: unreachable: {facts.error}",
            "check DATABASE_URL, that PostgreSQL runs and that pg_hba.conf admits this user",
        )
    if facts.revision == facts.head:
        return ok("database", f"{facts.url}: reachable, schema at head ({facts.head})")
    if facts.revision is not None and facts.revision not in facts.known_revisions:
        return fail(
            "database",
            f"{facts.url}: schema at {facts.revision}, unknown here (head {facts.head})",
            "a newer videolib migrated it: install that version again",
        )
    return fail(
        "database",
        f"{facts.url}: schema at {facts.revision or 'nothing'}, not head ({facts.head})",
        "run `videolib db upgrade`",
    )


def check_search(facts: DatabaseFacts) -> CheckResult:
    if facts.substring_index is None or facts.revision != facts.head:
        return warn("search", "not checked: the database is not ready", "see the database line")
    if not facts.substring_index:
        return warn(
            "search",
            f"no pg_trgm index ({trigram.INDEX_NAME}): every search scans every video",
            trigram.FIX,
        )
    return ok("search", f"substring search on the pg_trgm index {trigram.INDEX_NAME}")


#: A due job waiting longer than this means no worker takes its queue.
JOB_WAIT_WARN_S = 300.0


def check_job_queue(queue: QueueState | None) -> CheckResult:
    """The engine's schema is installed, and due jobs do not wait for a worker."""
    if queue is None:
        return warn("jobs", "not checked: the database is not ready", "see the database line")
    if not queue.installed:
        return fail(
            "jobs", "the job engine's tables (pgqueuer) are missing", "run `videolib db upgrade`"
        )
    waited = queue.oldest_due_seconds
    if waited is not None and waited > JOB_WAIT_WARN_S:
        return warn(
            "jobs",
            f"a due job has waited {waited:.0f} s ({queue.picked} running): no worker takes it",
            "start `videolib worker` (systemctl start videolib-worker) on a host with the library",
        )
    return ok("jobs", f"job engine installed; {queue.picked} running, none waiting long")


def check_watcher(facts: DatabaseFacts) -> CheckResult:
    """Which daemon leads (issue 13 §4); none leading means nothing is ingested."""
    if facts.error is not None or facts.revision != facts.head:
        return warn("watcher", "not checked: the database is not ready", "see the database line")
    if facts.leader is None:
        return warn(
            "watcher",
            "no daemon leads: new files are not ingested",
            "start the daemon (systemctl start videolib-daemon, or `videolib run`)",
        )
    return ok("watcher", f"{facts.leader} leads; any other daemon stands by")


def check_library_root(root: DirectoryFacts) -> CheckResult:
    if not root.exists or not root.is_dir:
        what = "no such directory" if not root.exists else "not a directory"
        return fail(
            "library root",
            f"{root.path}: {what}",
            "create it and its folders (deploy/INSTALL.md) or set MEDIA_LIBRARY_PATH",
        )
    if not root.readable:
        return fail("library root", f"{root.path}: not readable", _chown_fix(root.path))
    return ok("library root", f"{root.path}: readable")


def check_library_folders(
    folders: Sequence[DirectoryFacts], write_needed: Iterable[str]
) -> CheckResult:
    """The type folders (the inbox has its own check) exist and are readable; the daemon
    moves inbox files into the `write_needed` ones, so those must be writable too."""
    writes = set(write_needed)
    missing = [f.name for f in folders if not (f.exists and f.is_dir)]
    present = [f for f in folders if f.exists and f.is_dir]
    unreadable = [f.name for f in present if not f.readable]
    unwritable = [f.name for f in present if f.name in writes and not f.writable]
    problems = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("missing", missing),
            ("not readable", unreadable),
            ("not writable (inbox files move here)", unwritable),
        )
        if names
    ]
    if problems:
        root = folders[0].path.parent if folders else Path(".")
        return fail("library folders", "; ".join(problems), _folders_fix(root, missing))
    return ok("library folders", f"{len(folders)} type folders present and readable")


def check_inbox(inbox: DirectoryFacts) -> CheckResult:
    if not inbox.exists or not inbox.is_dir:
        what = "no such directory" if not inbox.exists else "not a directory"
        return fail("inbox", f"{inbox.path}: {what}", f"install -d -o videolib {inbox.path}")
    if not (inbox.readable and inbox.writable):
        return fail(
            "inbox",
            f"{inbox.path}: not writable (uploads and drops land here)",
            _chown_fix(inbox.path),
        )
    return ok("inbox", f"{inbox.path}: writable")


def check_library_marker(
    marker: MarkerFile, root_exists: bool, recorded_id: str | None = None
) -> CheckResult:
    """The marker says the library is mounted; without it nothing is marked missing.

    A marker naming another library than the database's is another share mounted here:
    the daemon counts it as not mounted (library_marker.marker_status), and so does this."""
    if not root_exists:
        return fail("library marker", f"{marker.path}: the root is not there", "mount the share")
    if marker.error is not None:
        return fail(
            "library marker",
            f"{marker.path}: cannot be read ({marker.error}): nothing is marked missing",
            "check the file's owner, or remove it and run `videolib init`",
        )
    if marker.library_id is None:
        return fail(
            "library marker",
            f"{marker.path}: absent: the library counts as not mounted, nothing is marked missing",
            "mount the share; for a new library run `videolib init` (it writes the marker)",
        )
    if marker_status(marker, recorded_id) is Marker.FOREIGN:
        return fail(
            "library marker",
            f"{marker.path}: names library {marker.library_id}, the database's is"
            f" {recorded_id}: another library's share is mounted here, nothing is marked missing",
            "mount this library's share at the root (or point library.root at it)",
        )
    return ok("library marker", f"{marker.path}: library {marker.library_id}")


def check_probe(facts: ProbeFacts) -> CheckResult:
    ffprobe = (
        f"ffprobe {facts.ffprobe_version} at {facts.ffprobe_path}"
        if facts.ffprobe_version
        else "no ffprobe"
    )
    pyav = f"PyAV {facts.pyav_version}" if facts.pyav_version else "no PyAV"
    detail = f"backend {facts.backend}; {pyav}; {ffprobe}"
    if facts.backend == "ffprobe" and not facts.ffprobe_version:
        return fail("probe", detail, "apt-get install ffmpeg, or set probe.backend = 'pyav'")
    if facts.backend == "pyav" and not facts.pyav_version:
        return fail(
            "probe",
            f"{detail} ({facts.pyav_error})",
            "reinstall videolib into its venv (PyAV is a dependency), or probe.backend = 'ffprobe'",
        )
    return ok("probe", detail)


def check_inotify(max_watches: int | None, folders: int, polling: bool) -> CheckResult:
    """One inotify watch per folder; the limit is per user, shared with its other processes."""
    if polling:
        return ok("inotify", "daemon.polling = true: the polling observer needs no watches")
    if max_watches is None:
        return warn(
            "inotify",
            f"cannot read {MAX_WATCHES_FILE}; {folders} folders to watch",
            "on a system without inotify set daemon.polling = true",
        )
    detail = f"{folders} folders to watch, max_user_watches {max_watches}"
    wanted = max(SUGGESTED_WATCHES, folders * 2)
    fix = (
        f"echo fs.inotify.max_user_watches={wanted} > /etc/sysctl.d/60-videolib.conf"
        " && sysctl --system"
    )
    if folders > max_watches:
        return fail("inotify", f"{detail}: too few, new folders go unseen", fix)
    if folders * 2 > max_watches:
        return warn("inotify", f"{detail}: over half used", fix)
    return ok("inotify", detail)


def check_jwt_secret(secret: str, secret_file: Path | None = None) -> CheckResult:
    fix = f"set JWT_SECRET (the main API's secret, at least {MIN_SECRET_LENGTH} characters)"
    if not secret and secret_file is not None:
        return ok("jwt secret", f"a local run makes one at first start: {secret_file}")
    if not secret:
        return fail("jwt secret", "not set: `videolib api` refuses to start", fix)
    if len(secret) < MIN_SECRET_LENGTH:
        return fail("jwt secret", f"{len(secret)} characters: too short for HS256", fix)
    return ok("jwt secret", f"set, {len(secret)} characters")


def check_free_disk(path: Path, free_bytes: int | None) -> CheckResult:
    if free_bytes is None:
        return warn("disk", f"{path}: cannot measure free space", "create the inbox")
    detail = f"{free_bytes / 1024**3:.1f} GiB free at {path}"
    if free_bytes < MIN_FREE_BYTES:
        return warn("disk", detail, "free space on that file system or move the inbox")
    return ok("disk", detail)


def ffprobe_version(first_line: str) -> str | None:
    """`ffprobe version 5.1.6-0+deb12u1 Copyright ...` -> `5.1.6-0+deb12u1`."""
    words = first_line.split()
    if len(words) >= 3 and words[:2] == ["ffprobe", "version"]:
        return words[2]
    return None


def has_failures(results: Iterable[CheckResult]) -> bool:
    return any(r.status is Status.FAIL for r in results)


def _chown_fix(path: Path) -> str:
    return f"chown -R videolib:videolib {path} (or run as the user that owns it)"


def _folders_fix(root: Path, missing: Sequence[str]) -> str:
    if missing:
        return f"install -d -o videolib -g videolib {root}/{{{','.join(missing)}}}"
    return _chown_fix(root)


# -- edge: gather facts ----------------------------------------------------------------------


def gather_directory(name: str, path: Path) -> DirectoryFacts:
    return DirectoryFacts(
        name=name,
        path=path,
        exists=path.exists(),
        is_dir=path.is_dir(),
        # os.access answers for the real user; run as the service user (check_user).
        readable=os.access(path, os.R_OK | os.X_OK),
        writable=os.access(path, os.W_OK | os.X_OK),
    )


async def gather_database(config: Config) -> DatabaseFacts:
    """The schema's revision, on the configured server or the embedded one (joined or started)."""
    embedded = config.embedded_database
    if embedded:
        shown = f"embedded PostgreSQL under {(config.state.dir / 'pgdata').absolute()}"
    else:
        shown = config.sqlalchemy_url().set(drivername="postgresql").render_as_string()
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    head = migrate.head_revision()
    known = frozenset(r.revision for r in scripts.walk_revisions())
    try:
        with database_url(config) as url:
            async with open_engine(url, pool_size=1) as engine:
                revision = await asyncio.wait_for(
                    migrate.current_revision(engine), DATABASE_TIMEOUT_S
                )
                indexed = await asyncio.wait_for(
                    trigram.substring_index_present(engine), DATABASE_TIMEOUT_S
                )
                library_id = await asyncio.wait_for(
                    SettingsRepository(engine).setting(LIBRARY_ID_SETTING), DATABASE_TIMEOUT_S
                )
                queue = await asyncio.wait_for(
                    JobQueueRepository(engine).state(), DATABASE_TIMEOUT_S
                )
                leader = (
                    await asyncio.wait_for(leader_session(engine), DATABASE_TIMEOUT_S)
                    if revision == head
                    else None
                )
    except Exception as error:  # every failure is a finding here, not a crash
        return DatabaseFacts(url=shown, embedded=embedded, error=_one_line(error), head=head)
    return DatabaseFacts(
        url=shown,
        embedded=embedded,
        revision=revision,
        head=head,
        known_revisions=known,
        substring_index=indexed,
        library_id=library_id,
        queue=queue,
        leader=leader,
    )


def gather_probe(config: Config) -> ProbeFacts:
    path = find_ffprobe(config.probe.ffprobe_path or None)
    version = None
    if path is not None:
        try:
            done = subprocess.run(
                [path, "-version"], capture_output=True, text=True, timeout=10, check=False
            )
            version = ffprobe_version(done.stdout.partition("\n")[0])
        except (OSError, subprocess.TimeoutExpired):
            version = None
    try:
        import av

        return ProbeFacts(config.probe.backend, path, version, str(av.__version__))
    except ImportError as error:
        return ProbeFacts(config.probe.backend, path, version, None, str(error))


def read_max_watches(path: Path = MAX_WATCHES_FILE) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def count_folders(roots: Iterable[Path]) -> int:
    """Directories under the roots, each counted once: what the inotify observer watches."""
    seen: set[Path] = set()
    for root in roots:
        seen.update(_walk_directories(root))
    return len(seen)


def _walk_directories(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for directory, _subdirs, _files in os.walk(root):  # does not follow symlinks
        yield Path(directory)


def free_bytes(path: Path) -> int | None:
    """Free space on the file system of `path`, or of its nearest existing parent."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return None


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def inbox_targets(config: Config) -> frozenset[str]:
    """The type folders the daemon moves inbox files into."""
    targets = {config.daemon.inbox_target}
    if config.daemon.inbox_gif_max_seconds > 0:
        targets.add("gifs")
    return frozenset(targets)


def _database_checks(facts: DatabaseFacts) -> list[CheckResult]:
    return [
        check_database(facts),
        check_search(facts),
        check_job_queue(facts.queue),
        check_watcher(facts),
    ]


def run_checks(config: Config) -> list[CheckResult]:
    """Every check after the config's own, on a loaded config."""
    library = Library.from_config(config)
    folders = [gather_directory(t, library.directory(t)) for t in DIRECTORY_TYPES if t != INBOX]
    inbox = gather_directory(INBOX, library.inbox)
    database = asyncio.run(gather_database(config))
    return [
        check_user(getpass.getuser(), os.geteuid()),
        *_database_checks(database),
        check_library_root(gather_directory("root", library.root)),
        check_library_marker(read_marker(library.root), library.root.is_dir(), database.library_id),
        check_library_folders(folders, inbox_targets(config)),
        check_inbox(inbox),
        check_probe(gather_probe(config)),
        check_inotify(
            read_max_watches(),
            count_folders([library.root, library.inbox]),
            config.daemon.polling,
        ),
        check_jwt_secret(signing_secret(config, create=False), config.secret_file),
        check_free_disk(library.inbox, free_bytes(library.inbox)),
    ]


# -- the command -------------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `videolib doctor` to the CLI."""
    parser = commands.add_parser(
        "doctor", help="check config, database, search index, folders, probe, inotify, secret, disk"
    )
    # The config is loaded by the first check, so that a bad one is reported as a FAIL
    # line rather than ending the command before any check ran.
    parser.set_defaults(handler=_doctor, load_config=_defaults)


def _defaults(_path: str | None) -> Config:
    return Config()


def _doctor(args: argparse.Namespace, _defaults_config: Config) -> int:
    results = doctor(lambda: load_config(args.config, require_library=False))
    for result in results:
        print(result.line())
    sys.stdout.flush()
    return 1 if has_failures(results) else 0


def doctor(load: Callable[[], Config]) -> list[CheckResult]:
    """Run every check; the others only once the config has loaded."""
    try:
        config = load()
    except ConfigError as error:
        return [check_config(None, error)]
    return [check_config(config, None), *run_checks(config)]
