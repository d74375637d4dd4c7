"""Totals of listings, remembered for a few seconds per filter set.

Counting 100,000 matching rows costs more than the page itself (milliseconds against well
under one); the pages of one listing share a filter set, so the total is counted once and
reused while the user pages or polls. A total may lag the table by up to `TTL_S`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

TTL_S = 5.0
MAX_ENTRIES = 1024  # filter sets remembered; the least recently used is forgotten first


class CountCache:
    def __init__(
        self, ttl_s: float = TTL_S, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def get(self, key: Hashable) -> int | None:
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] >= self.ttl_s:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Hashable, total: int) -> None:
        self._entries[key] = (self._clock(), total)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every total (after a write that changes what listings count)."""
        self._entries.clear()
