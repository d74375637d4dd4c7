"""Load against a real `videolib api` process: the process, the clients, what they measure.

Shared by bench/api.py (100,000 rows) and bench/scale.py (1,000,000). One-connection
runs use the Python client; runs with more connections use `wrk` when asked and
installed, since the Python client costs about a third of the server's CPU per request.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from videolib.shared.tokens import issue_token

SECRET = "bench-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match[1]) / 1024 if match else float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL process on the machine, by pid."""
    seconds = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    seconds[int(entry.name)] = cpu_seconds(int(entry.name))
            except OSError:
                continue
    return seconds


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuSplit:
    """CPU seconds spent by the server, PostgreSQL and the load generator over a run."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.server = cpu_seconds(server_pid)
        self.postgres = postgres_cpu()
        self.client = time.process_time() + children_cpu()  # wrk is a child process

    def per_request_ms(self, requests: int) -> str:
        server = cpu_seconds(self.server_pid) - self.server
        after = postgres_cpu()
        postgres = sum(after[pid] - self.postgres.get(pid, 0.0) for pid in after)
        client = time.process_time() + children_cpu() - self.client
        n = max(1, requests)
        return (
            f"CPU/request: api {server / n * 1000:.2f} ms, postgres "
            f"{postgres / n * 1000:.2f} ms, load generator {client / n * 1000:.2f} ms"
        )


def server_totals(metrics: str) -> tuple[float, float]:
    """(seconds, requests) of the list route so far, from the server's histogram."""
    route = 'route="/api/media/videos",status="200"'
    total = count = 0.0
    for line in metrics.splitlines():
        if route in line and line.startswith("videolib_api_request_seconds_sum"):
            total += float(line.rsplit(" ", 1)[1])
        if route in line and line.startswith("videolib_api_request_seconds_count"):
            count += float(line.rsplit(" ", 1)[1])
    return total, count


async def load(url: str, token: str, connections: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, errors


_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


async def load_with_wrk(
    url: str, token: str, connections: int, seconds: float
) -> tuple[int, float, float, int]:
    """(requests, p50 s, p99 s, errors) from one wrk run."""
    wrk = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency",
        "-H", f"Authorization: Bearer {token}", url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    report = (await wrk.communicate())[0].decode()

    def latency(share: str) -> float:
        match = re.search(rf"^\s+{share}%\s+([\d.]+)(us|ms|s|m)\s*$", report, re.M)
        return float(match[1]) * _WRK_UNITS[match[2]] if match else float("nan")

    done = re.search(r"(\d+) requests in", report)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    errors = (int(bad[1]) if bad else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return (int(done[1]) if done else 0), latency("50"), latency("99"), errors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def wait_ready(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not become ready")


@dataclass(frozen=True, slots=True)
class ApiProcess:
    """A running `videolib api`: where it listens, its pid, a token it accepts."""

    base: str
    pid: int
    token: str


@contextmanager
def api_process(env: dict[str, str]) -> Iterator[ApiProcess]:
    """`videolib api` on a free local port with `env` (DATABASE_URL, library, state)."""
    port = free_port()
    child_env = {
        **os.environ,
        **env,
        "JWT_SECRET": SECRET,
        "MEDIA_API_HOST": "127.0.0.1",
        "MEDIA_API_PORT": str(port),
        "VIDEOLIB_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "videolib.shared.commands.cli", "api"]
    server = subprocess.Popen(command, env=child_env)
    try:
        yield ApiProcess(f"http://127.0.0.1:{port}", server.pid, issue_token(SECRET))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One scenario at one number of connections."""

    requests_per_s: float
    p50_s: float
    p99_s: float
    server_mean_ms: float
    errors: int
    rss_mb: float
    cpu: str  # CpuSplit.per_request_ms

    def line(self, name: str) -> str:
        return (
            f"{name:25} {self.requests_per_s:7.0f} req/s  "
            f"p50 {self.p50_s * 1000:6.1f} ms  p99 {self.p99_s * 1000:6.1f} ms  "
            f"server mean {self.server_mean_ms:5.2f} ms  errors {self.errors}  "
            f"RSS {self.rss_mb:.0f} MB\n{'':27}{self.cpu}"
        )


async def measure(
    api: ApiProcess, path: str, connections: int, seconds: float, *, use_wrk: bool
) -> Measurement:
    """Warm up, then load `path` for `seconds`; wrk only when `use_wrk` and connections > 1."""
    url = api.base + path
    async with aiohttp.ClientSession() as session:
        await load(url, api.token, 4, 1.0)  # warm up caches and the pool
        async with session.get(f"{api.base}/metrics") as response:
            before = server_totals(await response.text())
        cpu = CpuSplit(api.pid)
        started = time.perf_counter()
        if use_wrk and connections > 1:
            requests, p50, p99, errors = await load_with_wrk(url, api.token, connections, seconds)
        else:
            latencies, errors = await load(url, api.token, connections, seconds)
            requests = len(latencies)
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        elapsed = time.perf_counter() - started
        split = cpu.per_request_ms(requests)
        async with session.get(f"{api.base}/metrics") as response:
            after = server_totals(await response.text())
    server_ms = (after[0] - before[0]) / max(1.0, after[1] - before[1]) * 1000
    return Measurement(requests / elapsed, p50, p99, server_ms, errors, rss_mb(api.pid), split)
