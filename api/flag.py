"""The ENABLE_MEDIA_FEATURES switch: config default, the settings row wins when present."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from videolib.shared.errors import DatabaseUnavailableError
from videolib.shared.logging import get_logger

log = get_logger(__name__)

SETTING_KEY = "ENABLE_MEDIA_FEATURES"
#: How long a value read from the settings table is trusted: an admin's switch takes
#: effect within this many seconds, without a query per request.
REFRESH_S = 5.0
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class FeatureFlag:
    """Whether media routes are enabled, re-read from the settings row at most every 5 s."""

    def __init__(
        self,
        default: bool,
        read_setting: Callable[[str], Awaitable[str | None]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = default
        self._read = read_setting
        self._clock = clock
        self._value = default
        self._read_at: float | None = None

    async def enabled(self) -> bool:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= REFRESH_S:
            self._read_at = now
            self._value = await self._current()
        return self._value

    async def _current(self) -> bool:
        try:
            raw = await self._read(SETTING_KEY)
        except DatabaseUnavailableError:
            # Keep the last known value: a database blip must not flip the API off.
            return self._value
        if raw is None:
            return self.default
        value = raw.strip().lower()
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        log.warning("feature_flag_unreadable", key=SETTING_KEY, value=raw)
        return self.default
