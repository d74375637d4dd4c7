"""`GET /api/media/tags`: tag suggestions with counts."""

from __future__ import annotations

from aiohttp import web

from videolib.api import schemas
from videolib.api.keys import VIDEOS
from videolib.api.openapi import operation
from videolib.api.requests import query

routes = web.RouteTableDef()


@routes.get("/api/media/tags")
@operation(
    summary="Tags of valid videos with how many use each, filtered by prefix",
    query=schemas.TagsQuery,
    responses={200: schemas.TagList, 400: schemas.Error},
    tags=("tags",),
)
async def list_tags(request: web.Request) -> web.Response:
    q = query(request, schemas.TagsQuery)
    found = await request.app[VIDEOS].tags(q.prefix, q.limit)
    return web.json_response({"data": [{"tag": tag, "count": count} for tag, count in found]})
