"""One typed Config, loaded once from config.toml and the environment.

Order of precedence: built-in defaults (the same as the repository's commented config.toml),
then the file named by ``--config`` or ``VIDEOLIB_CONFIG``, then the environment variables of
SPEC. Every error names the key, the value and where it came from. Nothing else in videolib
reads ``os.environ``: the config is passed down.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from videolib.shared.errors import ConfigError
from videolib.shared.integrity.budget import Window
from videolib.shared.jobs.path_map import parse_path_map
from videolib.shared.media.names import DIRECTORY_TYPES

DEFAULTS_SOURCE = "defaults"


#: The library root of a server install (the seed's); a local run uses <state.dir>/library.
SERVER_LIBRARY_ROOT = Path("/media/local/library")
#: Where the API listens on a server install (the seed's, behind nginx); a local run: loopback.
SERVER_API_HOST = "0.0.0.0"
LOCAL_API_HOST = "127.0.0.1"
#: The name of the secret a local run keeps under the state directory.
LOCAL_SECRET_FILE = "jwt_secret"


@dataclass(frozen=True)
class LibraryConfig:
    root: Path = SERVER_LIBRARY_ROOT
    inbox: Path | None = None


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""
    pool_size: int = 10
    #: Opening a connection gives up after this long (a server that does not answer).
    connect_timeout_seconds: float = 5.0
    #: One statement gives up after this long (daemon, CLI; the API bounds its own calls).
    command_timeout_seconds: float = 60.0
    #: Waiting for a free pooled connection gives up after this long (back-pressure).
    pool_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class StateConfig:
    dir: Path = Path("./var")


@dataclass(frozen=True)
class ApiConfig:
    host: str = SERVER_API_HOST
    port: int = 4100
    jwt_secret: str = field(default="", repr=False)
    media_features: bool = True
    max_json_bytes: int = 1024 * 1024
    max_upload_bytes: int = 20 * 1024**3
    #: Each database call of a request gives up after this long: 503 with Retry-After.
    database_timeout_seconds: float = 5.0
    #: Run the scans queue's jobs (`async: true` scans) in this process, beside requests.
    run_scans: bool = True


@dataclass(frozen=True)
class ProbeConfig:
    backend: str = "pyav"
    ffprobe_path: str = ""
    timeout_ms: int = 30000
    workers: int = 0


@dataclass(frozen=True)
class DaemonConfig:
    settle_seconds: float = 2.0
    quiet_seconds: float = 0.3
    #: Seconds between the periodic passes, a job of the engine's maintenance queue (one
    #: per library, on any worker: shared/jobs/maintenance_jobs.py); not the daemon's.
    reconcile_interval: float = 600
    polling: bool = False
    #: Seconds between stat-walks of polled folders (daemon.polling, or inotify's limit hit).
    poll_interval_seconds: float = 10.0
    metrics_port: int = 9464
    inbox_target: str = "videos"
    inbox_gif_max_seconds: float = 0
    #: A pass that would mark more than this share of a type's records missing is held
    #: until an admin applies it (a share that half unmounted is not a mass deletion).
    max_missing_fraction: float = 0.10
    #: ... and only when it would mark at least this many: deleting 3 of 5 files is normal.
    min_missing_files: int = 50


@dataclass(frozen=True)
class ThumbnailsConfig:
    #: Empty: <state.dir>/thumbnails. Never inside the library: the daemon would see them.
    dir: str = ""
    width: int = 320
    workers: int = 1
    #: Wait after a failed try before the next (doubling, at most a day); the engine's retry.
    retry_seconds: float = 600.0
    #: Tries of one video's thumbnail before it is given up, with its reason kept.
    max_tries: int = 5


@dataclass(frozen=True)
class WorkerConfig:
    """`videolib worker`: runs the job engine's jobs, on any host that mounts the library."""

    #: Comma-separated queues to work ("" is all): thumbnails, fingerprints, maintenance,
    #: integrity.
    queues: str = ""
    #: Jobs run at once by one worker process (each in its own media worker process).
    concurrency: int = 1
    #: "library-path=/local/directory; ..." where this host mounts a part of the library
    #: elsewhere than under library.root (shared/jobs/path_map.py).
    path_map: str = ""
    #: A job whose worker has not beaten its heartbeat for this long is taken by another.
    stalled_seconds: float = 30.0
    #: Port of the worker's /metrics (0: a free one, logged).
    metrics_port: int = 9465


@dataclass(frozen=True)
class FingerprintsConfig:
    """The deferred jobs fingerprinting valid videos for near-duplicates (shared/jobs/).

    They run in `videolib worker` (its concurrency is the number of fingerprinter processes).
    """

    enabled: bool = True
    #: Wait after a failure before the first retry; doubles per failure, at most a day.
    retry_seconds: float = 600.0
    #: Failures after which a video is given up (its reason stays visible) until it changes.
    max_attempts: int = 5
    #: Longest one video may take; a worker past it is killed and the video counts failed.
    time_limit_seconds: float = 600.0


@dataclass(frozen=True)
class TrashConfig:
    #: Days a trashed file is kept in <root>/.trash before the purge job removes it.
    retention_days: int = 30
    #: Seconds between the purge job's looks for trash days due (maintenance queue).
    purge_interval_seconds: float = 3600.0


@dataclass(frozen=True)
class IntegrityConfig:
    """The scheduled re-hash of every valid file, as jobs any worker runs
    (shared/jobs/integrity_jobs.py)."""

    enabled: bool = True
    #: Bytes read per second for verification, in MB (10^6 bytes), per worker process (all its
    #: integrity jobs together): N workers on one NAS read N times this.
    rate_mb_per_second: float = 20.0
    #: Daily window of local time, "HH:MM-HH:MM" (may wrap midnight); "" is always.
    window: str = ""
    #: Hours between the starts of two full cycles (a longer cycle is followed at once).
    cycle_interval_hours: float = 24.0


@dataclass(frozen=True)
class LeaderConfig:
    """One active watcher per library (shared/db/repository/leader.py, daemon/leadership.py)."""

    #: Seconds between a leader's checks that it still holds its lock, and a standby's
    #: tries to take it: a takeover comes this long after the lock is free, at most.
    check_seconds: float = 1.0
    #: Seconds a leader's lock session may stay silent before the server ends it (a frozen
    #: or cut-off leader); at least 3 x check_seconds, so a living leader never loses it.
    lease_seconds: float = 5.0


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"
    format: str = "auto"


@dataclass(frozen=True)
class Config:
    library: LibraryConfig = LibraryConfig()
    database: DatabaseConfig = DatabaseConfig()
    state: StateConfig = StateConfig()
    api: ApiConfig = ApiConfig()
    probe: ProbeConfig = ProbeConfig()
    daemon: DaemonConfig = DaemonConfig()
    thumbnails: ThumbnailsConfig = ThumbnailsConfig()
    worker: WorkerConfig = WorkerConfig()
    fingerprints: FingerprintsConfig = FingerprintsConfig()
    trash: TrashConfig = TrashConfig()
    integrity: IntegrityConfig = IntegrityConfig()
    leader: LeaderConfig = LeaderConfig()
    log: LogConfig = LogConfig()
    #: Where the file part came from, for messages ("defaults" when no file was read).
    source: str = DEFAULTS_SOURCE
    #: A local run's secret file, used when api.jwt_secret is empty (see `local_defaults`).
    secret_file: Path | None = None

    @property
    def library_root(self) -> Path:
        return self.library.root

    @property
    def inbox_path(self) -> Path:
        return self.library.inbox or self.library.root / "inbox"

    @property
    def probe_workers(self) -> int:
        return self.probe.workers or os.cpu_count() or 1

    @property
    def probe_timeout_s(self) -> float:
        return self.probe.timeout_ms / 1000

    @property
    def thumbnail_dir(self) -> Path:
        configured = self.thumbnails.dir
        return Path(configured).expanduser() if configured else self.state.dir / "thumbnails"

    @property
    def embedded_database(self) -> bool:
        return not self.database.url

    def sqlalchemy_url(self) -> URL:
        """The asyncpg URL of the configured database (not of the embedded one)."""
        return asyncpg_url(self.database.url)

    def replace(self, section: str, **changes: Any) -> Config:
        """A copy with some settings of one section changed (tests, ``videolib run``)."""
        updated = dataclasses.replace(getattr(self, section), **changes)
        return dataclasses.replace(self, **{section: updated})


#: Top-level fields of Config that are not sections of the file.
_NOT_SECTIONS = frozenset({"source", "secret_file"})

# Environment variable -> (section, key). Names from the seed and SPEC.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "MEDIA_LIBRARY_PATH": ("library", "root"),
    "MEDIA_INBOX_PATH": ("library", "inbox"),
    "DATABASE_URL": ("database", "url"),
    "VIDEOLIB_STATE_DIR": ("state", "dir"),
    "MEDIA_API_HOST": ("api", "host"),
    "MEDIA_API_PORT": ("api", "port"),
    "JWT_SECRET": ("api", "jwt_secret"),
    "ENABLE_MEDIA_FEATURES": ("api", "media_features"),
    "FFPROBE_PATH": ("probe", "ffprobe_path"),
    "FFPROBE_TIMEOUT": ("probe", "timeout_ms"),
    "VIDEOLIB_LOG_LEVEL": ("log", "level"),
}

_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("probe", "backend"): ("pyav", "ffprobe"),
    ("log", "level"): ("debug", "info", "warning", "error"),
    ("log", "format"): ("auto", "json", "console"),
    ("daemon", "inbox_target"): tuple(t for t in DIRECTORY_TYPES if t != "inbox"),
}

_POSITIVE = {
    ("database", "pool_size"),
    ("database", "connect_timeout_seconds"),
    ("database", "command_timeout_seconds"),
    ("database", "pool_timeout_seconds"),
    ("api", "database_timeout_seconds"),
    ("api", "max_json_bytes"),
    ("api", "max_upload_bytes"),
    ("thumbnails", "width"),
    ("thumbnails", "workers"),
    ("thumbnails", "retry_seconds"),
    ("thumbnails", "max_tries"),
    ("worker", "concurrency"),
    ("worker", "stalled_seconds"),
    ("fingerprints", "retry_seconds"),
    ("fingerprints", "max_attempts"),
    ("fingerprints", "time_limit_seconds"),
    ("daemon", "poll_interval_seconds"),
    ("trash", "retention_days"),
    ("trash", "purge_interval_seconds"),
    ("integrity", "rate_mb_per_second"),
    ("leader", "check_seconds"),
    ("leader", "lease_seconds"),
}
_NON_NEGATIVE = {
    ("probe", "workers"),
    ("daemon", "settle_seconds"),
    ("daemon", "quiet_seconds"),
    ("daemon", "inbox_gif_max_seconds"),
    ("daemon", "max_missing_fraction"),
    ("daemon", "min_missing_files"),
    ("integrity", "cycle_interval_hours"),
}
_PORTS = {("api", "port"), ("daemon", "metrics_port"), ("worker", "metrics_port")}


def asyncpg_url(url: str) -> URL:
    """``postgresql://...`` (the seed's form) as a SQLAlchemy URL on the asyncpg driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ValueError("not a postgresql:// URL")
    if not parsed.database:
        raise ValueError("no database name")
    return parsed.set(drivername="postgresql+asyncpg")


#: Settings whose empty value means "not set": the default of the mode applies.
_EMPTY_IS_UNSET = frozenset({("library", "root"), ("api", "host"), ("api", "jwt_secret")})
LOCAL_ORIGIN = "local run default"


@dataclass(frozen=True)
class LocalDefaults:
    """What a local run fills in where the file and the environment say nothing."""

    library_root: Path | None = None
    api_host: str | None = None
    secret_file: Path | None = None


def local_defaults(
    configured: Mapping[tuple[str, str], Any], *, run: bool = False
) -> LocalDefaults:
    """The one rule for a local run's defaults (pure; tested case by case).

    Without a database URL (or for `videolib run`, always local), every command works on
    the state directory's setup: its library (<state.dir>/library), the secret file `run`
    keeps there, and an API on loopback only. A key the file or the environment sets wins;
    with a database URL the server defaults stay: the seed's library root and 0.0.0.0 (the
    systemd units, behind nginx).
    """
    if not run and str(configured.get(("database", "url"), "")).strip():
        return LocalDefaults()
    state_dir = Path(str(configured.get(("state", "dir")) or StateConfig.dir)).expanduser()
    return LocalDefaults(
        library_root=None if ("library", "root") in configured else state_dir / "library",
        api_host=None if ("api", "host") in configured else LOCAL_API_HOST,
        secret_file=None if ("api", "jwt_secret") in configured else state_dir / LOCAL_SECRET_FILE,
    )


def load_config(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    require_library: bool = True,
    run: bool = False,
) -> Config:
    """Load the configuration: defaults, then the file, then the environment.

    ``path`` falls back to ``VIDEOLIB_CONFIG``. ``require_library`` checks that the
    library root exists (``videolib run`` creates its own first). A local run's defaults
    (`local_defaults`; ``run`` for `videolib run`) come before the built-in ones.
    """
    env = dict(os.environ if environ is None else environ)
    path = path or env.get("VIDEOLIB_CONFIG") or None
    values: dict[tuple[str, str], tuple[Any, str]] = {}
    source = DEFAULTS_SOURCE
    if path is not None:
        source = str(path)
        for key, value in _read_toml(Path(path)).items():
            values[key] = (value, source)
    for variable, key in ENVIRONMENT.items():
        if variable in env:
            values[key] = (env[variable], f"environment {variable}")
    for key in _EMPTY_IS_UNSET:
        if key in values and values[key][0] == "":
            del values[key]
    local = local_defaults({key: raw for key, (raw, _origin) in values.items()}, run=run)
    if local.library_root is not None:
        values[("library", "root")] = (str(local.library_root), LOCAL_ORIGIN)
    if local.api_host is not None:
        values[("api", "host")] = (local.api_host, LOCAL_ORIGIN)
    config = dataclasses.replace(_build(values, source), secret_file=local.secret_file)
    root = config.library.root
    if require_library and not root.is_dir():
        origin = values.get(("library", "root"), (None, source))[1]
        reason = "no such directory"
        if origin == LOCAL_ORIGIN:
            reason += " (`videolib run` makes it; or set MEDIA_LIBRARY_PATH)"
        raise ConfigError("library.root", str(root), origin, reason)
    return config


def _read_toml(path: Path) -> dict[tuple[str, str], Any]:
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError("--config", str(path), str(path), "no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError("--config", str(path), str(path), str(error)) from None
    sections = {f.name: f.type for f in dataclasses.fields(Config) if f.name not in _NOT_SECTIONS}
    flat: dict[tuple[str, str], Any] = {}
    for section, table in document.items():
        if section not in sections:
            raise ConfigError(section, table, str(path), "unknown section")
        if not isinstance(table, dict):
            raise ConfigError(section, table, str(path), "must be a table ([section])")
        known = {f.name for f in dataclasses.fields(getattr(Config(), section))}
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"{section}.{key}", value, str(path), "unknown key")
            flat[(section, key)] = value
    return flat


def _build(values: dict[tuple[str, str], tuple[Any, str]], source: str) -> Config:
    sections: dict[str, Any] = {}
    for section_field in dataclasses.fields(Config):
        if section_field.name in _NOT_SECTIONS:
            continue
        section = section_field.name
        default = getattr(Config(), section)
        changes = {}
        for item in dataclasses.fields(default):
            if (section, item.name) in values:
                raw, origin = values[(section, item.name)]
                default_value = getattr(default, item.name)
                changes[item.name] = _coerce(section, item.name, raw, default_value, origin)
        sections[section] = dataclasses.replace(default, **changes)
    _check_leader(sections["leader"], values, source)
    return Config(**sections, source=source)


def _check_leader(
    leader: LeaderConfig, values: dict[tuple[str, str], tuple[Any, str]], source: str
) -> None:
    """A lease shorter than three checks would end a living leader's session."""
    if leader.lease_seconds < 3 * leader.check_seconds:
        origin = values.get(("leader", "lease_seconds"), (None, source))[1]
        raise ConfigError(
            "leader.lease_seconds",
            leader.lease_seconds,
            origin,
            f"must be at least 3 x leader.check_seconds ({3 * leader.check_seconds:g})",
        )


def _coerce(section: str, key: str, raw: Any, default: Any, origin: str) -> Any:
    """Convert one raw value (TOML value or environment string) to the default's type."""
    name = f"{section}.{key}"
    from_env = origin.startswith("environment")
    parsers: dict[type, Callable[[Any], Any]] = {
        bool: _parse_bool,
        int: _parse_int,
        float: _parse_float,
        str: _parse_str,
    }
    try:
        if isinstance(default, Path) or (section, key) == ("library", "inbox"):
            value: Any = _parse_path(raw)
        else:
            value = parsers[type(default)](raw if not from_env else raw.strip())
    except (TypeError, ValueError) as error:
        raise ConfigError(name, raw, origin, str(error)) from None
    _check_value(section, key, value, origin)
    return value


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in (
        "true",
        "1",
        "yes",
        "on",
        "false",
        "0",
        "no",
        "off",
    ):
        return raw.lower() in ("true", "1", "yes", "on")
    raise ValueError("expected true or false")


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise TypeError("expected a whole number")
    try:
        return int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise TypeError("expected a number")
    try:
        return float(raw)
    except ValueError:
        raise ValueError("expected a number") from None


def _parse_str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    return raw


def _parse_path(raw: Any) -> Path | None:
    if not isinstance(raw, str):
        raise TypeError("expected a path string")
    return Path(raw).expanduser() if raw else None


def _check_value(section: str, key: str, value: Any, origin: str) -> None:
    name = f"{section}.{key}"
    choices = _CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigError(name, value, origin, f"expected one of {', '.join(choices)}")
    if (section, key) in _POSITIVE and value <= 0:
        raise ConfigError(name, value, origin, "must be greater than 0")
    if (section, key) in _NON_NEGATIVE and value < 0:
        raise ConfigError(name, value, origin, "must not be negative")
    if (section, key) in _PORTS and not 0 <= value <= 65535:
        raise ConfigError(name, value, origin, "expected a port number 0..65535")
    if (section, key) == ("probe", "timeout_ms") and value <= 0:
        raise ConfigError(name, value, origin, "must be greater than 0")
    if (section, key) == ("daemon", "max_missing_fraction") and value > 1:
        raise ConfigError(name, value, origin, "a fraction: expected 0..1 (0.10 is 10 %)")
    if (section, key) == ("daemon", "reconcile_interval") and value <= 0:
        raise ConfigError(name, value, origin, "must be greater than 0")
    if (section, key) == ("database", "url") and value:
        try:
            asyncpg_url(value)
        except (ArgumentError, ValueError) as error:
            shown = _hide_password(value)
            raise ConfigError(name, shown, origin, f"malformed database URL: {error}") from None
    if (section, key) == ("integrity", "window"):
        try:
            Window.parse(value)
        except ValueError as error:
            raise ConfigError(name, value, origin, str(error)) from None
    if (section, key) == ("worker", "path_map"):
        try:
            parse_path_map(value)
        except ValueError as error:
            raise ConfigError(name, value, origin, str(error)) from None
    if (section, key) == ("library", "root") and value is None:
        raise ConfigError(name, value, origin, "must not be empty")


def _hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
