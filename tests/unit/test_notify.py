"""sd_notify never blocks the daemon's event loop, even when nobody reads the socket."""

from __future__ import annotations

import socket
from pathlib import Path

from videolib.shared.systemd import Notifier


def test_a_full_notify_socket_drops_messages_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))  # never read: its queue fills up
        notifier = Notifier(str(path))
        sent = [notifier.watchdog() for _ in range(200)]  # blocked for ever on old main
        assert sent[0] is True
        assert sent.count(False) > 0  # dropped once the queue was full
        receiver.setblocking(False)
        assert receiver.recv(64) == b"WATCHDOG=1"
