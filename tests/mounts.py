"""Real mounts for tests: a small tmpfs is another file system, and can be full or read-only."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size` at `mountpoint`, unmounted (lazily) on exit.

    Skips the test only where mounting is refused (not root, no CAP_SYS_ADMIN); CI runs
    as root, so there it always mounts.
    """
    mountpoint.mkdir(parents=True, exist_ok=True)
    options = f"ro,size={size}" if read_only else f"size={size}"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", os.fspath(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", os.fspath(mountpoint)], check=False)


def mount_bind(source: Path, mountpoint: Path) -> None:
    """Bind-mount `source` at `mountpoint` (a share appearing); skips where refused."""
    mounted = subprocess.run(
        ["mount", "--bind", os.fspath(source), os.fspath(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.strip()}")


def unmount_lazily(mountpoint: Path) -> None:
    """`umount -l`: the share goes away at once, as a NAS that dropped off does."""
    subprocess.run(["umount", "-l", os.fspath(mountpoint)], check=True)


@contextlib.contextmanager
def share_at(store: Path, mountpoint: Path) -> Iterator[Path]:
    """A share: a tmpfs at `store` (its own device), bind-mounted at `mountpoint`.

    The files live on in `store` while the bind is unmounted, so a test can unmount and
    mount it again as a NAS comes and goes. Everything is unmounted on exit.
    """
    with tmpfs(store, "64m"):
        mount_bind(store, mountpoint)
        try:
            yield store
        finally:
            while os.path.ismount(mountpoint):
                subprocess.run(["umount", "-l", os.fspath(mountpoint)], check=False)
