"""A background loop that fails, in a real daemon: logged, counted, restarted, given up."""

from __future__ import annotations

import asyncio
import functools
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from tests.daemon.harness import eventually, fast, listed, running_service
from tests.media import make_video
from videolib.daemon import main, supervision
from videolib.daemon.debounce import Debouncer
from videolib.daemon.scheduler import Scheduler
from videolib.daemon.supervision import LoopFailedError, RestartPolicy
from videolib.shared.config import Config
from videolib.shared.db.engine import open_engine
from videolib.shared.runtime import examiner_pool
from videolib.shared.systemd import Notifier

QUICK = RestartPolicy(first_delay_s=0.05, max_delay_s=0.2, max_crashes=3, window_s=60.0)


def crash_count(exposition: str, loop: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "videolib_daemon_loop_crashes_total" and (
                sample.labels.get("loop") == loop
            ):
                return sample.value
    raise AssertionError(f"no crash series for {loop}")


async def scrape(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


class BrokenStat:
    """Makes the tick loop's stat step raise the first `times` calls (or always)."""

    def __init__(self, debouncer: Debouncer, times: int | None) -> None:
        self.real, self.left, self.calls = debouncer.to_stat, times, 0

    def __call__(self) -> list[str]:
        self.calls += 1
        if self.left is None or self.left > 0:
            self.left = None if self.left is None else self.left - 1
            raise RuntimeError("stat table broken")
        return self.real()


async def test_a_crashed_loop_is_logged_counted_and_restarted(
    config: Config, database_url: URL, engine: AsyncEngine, library_root: Path, tmp_path: Path
) -> None:
    original = make_video(tmp_path / "after.mp4", seconds=0.5)
    async with running_service(fast(config), database_url, restarts=QUICK) as service:
        assert service.metrics_port is not None
        with capture_logs() as logs:
            broken = BrokenStat(service.debouncer, times=2)
            service.debouncer.to_stat = broken  # type: ignore[method-assign]
            await eventually(lambda: _after(broken.calls > 3), 10, "the tick to run again")
        # The tick works again: a drop is settled and recorded.
        shutil.copyfile(original, library_root / "videos" / "after.mp4")
        await listed(engine, "videos/after.mp4", timeout=15)
        status, text = await scrape(service.metrics_port, "/metrics")
        assert status == 200
        assert crash_count(text, "tick") == 2
        assert crash_count(text, "reconciler") == 0
        assert (await scrape(service.metrics_port, "/readyz"))[0] == 200
    crashed = [e for e in logs if e["event"] == "loop_crashed"]
    assert [(e["loop"], e["exc_info"]) for e in crashed] == [("tick", True)] * 2


async def _after(value: bool) -> bool:
    return value


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(tmp_path / "notify"))
    receiver.setblocking(False)
    yield receiver
    receiver.close()


def received(receiver: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(receiver.recv(256).decode())
        except BlockingIOError:
            return messages


async def test_a_loop_that_keeps_failing_stops_readiness_watchdog_and_the_daemon(
    config: Config, database_url: URL, tmp_path: Path, notify_socket: socket.socket
) -> None:
    notifier = Notifier(str(tmp_path / "notify"), watchdog_usec=100_000)  # a ping every 50 ms
    config = fast(config)
    async with open_engine(database_url, pool_size=8) as engine, examiner_pool(config) as pool:
        service = Scheduler(config, engine, pool, notifier=notifier, restarts=QUICK)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await eventually(lambda: _after(service.reconciled >= 1), 30, "the daemon to start")
        assert service.metrics_port is not None
        assert (await scrape(service.metrics_port, "/readyz"))[0] == 200
        await eventually(lambda: _after("WATCHDOG=1" in received(notify_socket)), 5, "a ping")
        # At the give-up: what was sent until then, and the readiness from then on.
        before: list[str] = []
        readiness: list[tuple[bool, str]] = []
        give_up = service.supervisor._on_give_up

        def at_give_up(failure: LoopFailedError) -> None:
            before.extend(received(notify_socket))
            give_up(failure)
            readiness.append(service.readiness())

        service.supervisor._on_give_up = at_give_up
        with capture_logs() as logs:
            service.debouncer.to_stat = BrokenStat(service.debouncer, None)  # type: ignore[method-assign]
            with pytest.raises(LoopFailedError) as failed:
                await asyncio.wait_for(task, 10)
        assert "WATCHDOG=1" in before  # it did ping until then
        [(ready, reason)] = readiness
        assert not ready and "tick" in reason and "stat table broken" in reason
        # No watchdog ping after the give-up (systemd would restart a daemon stuck exiting).
        assert received(notify_socket) == ["STOPPING=1"]
        assert failed.value.loop == "tick" and failed.value.crashes == 3
        assert service.metrics.loop_crashes.labels("tick")._value.get() == 3
        events = [e["event"] for e in logs]
        assert events.count("loop_crashed") == 3
        assert "loop_failed_repeatedly" in events


async def test_the_daemon_exits_non_zero_when_a_loop_keeps_failing(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_self: Debouncer) -> list[str]:
        raise RuntimeError("stat table broken")

    monkeypatch.setattr(Debouncer, "to_stat", broken)
    monkeypatch.setattr(
        supervision, "RestartPolicy", functools.partial(RestartPolicy, first_delay_s=0.05)
    )
    code = await asyncio.wait_for(main.serve(fast(config), {}), 30)
    assert code == main.EXIT_LOOP_FAILED != 0


async def test_a_stop_during_the_first_reconciliation_ends_the_daemon(
    config: Config, database_url: URL
) -> None:
    # A cancellation inside a transaction (here the pass's directory-lock query) can surface
    # as a database error; the reconciler used to log it as a failed pass and wait out its
    # interval (600 s) instead of stopping. systemd saw a stop that never ended.
    config = fast(config)
    async with examiner_pool(config) as pool:
        for attempt in range(8):  # the stop must land mid-query: vary the moment
            async with open_engine(database_url, pool_size=8) as engine:  # cold, as at start
                service = Scheduler(config, engine, pool, restarts=QUICK)
                stop = asyncio.Event()
                task = asyncio.create_task(service.run(stop))
                await eventually(functools.partial(_first_pass_running, service), 30, "start")
                await asyncio.sleep(0.002 * attempt)
                stop.set()
                await asyncio.wait_for(task, 15)  # not the reconcile interval


async def _first_pass_running(service: Scheduler) -> bool:
    return service.watching
