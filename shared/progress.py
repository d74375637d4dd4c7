"""Progress on a terminal (a tqdm bar) or in a log file (a plain line every few seconds)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class ProgressReporter:
    """Shows how far a long job is; call ``update`` as often as you like."""

    def __init__(
        self,
        description: str,
        total: int = 0,
        stream: TextIO | None = None,
        interval_s: float = 2.0,
    ) -> None:
        self.stream = stream or sys.stderr
        self.description = description
        self.interval_s = interval_s
        self._last_line = 0.0
        self._bar = (
            tqdm(total=total, desc=description, unit="file", file=self.stream, leave=True)
            if self.stream.isatty()
            else None
        )
        self.total = total

    def update(self, done: int, total: int | None = None, **counts: int) -> None:
        if total is not None:
            self.total = total
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.n = done
            self._bar.set_postfix(counts, refresh=False)
            self._bar.refresh()
            return
        now = time.monotonic()
        if now - self._last_line >= self.interval_s or (self.total and done >= self.total):
            self._last_line = now
            fields = " ".join(f"{k}={v}" for k, v in counts.items())
            print(
                f"{self.description}: {done}/{self.total} {fields}".rstrip(),
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
