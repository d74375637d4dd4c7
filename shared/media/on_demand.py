"""Media work the API does for one request, in worker processes: a frame, a file's codecs.

One small pool (shared/media/workers.py) serves both kinds, so a file that hangs or crashes
the decoder costs a worker, never the API process. Items are frozen dataclasses; the job
function dispatches on their type.
"""

from __future__ import annotations

from dataclasses import dataclass

import av.error

from videolib.shared.media.frames import FrameResult, write_frame_at
from videolib.shared.media.playable import PlaybackFacts
from videolib.shared.media.playback_facts import read_playback_facts
from videolib.shared.media.workers import WorkerCrashed, WorkerPool, WorkerTimedOut


@dataclass(frozen=True, slots=True)
class FrameAt:
    """Write the frame at `position` (share of the duration) of `source` to `target`."""

    source: str
    target: str
    position: float
    width: int


@dataclass(frozen=True, slots=True)
class CodecsOf:
    """Read the container and codecs of `source`."""

    source: str


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Why a file's codecs could not be read."""

    reason: str


OnDemandResult = FrameResult | PlaybackFacts | Unreadable


def run_on_demand(item: FrameAt | CodecsOf, settings: object) -> OnDemandResult:
    """The worker's job (top-level, so it pickles by name); never raises for a bad file."""
    if isinstance(item, FrameAt):
        return write_frame_at(item.source, item.target, item.position, item.width)
    try:
        return read_playback_facts(item.source)
    except (av.error.FFmpegError, OSError, ValueError, EOFError) as error:
        return Unreadable(getattr(error, "strerror", None) or str(error) or type(error).__name__)


class OnDemandPool(WorkerPool[OnDemandResult]):
    """Workers start on first use, not with the API: most processes never need one."""

    def __init__(self, workers: int, time_limit_s: float) -> None:
        super().__init__(workers, run_on_demand, None, time_limit_s, name="videolib-on-demand")

    async def frame_at(self, source: str, target: str, position: float, width: int) -> FrameResult:
        """Write one frame as a JPEG; a lost worker becomes the result's error."""
        result = await self._lost_worker_as_error(FrameAt(source, target, position, width))
        if isinstance(result, Unreadable):
            return FrameResult(error=result.reason)
        assert isinstance(result, FrameResult)
        return result

    async def codecs_of(self, source: str) -> PlaybackFacts | Unreadable:
        result = await self._lost_worker_as_error(CodecsOf(source))
        assert not isinstance(result, FrameResult)
        return result

    async def _lost_worker_as_error(self, item: FrameAt | CodecsOf) -> OnDemandResult:
        try:
            return await self.run(item)
        except WorkerCrashed as crash:
            return Unreadable(f"the decoder crashed ({crash.status})")
        except WorkerTimedOut as timeout:
            return Unreadable(f"the decoder timed out after {timeout.time_limit_s:g} s")
