"""The OpenAPI document covers every route, and real responses match it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Client, insert_rows, row
from videolib.api.openapi import operation_of


async def document(client: Client, auth: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/media/openapi.json", headers=auth)
    assert response.status == 200
    return await response.json()  # type: ignore[no-any-return]


async def test_every_route_is_documented(client: Client, auth: dict[str, str]) -> None:
    doc = await document(client, auth)
    jsonschema.Draft202012Validator.check_schema(doc["components"]["schemas"]["Video"])
    for route in client.app.router.routes():
        if route.method == "HEAD":
            continue
        assert operation_of(route) is not None, route
        path = route.resource.canonical  # type: ignore[union-attr]
        assert route.method.lower() in doc["paths"][path], (route.method, path)
    listing = doc["paths"]["/api/media/videos"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"limit", "isValid", "search", "sort"}


def check(doc: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    """Validate a response body against the document's schema for that route and status."""
    responses = doc["paths"][path][method]["responses"]
    assert "default" not in responses, (method, path)  # it would make a 500 a match
    declared = responses.get(str(status)) or responses.get(f"{status // 100}XX")
    assert declared is not None, f"{method} {path}: {status} is not a documented answer"
    media = declared["content"]["application/json"]
    schema = {**media["schema"], "components": doc["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


async def test_real_responses_match_the_document(
    client: Client, auth: dict[str, str], engine: AsyncEngine, video_file: Path
) -> None:
    doc = await document(client, auth)
    await insert_rows(
        engine, row("videos/a.mp4", tags=["x"]), row("videos/b.mp4", file_hash="videos/a.mp4")
    )
    calls: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("get", "/api/media/videos", "/api/media/videos?limit=5", None),
        ("get", "/api/media/videos", "/api/media/videos?limit=500", None),
        ("post", "/api/media/videos", "/api/media/videos", {"path": "videos/clip.mp4"}),
        ("get", "/api/media/videos/duplicates", "/api/media/videos/duplicates", None),
        ("get", "/api/media/tags", "/api/media/tags", None),
        ("post", "/api/media/videos/scan", "/api/media/videos/scan", {"directoryType": "gifs"}),
        ("post", "/api/media/videos/scan", "/api/media/videos/scan",
         {"directoryType": "gifs", "async": True}),
        ("get", "/healthz", "/healthz", None),
        ("get", "/readyz", "/readyz", None),
    ]  # fmt: skip
    created: dict[str, Any] = {}
    for method, template, url, body in calls:
        response = await client.request(method, url, json=body, headers=auth)
        payload = await response.json()
        check(doc, method, template, response.status, payload)
        if template == "/api/media/videos" and method == "post":
            created = payload
    video_id = created["id"]
    for method, template, body in (
        ("get", "/api/media/videos/{id}", None),
        ("put", "/api/media/videos/{id}", {"tags": ["t"]}),
        ("post", "/api/media/videos/{id}/validate", None),
        ("delete", "/api/media/videos/{id}", None),
        ("post", "/api/media/videos/{id}/restore", None),
    ):
        url = re.sub(r"\{id\}", video_id, template)
        response = await client.request(method, url, json=body, headers=auth)
        check(doc, method, template, response.status, await response.json())
    bulk = await client.post(
        "/api/media/videos/bulk", json={"ids": [video_id], "action": "validate"}, headers=auth
    )
    check(doc, "post", "/api/media/videos/bulk", bulk.status, await bulk.json())


async def test_a_500_is_never_a_documented_answer(client: Client, auth: dict[str, str]) -> None:
    doc = await document(client, auth)
    crash = {"error": "internal_error", "message": "unexpected error", "requestId": "x-1"}
    for path, methods in doc["paths"].items():
        for method in methods:
            with pytest.raises(AssertionError, match="500 is not a documented answer"):
                check(doc, method, path, 500, crash)
    check(doc, "get", "/api/media/videos", 418, crash)  # a client error: the 4XX entry
