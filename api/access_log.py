"""aiohttp's access log as one structured event per request (`http_request`), not text.

aiohttp's default access logger writes an Apache-style line; ours writes the same facts as
fields of a structlog event, so the API's stderr stays one JSON line per record.
"""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from videolib.api.middlewares import REQUEST_ID
from videolib.shared.logging import get_logger

log = get_logger("aiohttp.access")


class AccessLogger(AbstractAccessLogger):
    """`http_request` with method, path, status, size, seconds, remote and request id."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        log.info(
            "http_request",
            method=request.method,
            path=request.path,
            status=response.status,
            bytes=response.body_length,
            seconds=round(time, 6),
            remote=request.remote,
            request_id=request.get(REQUEST_ID),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
