"""Prometheus metrics of one API process, in a registry of its own (several apps per test)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.logging import get_logger
from videolib.shared.media.names import DIRECTORY_TYPES

log = get_logger(__name__)

#: Library gauges are refreshed this often by a background task, never per scrape: a
#: scrape must not cost a GROUP BY over the whole table.
LIBRARY_REFRESH_S = 30.0
# Latency buckets around the targets (5 ms pages, 15 ms search).
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "videolib_api_requests", "HTTP requests answered", labels, registry=self.registry
        )
        self.latency = Histogram(
            "videolib_api_request_seconds",
            "Time to answer an HTTP request",
            labels,
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "videolib_api_requests_in_flight", "Requests being answered", registry=self.registry
        )
        self.pool_in_use = Gauge(
            "videolib_api_db_connections_in_use",
            "Database connections checked out of the pool",
            registry=self.registry,
        )
        self.scan_jobs = Gauge(
            "videolib_api_scan_jobs", "Scan jobs by status", ("status",), registry=self.registry
        )
        self.videos = Gauge(
            "videolib_library_videos",
            "Recorded videos by validity and directory type",
            ("valid", "directory_type"),
            registry=self.registry,
        )
        # The library's integrity (shared/jobs/integrity_jobs.py finds, the admin reviews):
        # the database's, not one worker's, so every API replica exports the same values.
        self.integrity_flagged = Gauge(
            "videolib_integrity_flagged_files",
            "Open integrity findings: files whose hash changed while size and mtime did not",
            registry=self.registry,
        )
        self.integrity_last_full_cycle = Gauge(
            "videolib_integrity_last_full_cycle_timestamp_seconds",
            "When the last full verification cycle finished (0: none yet)",
            registry=self.registry,
        )
        self.stream_bytes = Counter(
            "videolib_api_stream_bytes",
            "Bytes of video files sent by GET /api/media/videos/{id}/stream (as announced)",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def watch_pool(self, engine: AsyncEngine) -> None:
        """Read the pool's checked-out count at scrape time (no query, a counter read)."""
        pool = engine.sync_engine.pool
        checked_out = getattr(pool, "checkedout", None)
        if callable(checked_out):
            self.pool_in_use.set_function(lambda: float(checked_out()))

    def set_library(self, counts: list[tuple[bool, str, int]]) -> None:
        seen = {(valid, kind): n for valid, kind, n in counts}
        for valid in (True, False):
            for kind in DIRECTORY_TYPES:
                label = "true" if valid else "false"
                self.videos.labels(label, kind).set(seen.get((valid, kind), 0))

    def set_scan_jobs(self, counts: dict[str, int]) -> None:
        for status in ("running", "succeeded", "failed", "cancelled"):
            self.scan_jobs.labels(status).set(counts.get(status, 0))

    def set_integrity(self, gauges: tuple[int, datetime | None]) -> None:
        open_findings, last_full_cycle = gauges
        self.integrity_flagged.set(open_findings)
        self.integrity_last_full_cycle.set(last_full_cycle.timestamp() if last_full_cycle else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


CountsReader = Callable[[], Awaitable[list[tuple[bool, str, int]]]]
JobsReader = Callable[[], Awaitable[dict[str, int]]]
IntegrityReader = Callable[[], Awaitable[tuple[int, datetime | None]]]


async def refresh(
    metrics: ApiMetrics,
    library_counts: CountsReader,
    job_counts: JobsReader,
    integrity: IntegrityReader | None = None,
) -> None:
    """Set the table-derived gauges once; a database problem keeps their last values."""
    try:
        metrics.set_library(await library_counts())
        metrics.set_scan_jobs(await job_counts())
        if integrity is not None:
            metrics.set_integrity(await integrity())
    except DatabaseUnavailableError:
        pass  # /readyz reports it
    except Exception:
        log.exception("metrics_refresh_failed")


async def refresh_forever(
    metrics: ApiMetrics,
    library_counts: CountsReader,
    job_counts: JobsReader,
    integrity: IntegrityReader | None = None,
    interval_s: float = LIBRARY_REFRESH_S,
) -> None:
    """Refresh the gauges every interval until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        await refresh(metrics, library_counts, job_counts, integrity)
