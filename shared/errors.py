"""The named errors of videolib.

Each carries what it is about (a path, a config key) and why; the API maps them to HTTP
statuses in one middleware and the CLI to exit codes in one function.
"""

from __future__ import annotations


class VideolibError(Exception):
    """Something went wrong in videolib."""

    #: HTTP status the API answers with when this error reaches a handler.
    status = 500
    #: Short machine-readable name, the ``error`` field of the JSON body.
    code = "internal_error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(VideolibError):
    """The configuration is not valid."""

    code = "config_error"

    def __init__(self, key: str, value: object, source: str, reason: str) -> None:
        self.key, self.value, self.source, self.reason = key, value, source, reason
        super().__init__(f"{source}: {key} = {value!r}: {reason}")


class PathError(VideolibError):
    """A path is not usable."""

    status = 400
    code = "bad_path"

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


class UnsafePathError(PathError):
    """A path leaves the library root."""

    code = "unsafe_path"


class ProbeError(PathError):
    """A file could not be probed as a video."""

    status = 422
    code = "probe_failed"

    def __init__(self, path: str, reason: str, invalid_reason: str = "corrupt") -> None:
        #: ``corrupt`` (not a readable video) or ``unreadable`` (I/O error, time limit).
        self.invalid_reason = invalid_reason
        super().__init__(path, reason)


class NotFoundError(VideolibError):
    """No such record."""

    status = 404
    code = "not_found"


class ConflictError(VideolibError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class DatabaseUnavailableError(VideolibError):
    """The database cannot be reached."""

    status = 503
    code = "database_unavailable"


class DatabaseBusyError(DatabaseUnavailableError):
    """The database is busy: no pooled connection came free in time, or a transaction kept
    losing a race. Back-pressure: every path that waits out an unavailable database and
    retries treats this the same way, so no batch is lost."""

    code = "database_busy"


class NotLeaderError(VideolibError):
    """This daemon is not the library's active watcher: another daemon took over, so its
    write was rolled back (shared/db/repository/leader.py)."""

    status = 503
    code = "not_leader"
