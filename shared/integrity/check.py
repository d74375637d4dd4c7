"""Re-hash one recorded file and judge it: the I/O around verdict.judge.

The daemon paces the read (`pace` is awaited after each chunk, with its size); the API's
re-check before an action reads at full speed. Reads run in a thread one chunk at a time:
hashlib and readinto release the GIL, the event loop keeps running, and a stop or a
closed window takes effect between two chunks, not at the end of a 50 GB file.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from videolib.shared.media.hashing import CHUNK_BYTES, sha256_file

from .verdict import Recorded, Stat, Unread, Verdict, judge

#: Awaited after each chunk with its size in bytes: waits as long as the budget says.
Pace = Callable[[int], Awaitable[None]]


async def check_file(path: Path, recorded: Recorded, pace: Pace | None = None) -> Verdict:
    """Stat, hash and stat again; the verdict (never raises for a file that cannot be read)."""
    try:
        before = await asyncio.to_thread(_stat, path)
        if pace is None:
            digest = await asyncio.to_thread(sha256_file, path)
        else:
            digest = await _paced_sha256(path, pace)
        after = await asyncio.to_thread(_stat, path)
    except FileNotFoundError:
        return Unread("file not found")
    except OSError as error:
        return Unread(f"cannot read: {error.strerror or error}")
    return judge(recorded, before, after, digest)


def _stat(path: Path) -> Stat:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


async def _paced_sha256(path: Path, pace: Pace) -> str:
    digest = hashlib.sha256()
    view = memoryview(bytearray(CHUNK_BYTES))
    file = await asyncio.to_thread(open, path, "rb", buffering=0)
    try:
        while count := await asyncio.to_thread(_read_into, file, view, digest):
            await pace(count)
    finally:
        file.close()
    return digest.hexdigest()


def _read_into(file: io.RawIOBase, view: memoryview, digest: hashlib._Hash) -> int:
    """Read one chunk and hash it, in the calling thread; 0 at the end of the file."""
    count = file.readinto(view) or 0
    digest.update(view[:count])
    return count
