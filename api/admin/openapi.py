"""OpenAPI entries of the admin routes whose answers are not JSON (the page, images)."""

from __future__ import annotations

from typing import Any

ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def binary_responses(content_type: str, description: str, *statuses: int) -> dict[str, Any]:
    """`extra` for `operation`: a 200 of `content_type`, a 304, and JSON errors."""
    responses: dict[str, Any] = {
        "200": {
            "description": description,
            "content": {content_type: {"schema": {"type": "string", "format": "binary"}}},
        },
        "304": {"description": "Not modified (If-None-Match matched the ETag)"},
    }
    responses.update({str(status): ERROR for status in statuses})
    responses["4XX"] = ERROR  # no `default`: a 5xx is never a documented answer
    return {"responses": responses}


#: The static route's `{name}` is a file name, not the UUID the generic rule assumes.
FILE_NAME_PARAMETER = {
    "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
}
