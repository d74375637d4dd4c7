"""SHA-256 of a whole file, the `fileHash` column."""

from __future__ import annotations

import hashlib
import os

CHUNK_BYTES = 1 << 20  # 1 MiB: few system calls, small enough to stay in cache


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of the file's bytes, read once, streaming."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    # Unbuffered: readinto fills our buffer directly, with no copy through io's buffer.
    with open(path, "rb", buffering=0) as file:
        while count := file.readinto(view):
            # hashlib releases the GIL for updates over 2 KiB, so threads hashing other
            # files (or the event loop) keep running meanwhile.
            digest.update(view[:count])
    return digest.hexdigest()
