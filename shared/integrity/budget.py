"""The verification budget: a daily window and a read rate, as pure decisions.

Nothing here reads a clock: callers pass `now` (wall clock, local time, for the window;
a monotonic reading for the pacing), so every rule is tested with a table of cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

#: Bytes in the MB of `integrity.rate_mb_per_second` (SI, as disks and NAS vendors count).
MB = 1_000_000
#: How far the pacing may fall behind and then catch up at full speed (one slow read, say
#: a disk spinning up, is made good; an hour's pause in a closed window is not).
CATCH_UP_S = 1.0

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Window:
    """A daily window of local time, start inclusive, end exclusive; may wrap midnight.

    `start == end` never happens (parse refuses it); `always()` has no bounds.
    """

    start: time | None = None
    end: time | None = None

    @classmethod
    def always(cls) -> Window:
        return cls()

    @classmethod
    def parse(cls, text: str) -> Window:
        """ "01:00-06:00" (or "22:00-04:00", across midnight); "" is always open.

        Raises ValueError saying what is wrong (the config names the key).
        """
        if not text.strip():
            return cls.always()
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError('expected "HH:MM-HH:MM" (local time), or "" for always')
        hours_start, minutes_start, hours_end, minutes_end = (int(g) for g in match.groups())
        try:
            start, end = time(hours_start, minutes_start), time(hours_end, minutes_end)
        except ValueError:
            raise ValueError("hours are 0-23 and minutes 0-59") from None
        if start == end:
            raise ValueError('start and end are the same; use "" for always')
        return cls(start, end)

    def is_open(self, now: datetime) -> bool:
        if self.start is None or self.end is None:
            return True
        at = now.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end  # across midnight

    def seconds_until_open(self, now: datetime) -> float:
        """0 while open; else the seconds until the window next opens."""
        if self.start is None or self.is_open(now):
            return 0.0
        opens = datetime.combine(now.date(), self.start, tzinfo=now.tzinfo)
        if opens <= now:
            opens += _DAY
        return (opens - now).total_seconds()

    def __str__(self) -> str:
        if self.start is None or self.end is None:
            return "always"
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def next_read_at(scheduled: float, now: float, read_bytes: int, rate_bytes_s: float) -> float:
    """When the next read may start, after `read_bytes` were read at `now`.

    `scheduled` is the previous answer (or `now` at the start). Virtual scheduling (GCRA):
    each byte costs 1/rate seconds of schedule, so over a run the bytes read divided by
    the time taken is the rate, whatever the chunk sizes. A schedule that fell more than
    CATCH_UP_S behind (a slow read, a pause) is moved up first, so a pause never turns
    into a burst above the rate.
    """
    return max(scheduled, now - CATCH_UP_S) + read_bytes / rate_bytes_s


def pacing_schedule(
    chunks: list[int], rate_bytes_s: float, read_seconds: float = 0.0
) -> list[float]:
    """The start time of each read of `chunks` (bytes) from 0, with reads of `read_seconds`.

    A model of the pacing loop (read, then wait until `next_read_at`), for the rate's tests
    and the bench: the achieved rate is sum(chunks) / the time after the last read.
    """
    now, scheduled, starts = 0.0, 0.0, []
    for size in chunks:
        now = max(now, scheduled)
        starts.append(now)
        now += read_seconds
        scheduled = next_read_at(scheduled, now, size, rate_bytes_s)
    starts.append(max(now, scheduled))  # when the reader is free for the next file
    return starts


def cycle_due_in(last_started: datetime | None, now: datetime, interval: timedelta) -> float:
    """Seconds until a new full cycle may start: cycles start at most once per interval."""
    if last_started is None:
        return 0.0
    return max(0.0, (last_started + interval - now).total_seconds())
