"""The worker's metrics: jobs by task and outcome, their durations, on its own /metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

#: started, succeeded, failed (given up or crashed), retried (a later try is queued).
OUTCOMES = ("started", "succeeded", "failed", "retried")


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "videolib_worker_jobs",
            "Jobs of the job engine by task kind and outcome",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "videolib_worker_job_seconds",
            "Seconds one job ran, by task kind",
            ["task"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.maintenance = MaintenanceMetrics(self.registry)

        # Integrity checks (shared/jobs/integrity_jobs.py): this process's reads. The open
        # findings and the last full cycle are the library's, exported by the API.
        self.integrity_bytes = Counter(
            "videolib_worker_integrity_verified_bytes",
            "Bytes read to re-hash recorded files",
            registry=self.registry,
        )
        self.integrity_files = Counter(
            "videolib_worker_integrity_files",
            "Files re-hashed, by verdict: intact, mismatch, changed, unread",
            ["verdict"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MaintenanceMetrics:
    """The periodic jobs' own counts (shared/jobs/maintenance_jobs.py): the trash purge's
    and the periodic reconciliation's, which the daemon counted while it ran them."""

    def __init__(self, r: CollectorRegistry) -> None:
        self.trash_purged_files = Counter(
            "videolib_worker_trash_purged_files", "Files removed from the trash", registry=r
        )
        self.trash_purged_records = Counter(
            "videolib_worker_trash_purged_records",
            "Records deleted with their purged trash files",
            registry=r,
        )
        self.trash_purges = Counter(
            "videolib_worker_trash_purges", "Looks for trash days due for purging", registry=r
        )
        self.reconciled = Counter(
            "videolib_worker_reconcile_passes",
            "Periodic reconciliations run by this worker",
            registry=r,
        )
        self.reconcile_seconds = Histogram(
            "videolib_worker_reconcile_seconds",
            "Seconds one periodic reconciliation took",
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900),
            registry=r,
        )
        self.reconcile_last_success = Gauge(
            "videolib_worker_reconcile_last_success_timestamp_seconds",
            "When this worker's last periodic reconciliation finished (0: none yet)",
            registry=r,
        )
        self.reconcile_files = Counter(
            "videolib_worker_reconcile_files",
            "Files of periodic reconciliations by outcome",
            ["outcome"],
            registry=r,
        )
        self.reconcile_skipped = Counter(
            "videolib_worker_reconcile_skipped_types",
            "Directory types a periodic reconciliation left to the watcher, by reason",
            ["directory_type", "reason"],
            registry=r,
        )


async def serve(metrics: WorkerMetrics, port: int) -> tuple[web.AppRunner, int]:
    """`/metrics` on all IPv4 interfaces (port 0: a free one). Returns (runner, port)."""

    async def get_metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host="0.0.0.0", port=port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    return runner, int(sockets[0].getsockname()[1]) if sockets else port
