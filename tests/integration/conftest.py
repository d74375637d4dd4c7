"""Fixtures shared by the integration tests that start real `videolib worker` processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_jobs import WorkerProcess


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """The worker processes a test starts; each is stopped (SIGTERM, then SIGKILL) after it."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
