"""Finding the external checkers (systemd-analyze, promtool, nginx) for the ops tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
DEPLOY = REPOSITORY / "deploy"
SYSTEMD = REPOSITORY / "systemd"


def require_tool(name: str) -> str:
    """The tool's path; skip without it on a laptop, but never in CI (CI installs them)."""
    # nginx lives in /usr/sbin, often not on a normal user's PATH.
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is not None:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing in CI: .ci/run should have installed it")
    pytest.skip(f"{name} not installed (apt-get install systemd prometheus nginx)")
