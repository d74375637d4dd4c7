"""The leader's pure rules: which statements the fence checks, how long a check may take."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from videolib.daemon.leadership import check_timeout_s
from videolib.shared.config import LeaderConfig
from videolib.shared.db.repository.leader import (
    DAEMON_SESSION_PREFIX,
    daemon_session_name,
    is_write,
)


def compiled(kind: str | None) -> SimpleNamespace:
    flags = {"isinsert": False, "isupdate": False, "isdelete": False}
    if kind:
        flags[kind] = True
    return SimpleNamespace(**flags)


@pytest.mark.parametrize(
    ("statement", "context", "writes"),
    [
        ("SELECT 1", compiled(None), False),
        ("  select epoch FROM daemon_leader FOR SHARE", None, False),
        ("INSERT INTO videos ...", compiled("isinsert"), True),
        ("UPDATE videos SET ...", compiled("isupdate"), True),
        ("DELETE FROM videos ...", compiled("isdelete"), True),
        ("\n  insert into settings VALUES ('a', 'b')", None, True),  # text(): no flags
        ("update settings SET value = 'x'", None, True),
        ("WITH gone AS (DELETE FROM videos RETURNING id) SELECT count(*) FROM gone", None, True),
        ("MERGE INTO videos USING ...", None, True),
        ("COPY videos FROM STDIN", None, True),
        ("TRUNCATE videos", None, True),
        ("SELECT pg_try_advisory_lock(1)", None, False),
    ],
)
def test_which_statements_the_fence_checks(statement: str, context: object, writes: bool) -> None:
    assert is_write(statement, context) is writes


@pytest.mark.parametrize(
    ("check", "lease", "timeout"),
    [
        (1.0, 5.0, 1.0),  # the defaults: a check answers within its interval
        (2.0, 6.0, 2.0),  # lease exactly 3 checks
        (0.1, 5.0, 0.5),  # never below half a second: a loaded server answers late
        (3.0, 30.0, 3.0),
    ],
)
def test_a_check_times_out_within_one_interval_and_a_third_of_the_lease(
    check: float, lease: float, timeout: float
) -> None:
    assert check_timeout_s(LeaderConfig(check_seconds=check, lease_seconds=lease)) == timeout


def test_session_names_fit_postgres_and_differ_per_daemon() -> None:
    names = {daemon_session_name() for _ in range(20)}
    assert len(names) == 20  # two daemons of one process differ too
    assert all(n.startswith(DAEMON_SESSION_PREFIX) and len(n.encode()) <= 63 for n in names)
