"""A rename that never replaces: the one way videolib moves a library file in or out of
its trash.

`os.rename` silently replaces an existing target. Linux's renameat2(RENAME_NOREPLACE)
refuses instead, atomically; where the file system does not support the flag (EINVAL,
some network file systems), a hard link (which fails on an existing name) and an unlink
of the source do the same, non-atomically but never losing or replacing a file.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path
from typing import Any

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
# Errors meaning "this file system or kernel has no RENAME_NOREPLACE", not "refused".
_NO_FLAG = (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP)


def _renameat2() -> Any:
    """libc's renameat2, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):  # not glibc >= 2.28
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2()


def rename_no_replace(source: Path, target: Path) -> None:
    """Move `source` to `target` on one file system; FileExistsError if `target` exists.

    OSError(EXDEV) when the two are on different file systems: nothing is copied.
    """
    if _RENAMEAT2 is not None:
        result = _RENAMEAT2(
            _AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in _NO_FLAG:
            raise OSError(code, os.strerror(code), str(source), None, str(target))
    _link_then_unlink(source, target)


def _link_then_unlink(source: Path, target: Path) -> None:
    os.link(source, target, follow_symlinks=False)  # FileExistsError on a taken name
    os.unlink(source)
