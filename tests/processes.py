"""The process table, read from /proc: who descends from whom, who is still alive.

Used by the session's leak check (tests/conftest.py) and by the kill -9 tests.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path

#: Set in the environment of the test session, so every process it starts carries it,
#: even after its parent died and it was reparented to init.
SESSION_VARIABLE = "VIDEOLIB_TEST_SESSION"


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid), or None for a process that is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, parent = text.rsplit(")", 1)[1].split()[:2]
    return state, int(parent)


def alive(pid: int) -> bool:
    """Running (a zombie only waits to be reaped: it has exited)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def children(parent: int) -> set[int]:
    """The living processes whose parent is `parent`."""
    found = set()
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z" and stat[1] == parent:
            found.add(pid)
    return found


def descendants(root: int) -> set[int]:
    """The living processes under `root` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z":
            children.setdefault(stat[1], []).append(pid)
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def marked(variable: str, value: str) -> set[int]:
    """Living processes whose environment has `variable=value`."""
    needle = f"{variable}={value}".encode()
    found = set()
    for pid in _pids():
        try:
            environment = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environment.split(b"\0") and alive(pid):
            found.add(pid)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "(gone)"


def wait_gone(pids: Iterable[int], seconds: float) -> set[int]:
    """Wait until none of `pids` is alive, up to `seconds`; returns those still alive."""
    deadline = time.monotonic() + seconds
    left = {pid for pid in pids if alive(pid)}
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = {pid for pid in left if alive(pid)}
    return left


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server started next (`videolib api --port`)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
