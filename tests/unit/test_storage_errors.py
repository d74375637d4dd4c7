"""How a bare file system error of a request is answered: pure, table-driven."""

from __future__ import annotations

import errno

import pytest

from videolib.api.storage_errors import is_storage_error, storage_error


@pytest.mark.parametrize(
    ("error", "reading", "status", "code", "message"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/i/a.mp4"), False, 507,
         "insufficient_storage", "/i/a.mp4: no space left (No space left on device)"),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "/i/a"), False, 507,
         "insufficient_storage", "/i/a: no space left (Disk quota exceeded)"),
        (OSError(errno.EROFS, "Read-only file system", "/i/x.part"), False, 503,
         "storage_unavailable", "/i/x.part: Read-only file system"),
        (PermissionError(errno.EACCES, "Permission denied", "/i"), False, 503,
         "storage_unavailable", "/i: Permission denied"),
        (OSError(errno.EIO, "Input/output error", "/lib/v.mp4"), True, 503,
         "storage_unavailable", "/lib/v.mp4: Input/output error"),
        # A file that vanished while being read is not there: 404.
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/t/1.jpg"), True, 404,
         "not_found", "/t/1.jpg: no longer exists"),
        # A write whose folder is gone is the storage's fault.
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/i/x"), False, 503,
         "storage_unavailable", "/i/x: No such file or directory"),
        (OSError(errno.EIO, "Input/output error"), False, 503,  # no path known
         "storage_unavailable", "storage: Input/output error"),
    ],
)  # fmt: skip
def test_storage_error(error: OSError, reading: bool, status: int, code: str, message: str) -> None:
    answer = storage_error(error, reading=reading)
    assert (answer.status, answer.code, answer.message) == (status, code, message)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.EROFS, "Read-only file system"), True),
        (PermissionError(errno.EACCES, "Permission denied"), True),
        (FileNotFoundError(errno.ENOENT, "gone"), True),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), False),  # a socket's
        (ConnectionResetError(errno.ECONNRESET, "reset"), False),
        (TimeoutError(), False),
        (RuntimeError("boom"), False),
    ],
)
def test_is_storage_error(error: BaseException, expected: bool) -> None:
    assert is_storage_error(error) is expected
