"""The OpenAPI 3.1 document, built from the routes' own declarations and pydantic schemas.

Each handler is decorated with `@operation(...)`, naming its query model, body model and
responses; `build_document(app)` walks the router, so a route cannot be served without
being documented (tests/api/test_openapi.py checks every route has a declaration).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from videolib.api import schemas

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__openapi__"
REF = "#/components/schemas/{model}"
_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class TextBody:
    """A response body that is text of another media type than text/plain (CSV)."""

    media_type: str
    description: str


@dataclass(frozen=True)
class Operation:
    summary: str
    #: status -> a model (JSON), a JSON schema (dict), a description of a text body (str),
    #: or a text body of another media type (TextBody).
    responses: dict[int, type[BaseModel] | dict[str, Any] | str | TextBody]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    #: A body that is not JSON (multipart upload): content type -> schema.
    raw_body: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()
    public: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def operation(**kwargs: Any) -> Callable[[F], F]:
    """Declare what a handler takes and answers, for the OpenAPI document."""

    def mark(handler: F) -> F:
        setattr(handler, ATTRIBUTE, Operation(**kwargs))
        return handler

    return mark


def operation_of(route: web.AbstractRoute) -> Operation | None:
    return getattr(route.handler, ATTRIBUTE, None)


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    components.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
        for name in _PARAMETER.findall(path)
    ]


def _response(target: type[BaseModel] | dict[str, Any] | str | TextBody) -> dict[str, Any]:
    if isinstance(target, str):  # a plain-text body (metrics)
        return {"description": target, "content": {"text/plain": {"schema": {"type": "string"}}}}
    if isinstance(target, TextBody):
        content = {target.media_type: {"schema": {"type": "string"}}}
        return {"description": target.description, "content": content}
    if isinstance(target, dict):
        return {"description": "JSON", "content": {"application/json": {"schema": target}}}
    return {
        "description": (target.__doc__ or target.__name__).strip().splitlines()[0],
        "content": {"application/json": {"schema": {"$ref": REF.format(model=target.__name__)}}},
    }


def _operation(path: str, op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags)}
    parameters = _path_parameters(path)
    if op.query is not None:
        parameters += _query_parameters(op.query, components)
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        ref = {"$ref": REF.format(model=op.body.__name__)}
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref}},
        }
    elif op.raw_body is not None:
        document["requestBody"] = {"required": True, "content": op.raw_body}
    responses = {str(status): _response(target) for status, target in op.responses.items()}
    if not op.public:
        responses.setdefault("401", _response(schemas.Error))
        responses.setdefault("403", _response(schemas.Error))
        responses.setdefault("503", _response(schemas.Error))
        document["security"] = [{"bearer": []}]
    else:
        document["security"] = []
    # Any other client error is the same JSON error; no `default`, so an undocumented 5xx
    # (a 500 above all) never passes as a documented answer.
    responses.setdefault("4XX", _response(schemas.Error))
    document["responses"] = responses
    document.update(op.extra)
    return document


def _models(operations: list[Operation]) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = {schemas.Error}
    for op in operations:
        found.update(t for t in op.responses.values() if isinstance(t, type))
        if op.body is not None:
            found.add(op.body)
    return found


def build_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every documented route of the app."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    operations: list[Operation] = []
    for route in app.router.routes():
        op = operation_of(route)
        if op is None or route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource is not None else ""
        paths.setdefault(path, {})[route.method.lower()] = _operation(path, op, components)
        operations.append(op)
    models = sorted(_models(operations), key=lambda m: m.__name__)
    _, definitions = models_json_schema(
        [(model, "validation") for model in models], by_alias=True, ref_template=REF
    )
    components.update(definitions.get("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "videolib admin API", "version": "1"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
