"""Reading a request's parts into typed values: path ids, query strings, JSON bodies."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from videolib.api.schemas import BadRequestError, UnsupportedMediaTypeError, parse
from videolib.api.text import MAX_PATH, text_problem

Model = TypeVar("Model", bound=BaseModel)


def path_id(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID from the path; 400 for a malformed one (not 404: the caller's mistake)."""
    raw = path_text(request, name)
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise BadRequestError(f"{name}: not a UUID: {raw[:64]!r}") from None


def path_text(request: web.Request, name: str) -> str:
    """A path parameter as text, held to the rules of every text input (api/text.py)."""
    raw = request.match_info[name]
    problem = text_problem(raw) or (
        f"longer than {MAX_PATH} characters" if len(raw) > MAX_PATH else None
    )
    if problem is not None:
        raise BadRequestError(f"{name}: {problem}")
    return raw


def query(request: web.Request, model: type[Model]) -> Model:
    # The last value of a repeated parameter wins, as in most frameworks.
    return parse(model, {key: request.query.getall(key)[-1] for key in request.query})


def is_json(content_type: str) -> bool:
    """application/json or a +json type (application/merge-patch+json and the like)."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def body(request: web.Request, model: type[Model]) -> Model:
    """The JSON body as a model. Too large: aiohttp's 413 (client_max_size); a body of
    another content type: 415 (a form post must not be read as JSON by accident)."""
    if request.body_exists and not is_json(request.content_type):
        raise UnsupportedMediaTypeError(
            f"body: Content-Type {request.content_type!r}: send application/json"
        )
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
