"""Two servers never run on one data directory, whoever starts commands at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests import processes

# Holds the embedded server until `release` exists, after saying which postmaster it got.
HOLDER = """
import sys, time
from pathlib import Path
state, start, release = (Path(a) for a in sys.argv[1:4])
from videolib.shared.db.embedded import embedded_postgres
while not start.exists():
    time.sleep(0.01)
with embedded_postgres(state) as url:
    pid = (state / "pgdata" / "postmaster.pid").read_text().split()[0]
    print(pid, url.query.get("host", ""), flush=True)
    while not release.exists():
        time.sleep(0.05)
"""


def postmasters_of(pgdata: Path) -> set[int]:
    """Living postmasters started on `pgdata` (their backends retitle their command line)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command[0].endswith(b"/postgres") and str(pgdata).encode() in command:
            found.add(int(entry.name))
    return {pid for pid in found if processes.alive(pid)}


def test_commands_started_together_share_one_server(run_home: Path) -> None:
    """Each with its own XDG_RUNTIME_DIR, where embedded-postgres keeps its lock: a desktop
    terminal, an ssh session and a cron job do not agree on it."""
    state, start, release = run_home / "var", run_home / "start", run_home / "release"
    holders = []
    for number in range(3):
        runtime = run_home / f"runtime-{number}"
        runtime.mkdir(mode=0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
        holders.append(
            subprocess.Popen(
                [sys.executable, "-c", HOLDER, str(state), str(start), str(release)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        start.touch()  # all three reach for the server at the same moment
        lines = []
        for holder in holders:
            assert holder.stdout is not None
            lines.append(holder.stdout.readline())  # blocks until it holds the server, or died
        if not all(lines):
            release.touch()
            errors = [holder.communicate(timeout=60)[1] for holder in holders]
            raise AssertionError("\n---\n".join(errors))
        lines = [line.split()[0] for line in lines]
        # One postmaster, the one every holder was told of.
        assert len(set(lines)) == 1, lines
        assert int(lines[0]) in postmasters_of(state / "pgdata")
        assert len(postmasters_of(state / "pgdata")) == 1
    finally:
        release.touch()
        codes = [holder.wait(timeout=60) for holder in holders]
        for holder in holders:
            for stream in (holder.stdout, holder.stderr):
                if stream is not None:
                    stream.close()
    assert codes == [0, 0, 0]
    # The last to let go stopped it.
    deadline = time.monotonic() + 20
    while postmasters_of(state / "pgdata") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not postmasters_of(state / "pgdata")
