"""`make typecheck` resolves every videolib import: a wrong name is an error, never `Any`.

With `ignore_missing_imports` and no view of the editable install, mypy once took every
videolib.* name as `Any`, and a route reading `.id` from a `Fingerprint` passed the check.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.tools import REPOSITORY

# Each line that must fail, with the error code mypy gives it.
PROBE = {
    "from videolib.shared.no_such_module import anything": "import-not-found",
    "from videolib.shared.config import NoSuchSetting": "attr-defined",
    "from videolib.shared.db.records import Fingerprint": None,
    "def size_of(fingerprint: Fingerprint) -> int | None: return fingerprint.size": None,
    "def id_of(fingerprint: Fingerprint) -> object: return fingerprint.id": "attr-defined",
    "def untyped(value): return value": "no-untyped-def",
}
ERROR = re.compile(r"^probe\.py:(\d+): error: .*\[([a-z-]+)\]$")


@pytest.mark.slow
def test_mypy_resolves_videolib_imports_and_reports_wrong_names(tmp_path: Path) -> None:
    subprocess.run(["make", "-s", "typecheck-tree"], cwd=REPOSITORY, check=True, timeout=60)
    probe = tmp_path / "probe.py"
    probe.write_text("\n".join(PROBE) + "\n")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(REPOSITORY / "pyproject.toml")),
            *("--cache-dir", str(tmp_path / "cache"), probe.name),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found = {
        int(match[1]): match[2]
        for match in map(ERROR.match, result.stdout.splitlines())
        if match is not None
    }
    expected = {number: code for number, code in enumerate(PROBE.values(), 1) if code}
    assert found == expected, result.stdout + result.stderr
