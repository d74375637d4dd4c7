"""Every metric name the alert rules and the Grafana dashboard use is exported by the real
`videolib api`, `videolib daemon` and `videolib worker` processes (read from their
/metrics, not hard-coded)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import URL

from tests.ops.tools import DEPLOY

SECRET = "metric-names-test-secret-" + "x" * 32
READY_TIMEOUT_S = 60.0
#: The series names each metric type exposes (Prometheus text format, prometheus_client).
SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
}
METRIC_NAME = re.compile(r"\bvideolib_[a-zA-Z0-9_:]+")


def exported_series(exposition: str) -> set[str]:
    """All series names a /metrics text can hold, including families with no samples yet
    (a labelled counter appears only in its HELP/TYPE lines until first incremented)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in SERIES_SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def used_metric_names() -> dict[str, set[str]]:
    """Metric names in the rules file and in the dashboard's queries, by where they are."""
    rules = (DEPLOY / "prometheus" / "videolib.rules.yml").read_text()
    dashboard = json.loads((DEPLOY / "grafana" / "videolib.json").read_text())
    queries = " ".join(
        target.get("expr", "")
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    )
    return {
        "videolib.rules.yml": set(METRIC_NAME.findall(rules)),
        "videolib.json": set(METRIC_NAME.findall(queries)),
    }


def test_exported_series_expands_families_without_samples() -> None:
    text = (
        "# HELP x_total Things\n# TYPE x_total counter\n"
        "# HELP h Durations\n# TYPE h histogram\n"
        'h_bucket{le="+Inf"} 0.0\nh_count 0.0\nh_sum 0.0\n'
        "# HELP g A gauge\n# TYPE g gauge\ng 1.0\n"
    )
    assert exported_series(text) == {
        "x_total", "x_created", "h_bucket", "h_sum", "h_count", "h_created", "g",
    }  # fmt: skip


# -- the real processes ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args!r} exited {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError):
            if http_get(url)[0] == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"{url} not ready after {READY_TIMEOUT_S:g} s:\n{log.read_text()}")


@contextlib.contextmanager
def videolib(command: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "videolib.shared.commands.cli", command],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def services(
    database_url: URL, library_root: Path, tmp_path: Path
) -> Iterator[tuple[str, str, str]]:
    """The three processes on free ports against the test database; their base URLs."""
    api_port, daemon_port, worker_port = free_port(), free_port(), free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f"[daemon]\nmetrics_port = {daemon_port}\n[worker]\nmetrics_port = {worker_port}\n"
        '[probe]\nworkers = 1\n[log]\nformat = "json"\n'
    )
    env = {
        "DATABASE_URL": database_url.set(drivername="postgresql").render_as_string(
            hide_password=False
        ),
        "MEDIA_LIBRARY_PATH": str(library_root),
        "JWT_SECRET": SECRET,
        "MEDIA_API_HOST": "127.0.0.1",
        "MEDIA_API_PORT": str(api_port),
        "VIDEOLIB_CONFIG": str(config),
        "VIDEOLIB_STATE_DIR": str(tmp_path / "state"),
    }
    api_url, daemon_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{daemon_port}"
    worker_url = f"http://127.0.0.1:{worker_port}"
    with (
        videolib("api", env, tmp_path / "api.log") as api,
        videolib("daemon", env, tmp_path / "daemon.log") as daemon,
        videolib("worker", env, tmp_path / "worker.log") as worker,
    ):
        wait_ready(api, f"{api_url}/readyz", tmp_path / "api.log")
        wait_ready(daemon, f"{daemon_url}/readyz", tmp_path / "daemon.log")
        wait_ready(worker, f"{worker_url}/metrics", tmp_path / "worker.log")
        yield api_url, daemon_url, worker_url


@pytest.mark.slow
def test_every_metric_in_rules_and_dashboard_is_exported(
    services: tuple[str, str, str],
) -> None:
    api_url, daemon_url, worker_url = services
    http_get(f"{api_url}/healthz")  # one answered request, so request series have samples
    exported: set[str] = set()
    for url in (f"{api_url}/metrics", f"{daemon_url}/metrics", f"{worker_url}/metrics"):
        status, body = http_get(url)
        assert status == 200, url
        exported |= exported_series(body)
    used = used_metric_names()
    assert all(used.values()), "no metric names found in rules or dashboard"
    missing = {where: sorted(names - exported) for where, names in used.items() if names - exported}
    assert not missing, f"used but not exported: {missing}\nexported: {sorted(exported)}"
