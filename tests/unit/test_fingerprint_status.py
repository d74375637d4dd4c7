"""Where a video's fingerprint stands, and how long a failure waits (pure, `now` given).

`retry_at` and `running` come from the video's pending job in the engine's queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from videolib.shared.db.repository import FingerprintState
from videolib.shared.fingerprints import MAX_RETRY_SECONDS, fingerprint_status, retry_delay

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
EARLIER = NOW - timedelta(minutes=5)


def state(**values: object) -> FingerprintState:
    base: dict[str, object] = {
        "video_id": uuid.UUID(int=1),
        "computed_at": None,
        "phash": None,
        "seconds": None,
        "algorithm": None,
        "attempts": 0,
        "error": None,
        "retry_at": None,
        "running": False,
    }
    return FingerprintState(**{**base, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({}, "pending"),  # no job yet (the backfill defers one)
        ({"retry_at": EARLIER}, "pending"),  # its job is queued
        ({"computed_at": EARLIER, "phash": -1, "seconds": 10}, "done"),
        ({"running": True, "retry_at": EARLIER}, "working"),  # a worker has the job
        ({"attempts": 1, "error": "x", "retry_at": LATER}, "retrying"),
        ({"attempts": 1, "error": "x", "retry_at": EARLIER}, "pending"),  # due again
        ({"attempts": 2, "error": "x", "retry_at": EARLIER, "running": True}, "working"),
        ({"attempts": 3, "error": "x", "retry_at": LATER}, "gaveUp"),
        ({"attempts": 4, "error": "x"}, "gaveUp"),
    ],
)
def test_fingerprint_status(values: dict[str, object], status: str) -> None:
    assert fingerprint_status(state(**values), max_attempts=3, now=NOW) == status


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 600.0), (2, 1200.0), (3, 2400.0), (8, 76800.0), (9, MAX_RETRY_SECONDS), (40, 86400.0)],
)
def test_retry_delay_doubles_up_to_a_day(attempts: int, seconds: float) -> None:
    assert retry_delay(attempts, 600.0) == seconds
