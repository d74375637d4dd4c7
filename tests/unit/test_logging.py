"""Which format the log stream takes: pure, no terminal needed."""

from __future__ import annotations

import pytest

from videolib.shared.logging import use_console


@pytest.mark.parametrize(
    ("fmt", "on_terminal", "environ", "console"),
    [
        ("auto", True, {}, True),  # a person at a terminal
        ("auto", False, {}, False),  # a pipe, a file, a container's log
        ("auto", True, {"JOURNAL_STREAM": "8:12345"}, False),  # systemd's journal
        ("auto", False, {"JOURNAL_STREAM": "8:12345"}, False),
        ("json", True, {}, False),  # an explicit choice wins
        ("console", False, {"JOURNAL_STREAM": "8:1"}, True),
    ],
)
def test_use_console(fmt: str, on_terminal: bool, environ: dict[str, str], console: bool) -> None:
    assert use_console(fmt, on_terminal, environ) is console
