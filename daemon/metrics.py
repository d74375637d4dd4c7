"""The daemon's Prometheus metrics and its `/metrics` + `/readyz` server (own port).

One registry per service, not the process-global default, so that tests can run several
services in one process.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

#: How long a stop waits for requests in progress (a scrape or probe answers at once).
STOP_REQUESTS_S = 0.25
_DURATIONS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class DaemonMetrics:
    """Every metric of issue 4 §10, registered in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "videolib_daemon_events", "File system events received", ["type"], registry=r
        )
        self.files = Counter(
            "videolib_daemon_files", "Files handled, by outcome", ["outcome"], registry=r
        )
        # Probe and hash run in one worker call, timed together (the worker reports no split).
        self.examine_seconds = Histogram(
            "videolib_daemon_examine_seconds",
            "Probe and hash duration per file",
            buckets=_DURATIONS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "videolib_daemon_queue_depth", "Paths waiting: settling or ready", ["stage"], registry=r
        )
        self.in_flight = Gauge(
            "videolib_daemon_in_flight", "Files being examined or recorded now", registry=r
        )
        self.reconcile_seconds = Histogram(
            "videolib_daemon_reconcile_seconds",
            "Duration of a reconciliation pass",
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
            registry=r,
        )
        self.reconcile_last_success = Gauge(
            "videolib_daemon_reconcile_last_success_timestamp_seconds",
            "When the last reconciliation pass finished",
            registry=r,
        )
        self.db_errors = Counter(
            "videolib_daemon_database_errors", "Database unavailable errors", registry=r
        )
        self.db_up = Gauge("videolib_daemon_database_up", "1 when the database answers", registry=r)
        self.inbox_moves = Counter(
            "videolib_daemon_inbox_moves", "Inbox files moved, by result", ["result"], registry=r
        )
        self.loop_crashes = Counter(
            "videolib_daemon_loop_crashes",
            "Crashes of a background loop (each restarted with backoff)",
            ["loop"],
            registry=r,
        )
        self.poll_walks = Counter(
            "videolib_daemon_poll_walks",
            "Stat-walks of polled folders (daemon.polling, or inotify's limit reached)",
            registry=r,
        )
        # Issue 11 §2: what watchdog's inotify layer swallowed (daemon/inotify_reports.py).
        self.inotify_overflows = Counter(
            "videolib_daemon_inotify_overflows",
            "inotify queue overflows: events were lost (a reconciliation follows)",
            registry=r,
        )
        self.polled_folders = Gauge(
            "videolib_daemon_polled_folders",
            "1 per folder stat-walked instead of watched, by reason (polling, watch_limit)",
            ["path", "reason"],
            registry=r,
        )
        self.dropped = Counter(
            "videolib_daemon_dropped_events",
            "Events dropped at capacity (a reconciliation follows)",
            registry=r,
        )

        # Mount safety (issue 11 §1): alerted on in deploy/prometheus/videolib.rules.yml.
        self.library_mounted = Gauge(
            "videolib_daemon_library_mounted",
            "1 when the library marker is at the root (else nothing is marked missing)",
            registry=r,
        )
        self.missing_held = Counter(
            "videolib_daemon_missing_held",
            "Passes whose missing marks were held back, by type and why",
            ["directory_type", "kind"],
            registry=r,
        )
        self.held_passes = Gauge(
            "videolib_daemon_held_passes",
            "Directory types with a held pass waiting for an admin or the share",
            registry=r,
        )
        self.remounts = Counter(
            "videolib_daemon_remounts",
            "Folders seen on another device (a share gone or back): re-watched, reconciled",
            registry=r,
        )
        # One active watcher per library (issue 13 §4, daemon/leadership.py).
        self.leader = Gauge(
            "videolib_daemon_leader",
            "1 while this daemon is the library's active watcher, 0 while it stands by",
            registry=r,
        )
        self.takeovers = Counter(
            "videolib_daemon_leader_takeovers",
            "Times this daemon took the leader lock (at start or from a dead leader)",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_app(
    metrics: DaemonMetrics,
    ready: Callable[[], tuple[bool, str]],
    role: Callable[[], dict[str, object]] = dict,
) -> web.Application:
    """`/metrics` in the Prometheus text format; `/readyz` 200 or 503 with the reason and
    what `role` adds (leader or standby: a healthy standby is ready, daemon/leadership.py)."""

    async def get_metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    async def get_ready(_request: web.Request) -> web.Response:
        ok, reason = ready()
        body = {"ready": ok, "reason": reason, **role()}
        return web.json_response(body, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/readyz", get_ready)
    return app


async def start_server(app: web.Application, port: int) -> tuple[web.AppRunner, int]:
    """Serve the app on all IPv4 interfaces; port 0 picks a free one. Returns (runner, port).

    One address, so that port 0 means one port (dual-stack would bind two different ones).
    """
    # A scrape answers at once; the default 60 s wait for open requests would eat the stop.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=STOP_REQUESTS_S)
    await runner.setup()
    site = web.TCPSite(runner, host="0.0.0.0", port=port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
