"""deploy/: Prometheus config and rules through promtool, the Grafana dashboard's shape and
PromQL, nginx through `nginx -t`. Metric names are checked in test_metric_names.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.ops.tools import DEPLOY, require_tool
from videolib.shared.config import Config

PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "videolib.json"
NGINX_SITE = DEPLOY / "nginx" / "videolib.conf"


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


# -- Prometheus ------------------------------------------------------------------------------


def test_promtool_checks_config_and_rules() -> None:
    promtool = require_tool("promtool")
    config = run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    rules = run(promtool, "check", "rules", str(PROMETHEUS / "videolib.rules.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_alert_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    result = run(promtool, "test", "rules", "videolib.rules.test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_process_is_scraped_and_every_issue_alert_exists() -> None:
    # Text checks: promtool above has parsed the YAML (no YAML library in the test deps).
    config = (PROMETHEUS / "prometheus.yml").read_text()
    defaults = Config()
    scraped = (
        ("videolib-api", defaults.api.port),
        ("videolib-daemon", defaults.daemon.metrics_port),
        # The periodic reconciliation and the trash purge are its jobs (issue 13 §2).
        ("videolib-worker", defaults.worker.metrics_port),
    )
    for job, port in scraped:
        assert re.search(rf'job_name: {job}\n(.*\n)*?.*targets: \["127.0.0.1:{port}"\]', config)
    assert defaults.daemon.metrics_port == 9464
    rules = (PROMETHEUS / "videolib.rules.yml").read_text()
    alerts = set(re.findall(r"^ *- alert: (\w+)$", rules, re.M))
    assert {
        "VideolibDaemonDown",
        "VideolibApiDown",
        "VideolibReconcileStale",
        "VideolibIngestFailures",
        "VideolibApiErrors",
        "VideolibApiSlow",
        "VideolibDatabaseErrors",
        "VideolibInboxBacklogGrowing",
        "VideolibDaemonLoopCrashing",
        "VideolibLibraryNotMounted",
        "VideolibMissingHeld",
        "VideolibIntegrityMismatch",
        "VideolibInotifyWatchLimit",
        "VideolibInotifyOverflows",
        "VideolibNoActiveWatcher",
        "VideolibTwoActiveWatchers",
    } <= alerts


def test_reconcile_alert_is_two_configured_intervals() -> None:
    rules = (PROMETHEUS / "videolib.rules.yml").read_text()
    assert f"> {2 * int(Config().daemon.reconcile_interval)}" in rules


# -- Grafana ---------------------------------------------------------------------------------


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def as_promql(expr: str) -> str:
    """Grafana's variables replaced by what they stand for, so promtool can parse it."""
    return expr.replace("$__rate_interval", "5m").replace("$instance", ".*")


def test_dashboard_is_importable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "videolib"
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            # Every query goes to the templated data source, none to a fixed uid.
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for subject in ("outcome", "latency", "queue depth", "type and validity", "status", "5xx"):
        assert subject in titles


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    expressions = dashboard_expressions(json.loads(DASHBOARD.read_text()))
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": as_promql(expr)}
                    for i, expr in enumerate(expressions)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# -- nginx -----------------------------------------------------------------------------------


def nginx_wrapper(tmp_path: Path) -> Path:
    """A whole nginx.conf around the site file, with every path in tmp_path."""
    wrapper = tmp_path / "nginx.conf"
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    wrapper.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        "    access_log off;\n"
        f"    client_body_temp_path {temp['body']};\n"
        f"    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fastcgi']};\n"
        f"    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n"
        f"    include {NGINX_SITE};\n"
        "}\n"
    )
    return wrapper


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    nginx = require_tool("nginx")
    wrapper = nginx_wrapper(tmp_path)
    result = run(nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(wrapper))
    assert result.returncode == 0, result.stderr


def location_block(site: str, location: str) -> str:
    match = re.search(rf"location {re.escape(location)} \{{(.*?)\}}", site, re.S)
    assert match, f"no location {location}"
    return match.group(1)


def size_in_bytes(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    suffix = value[-1].lower()
    return int(value[:-1]) * units[suffix] if suffix in units else int(value)


def test_nginx_site_matches_the_api() -> None:
    site = NGINX_SITE.read_text()
    assert "server_name media.cmlite.org;" in site
    # Two replicas behind one upstream (issue 13 §5), the first on the API's own port.
    upstream = re.search(r"upstream videolib_api \{(.*?)\}", site, re.S)
    assert upstream
    servers = re.findall(r"^\s*server (\S+)", upstream.group(1), re.M)
    assert servers == ["127.0.0.1:4100", "127.0.0.1:4101"]
    assert Config().api.port == 4100
    # The API's own limit decides (JSON 413): nginx allows it plus room for multipart.
    match = re.search(r"client_max_body_size (\S+);", site)
    assert match
    limit, upload = size_in_bytes(match.group(1)), Config().api.max_upload_bytes
    assert upload <= limit <= upload + 2 * 1024**2
    assert "proxy_request_buffering off;" in location_block(site, "^~ /api/media/upload/")
    assert "deny all;" in location_block(site, "^~ /metrics")
