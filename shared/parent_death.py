"""Make a child process die with its parent (Linux `PR_SET_PDEATHSIG`, see prctl(2)).

A parent killed with SIGKILL runs no cleanup, so the kernel has to end its children: each
child asks for a signal when its parent goes. Two caveats of prctl(2) shape the callers:
the signal fires when the *thread* that started the child exits (start children from a
thread that lives as long as they should: the main or the event-loop thread), and a parent
that died before the call is missed (hence the check of `getppid()` against the parent).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, signum: int = signal.SIGKILL) -> None:
    """In a child: get `signum` when the parent dies; exit now if it is already gone."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the call above
        os._exit(1)


def die_with_this_process() -> None:
    """A `preexec_fn` for subprocess.Popen: the child dies (SIGTERM) with its parent.

    SIGTERM, not SIGKILL: the child (`videolib api`/`daemon`) gets to stop cleanly.
    """
    parent = os.getppid()  # preexec_fn runs in the child, after fork: this is the parent
    die_with_parent(parent, signal.SIGTERM)
