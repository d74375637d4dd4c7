"""systemd `Type=notify` support: READY=1, WATCHDOG=1, STOPPING=1 over $NOTIFY_SOCKET.

Harmless when not under systemd (no socket: every call does nothing). The environment is
passed in by the caller, as everything else in videolib reads no environment on its own.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping


class Notifier:
    """Sends sd_notify messages; a no-op without a notify socket."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        # An address starting with "@" is in the abstract namespace (sd_notify(3)).
        self.address = "\0" + address[1:] if address and address.startswith("@") else address
        #: How often to send WATCHDOG=1: half the unit's WatchdogSec, or None when unset.
        self.watchdog_interval_s = watchdog_usec / 2e6 if watchdog_usec else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Notifier:
        usec = environ.get("WATCHDOG_USEC", "")
        return cls(environ.get("NOTIFY_SOCKET") or None, int(usec) if usec.isdigit() else None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, message: str) -> bool:
        """Send one message ("READY=1"); False when not under systemd or it failed."""
        if self.address is None:
            return False
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            # Never wait: a receiver whose queue is full (10 datagrams by default) would
            # block the whole event loop, and a leader whose loop stalls loses its lease.
            s.setblocking(False)
            s.connect(self.address)
            s.sendall(message.encode())
            return True
        return False

    def ready(self) -> bool:
        return self.notify("READY=1")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
