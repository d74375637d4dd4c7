"""`/api/media/cleanup`: invalid videos by reason and age, a dry run, then trash and drop."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from videolib.api import schemas
from videolib.api.keys import TRASH
from videolib.api.openapi import operation
from videolib.api.requests import body, query
from videolib.api.serialize import video_json
from videolib.shared.cleanup import Cleanup, ItemReport, Seen, Selection
from videolib.shared.db.repository import CLEANUP_LIMIT

routes = web.RouteTableDef()
TAGS = ("maintenance",)


@routes.get("/api/media/cleanup")
@operation(
    summary="Dry run: invalid videos by reason and age, with their sizes (changes nothing)",
    query=schemas.CleanupQuery,
    responses={200: schemas.CleanupPreview, 400: schemas.Error},
    tags=TAGS,
)
async def preview(request: web.Request) -> web.Response:
    q = query(request, schemas.CleanupQuery)
    selection = Selection(tuple(q.reasons), q.older_than_days)
    candidates = await Cleanup(request.app[TRASH]).preview(selection)
    data = [{"video": video_json(c.video), "onDisk": c.on_disk, "size": c.size} for c in candidates]
    return web.json_response(
        {
            "data": data,
            "count": len(data),
            "totalBytes": sum(c.size or 0 for c in candidates),
            "truncated": len(data) >= CLEANUP_LIMIT,
        }
    )


@routes.post("/api/media/cleanup")
@operation(
    summary=(
        "Apply a dry run: move the listed videos' files to the trash and drop their records; "
        "a record changed since the list is skipped"
    ),
    body=schemas.CleanupRequest,
    responses={200: schemas.CleanupReport, 400: schemas.Error, 413: schemas.Error},
    tags=TAGS,
)
async def apply(request: web.Request) -> web.Response:
    given = await body(request, schemas.CleanupRequest)
    selection = Selection(tuple(given.reasons), given.older_than_days)
    seen = list({i.id: Seen(i.id, i.updated_at) for i in given.items}.values())
    reports = await Cleanup(request.app[TRASH]).apply(selection, seen)
    return web.json_response(report_json(reports))


def report_json(reports: list[ItemReport]) -> dict[str, Any]:
    """The clean-up's report: counts by outcome, the bytes trashed, one line per record."""
    counts = {
        o: sum(r.outcome == o for r in reports) for o in ("trashed", "dropped", "skipped", "failed")
    }
    return {
        **counts,
        "trashedBytes": sum(r.size or 0 for r in reports if r.outcome == "trashed"),
        "items": [
            {
                "id": str(r.id),
                "outcome": r.outcome,
                "path": r.path,
                "trashPath": r.trash_path,
                "size": r.size,
                "reason": r.reason,
            }
            for r in reports
        ],
    }
