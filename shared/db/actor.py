"""Who is changing the library, as the database's history trigger reads it.

The `video_events` trigger (migration 0012) records every change of a `videos` row with the
value of the `videolib.actor` setting. Each process sets its own name on every connection
it opens (`daemon`, `cli`, `api`: `set_process_actor`); an admin's request sets the token's
`sub` for its own transactions (`acting_as`), which tasks started by the request (an
asynchronous scan) inherit, as asyncio copies the context into them.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

#: The setting the trigger reads (a custom setting needs a dotted name).
SETTING = "videolib.actor"

_process_actor = "unknown"
_request_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "videolib_actor", default=None
)
_SET_LOCAL = text("SELECT set_config('videolib.actor', :actor, true)")


def set_process_actor(name: str) -> None:
    """The name this process's connections carry (call before opening the engine)."""
    global _process_actor
    _process_actor = name


def process_actor() -> str:
    return _process_actor


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Transactions begun inside (and in tasks started inside) are recorded as `actor`."""
    token = _request_actor.set(actor)
    try:
        yield
    finally:
        _request_actor.reset(token)


def set_request_actor(actor: str) -> None:
    """As `acting_as`, for the rest of the current context (a request's middleware)."""
    _request_actor.set(actor)


def install(engine: AsyncEngine) -> None:
    """Name the request's actor at the start of each transaction that has one.

    Only then: a read-only request or the daemon pays no extra round trip, their
    connections already carry the process's name (engine.py's server settings).
    """
    event.listen(engine.sync_engine, "begin", _name_the_actor)


def _name_the_actor(connection: Any) -> None:
    actor = _request_actor.get()
    if actor is not None:
        connection.execute(_SET_LOCAL, {"actor": actor})
