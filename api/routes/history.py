"""`/api/media/videos/{id}/history`: what happened to a video, newest first."""

from __future__ import annotations

from aiohttp import web

from videolib.api import schemas
from videolib.api.keys import HISTORY, VIDEOS
from videolib.api.openapi import operation
from videolib.api.requests import path_id, query
from videolib.api.serialize import page_json
from videolib.shared.db.repository import VideoEvent
from videolib.shared.db.video_json import timestamp
from videolib.shared.errors import NotFoundError

routes = web.RouteTableDef()
TAGS = ("videos",)


@routes.get("/api/media/videos/{id}/history")
@operation(
    summary="A video's history, newest first: kept after a permanent delete",
    query=schemas.PageQuery,
    responses={200: schemas.VideoHistory, 400: schemas.Error, 404: schemas.Error},
    tags=TAGS,
)
async def video_history(request: web.Request) -> web.Response:
    video_id = path_id(request)
    q = query(request, schemas.PageQuery)
    events, total = await request.app[HISTORY].page(video_id, q.page, q.limit)
    if total == 0 and await request.app[VIDEOS].get(video_id) is None:
        raise NotFoundError(f"{video_id}: no such video, and no history of one")
    data = [event_json(event) for event in events]
    return web.json_response(page_json(data, q.page, q.limit, total))


def event_json(event: VideoEvent) -> dict[str, object]:
    return {
        "id": event.id,
        "videoId": str(event.video_id),
        "occurredAt": timestamp(event.occurred_at),
        "actor": event.actor,
        "kind": event.kind,
        "changes": event.changes,
    }
