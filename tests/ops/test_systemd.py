"""The systemd units: valid for systemd-analyze, hardened to an exposure of 2.5 or lower,
and the user and directories of sysusers.d / tmpfiles.d created in a scratch root."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import make_video
from tests.ops.tools import SYSTEMD, require_tool

SERVICES = ("videolib-daemon.service", "videolib-api.service", "videolib-worker.service")
UNITS = (*SERVICES, "videolib.target")
EXEC_START = Path("opt/videolib/venv/bin/videolib")
MAX_EXPOSURE = 2.5
HOST_UNITS = Path("/usr/lib/systemd/system")


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def unit_root(tmp_path: Path) -> Path:
    """A root where the units are installed and ExecStart exists, as on a real host.

    `verify --root` resolves ExecStart and the units' dependencies (sysinit.target...)
    inside the root, so the host's unit files are copied in too.
    """
    root = tmp_path / "root"
    binary = root / EXEC_START
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    if not HOST_UNITS.is_dir():
        pytest.skip(f"{HOST_UNITS} missing: systemd-analyze verify needs the host's units")
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    installed = root / "etc/systemd/system"
    installed.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(SYSTEMD / unit, installed / unit)
    return root


def test_units_verify_without_warnings(unit_root: Path) -> None:
    analyze = require_tool("systemd-analyze")
    result = run(analyze, "verify", f"--root={unit_root}", *UNITS)
    # verify exits 0 on unknown keys and bad values, only warning: any output is a finding.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_service_exposure_is_at_most_2_5(service: str) -> None:
    analyze = require_tool("systemd-analyze")
    result = run(
        analyze,
        "security",
        "--offline=yes",
        f"--threshold={int(MAX_EXPOSURE * 10)}",
        str(SYSTEMD / service),
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    exposure = float(found.group(1))
    print(f"{service}: exposure {exposure}")  # quoted in the README
    assert exposure <= MAX_EXPOSURE
    assert result.returncode == 0, result.stderr


def unit_settings(unit: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (SYSTEMD / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


@pytest.mark.parametrize("service", SERVICES)
def test_services_restart_on_failure_but_not_on_bad_config(service: str) -> None:
    settings = unit_settings(service)
    assert settings["Type"] == ["notify"]
    assert settings["Restart"] == ["on-failure"]
    # shared/commands/cli.py: EXIT_USAGE = 2, EXIT_STARTUP = 3.
    assert settings["RestartPreventExitStatus"] == ["2 3"]
    assert settings["User"] == ["videolib"]
    assert settings["ExecStart"] == [f"/{EXEC_START} {service.split('-')[1].split('.')[0]}"]
    assert settings["Environment"][0] == "VIDEOLIB_CONFIG=/etc/videolib/config.toml"


def test_only_the_daemon_has_a_watchdog_and_only_it_writes_the_library() -> None:
    daemon, api, worker = (unit_settings(service) for service in SERVICES)
    # Only the daemon sends WATCHDOG=1 (daemon/scheduler.py); a watchdog the API never feeds
    # would kill it every period.
    assert "WatchdogSec" in daemon
    assert "WatchdogSec" not in api
    assert "WatchdogSec" not in worker
    assert worker["ReadOnlyPaths"] == ["/media/local/library"]  # it makes thumbnails only
    assert "ReadWritePaths" not in worker
    assert daemon["ReadWritePaths"] == ["/media/local/library"]
    assert api["ReadOnlyPaths"] == ["/media/local/library"]
    assert api["ReadWritePaths"] == ["/media/local/library/inbox"]


def test_sysusers_and_tmpfiles_create_user_and_directories(tmp_path: Path) -> None:
    sysusers, tmpfiles = require_tool("systemd-sysusers"), require_tool("systemd-tmpfiles")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    users = run(sysusers, f"--root={root}", str(SYSTEMD / "sysusers.d/videolib.conf"))
    assert users.returncode == 0, users.stderr
    passwd = (root / "etc/passwd").read_text()
    assert re.search(r"^videolib:x:\d+:\d+:[^:]*:/var/lib/videolib:", passwd, re.M), passwd
    made = run(tmpfiles, "--create", f"--root={root}", str(SYSTEMD / "tmpfiles.d/videolib.conf"))
    assert made.returncode == 0, made.stderr
    assert (root / "var/lib/videolib").is_dir()
    assert (root / "etc/videolib").stat().st_mode & 0o777 == 0o750


MDWE_PROBE = """
import asyncio, ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit(77)  # kernel older than 6.3
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("W+X memory was allowed: MDWE not in effect")
except OSError:
    pass
from videolib.shared.config import Config, ProbeConfig
from videolib.shared.runtime import examiner_pool

async def examine(backend):
    config = Config(probe=ProbeConfig(workers=1, backend=backend))
    async with examiner_pool(config) as pool:
        return await pool.examine(sys.argv[1])

if __name__ == "__main__":
    for backend in ("pyav", "ffprobe"):
        result = asyncio.run(examine(backend))
        assert result.error is None and result.metadata is not None, (backend, result)
    import av
    with av.open(sys.argv[1]) as container:
        assert sum(1 for _ in container.decode(video=0)) > 0
    print("ok")
"""


def test_probing_works_without_writable_executable_memory(tmp_path: Path) -> None:
    """Both units set MemoryDenyWriteExecute=yes: PyAV, ffprobe and the worker processes
    must run without W+X memory. PR_SET_MDWE is the kernel's form of the same rule, and
    is inherited by the workers and ffprobe."""
    require_tool("ffprobe")
    video = make_video(tmp_path / "clip.mp4")
    script = tmp_path / "mdwe_probe.py"
    script.write_text(MDWE_PROBE)
    result = subprocess.run(
        [sys.executable, str(script), str(video)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    if result.returncode == 77:
        pytest.skip("PR_SET_MDWE needs Linux 6.3 or newer")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
