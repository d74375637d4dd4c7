"""Reading a request's parts into typed values: path ids, query strings, JSON bodies."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from videolib.api.schemas import BadRequestError, parse

Model = TypeVar("Model", bound=BaseModel)


def path_id(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID from the path; 400 for a malformed one (not 404: the caller's mistake)."""
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise BadRequestError(f"{name}: not a UUID: {raw[:64]!r}") from None


def query(request: web.Request, model: type[Model]) -> Model:
    # The last value of a repeated parameter wins, as in most frameworks.
    return parse(model, {key: request.query.getall(key)[-1] for key in request.query})


async def body(request: web.Request, model: type[Model]) -> Model:
    """The JSON body as a model. Too large: aiohttp's 413 (client_max_size)."""
    raw = await request.read()
    if not raw:
        raise BadRequestError("body: a JSON object is required")
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequestError(f"body: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadRequestError("body: a JSON object is required")
    return parse(model, data)
