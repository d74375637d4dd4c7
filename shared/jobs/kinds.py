"""A task kind: a name (the engine's entrypoint), the queue it runs on, and its function."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .resources import WorkerResources


class RetryLater(Exception):
    """Raised by a job to be tried again after `delay`; the engine re-queues it."""

    def __init__(self, reason: str, delay: timedelta) -> None:
        super().__init__(reason)
        self.reason, self.delay = reason, delay


class GaveUp(Exception):
    """Raised by a job on its last try: the engine records it failed and stops."""


@dataclass(frozen=True, slots=True)
class JobCall:
    """What a job function is given: its payload, and which try this is (0 is the first)."""

    payload: dict[str, Any]
    attempt: int
    job_id: int = 0
    key: uuid.UUID = field(default_factory=uuid.uuid4)


JobFunction = Callable[["WorkerResources", JobCall], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TaskKind:
    name: str
    queue: str
    run: JobFunction
    #: A cron expression: the worker holding the engine's schedule runs it then, with {}.
    schedule: str | None = None
