"""File system errors of a request as the answers a caller sees; never "database unavailable".

The repository turns driver errors into database errors where they happen; what reaches
the error middleware as a bare OSError is the storage's: a read-only or unreadable inbox,
a full disk, a file that vanished between a check and its use.
"""

from __future__ import annotations

import errno
from typing import TypeGuard

from videolib.shared.errors import NotFoundError, VideolibError

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_GONE = frozenset({errno.ENOENT, errno.ENOTDIR})


class InsufficientStorageError(VideolibError):
    """The file system a write goes to is full."""

    status = 507
    code = "insufficient_storage"


class StorageUnavailableError(VideolibError):
    """The library's storage refused an operation (read-only, permissions, I/O error)."""

    status = 503
    code = "storage_unavailable"


def is_storage_error(error: BaseException) -> TypeGuard[OSError]:
    """Whether an exception is a file system error (not a network one: a connection reset
    or a timeout is a socket's or the database's, left to the other rules)."""
    return isinstance(error, OSError) and not isinstance(error, ConnectionError | TimeoutError)


def storage_error(error: OSError, *, reading: bool) -> VideolibError:
    """The error to answer with, naming the path where the OSError knows it.

    A file gone while a request reads it is 404 (it is not there); a write whose folder
    is gone is the storage's fault (503), as is a read-only or unreadable one.
    """
    where = str(error.filename) if error.filename is not None else "storage"
    reason = error.strerror or str(error) or type(error).__name__
    if error.errno in _FULL:
        return InsufficientStorageError(f"{where}: no space left ({reason})")
    if error.errno in _GONE and reading:
        return NotFoundError(f"{where}: no longer exists")
    return StorageUnavailableError(f"{where}: {reason}")
