"""Near-duplicates: `/videos/{id}/similar` and the groups of `/videos/near-duplicates`."""

from __future__ import annotations

from aiohttp import web

from videolib.api import schemas
from videolib.api.keys import NEAR_DUPLICATES, VIDEOS
from videolib.api.openapi import operation
from videolib.api.requests import query
from videolib.api.routes.videos import existing
from videolib.api.serialize import (
    match_json,
    near_duplicate_group_json,
    near_duplicate_video_json,
    page_json,
)
from videolib.shared.errors import ConflictError
from videolib.shared.near_duplicates import find_similar

routes = web.RouteTableDef()
TAGS = ("near-duplicates",)


# A fixed path: registered before /videos/{id} (api/app.py), so it is never read as an id.
@routes.get("/api/media/videos/near-duplicates")
@operation(
    summary=(
        "Groups of valid videos that show the same pictures (re-encodes, trims, crops, "
        "mirrored copies), the largest first; each member explained against the first"
    ),
    query=schemas.PageQuery,
    responses={200: schemas.NearDuplicateList, 400: schemas.Error},
    tags=TAGS,
)
async def near_duplicates(request: web.Request) -> web.Response:
    q = query(request, schemas.PageQuery)
    groups, total = await request.app[NEAR_DUPLICATES].groups(q.page, q.limit)
    data = [near_duplicate_group_json(group) for group in groups]
    return web.json_response(page_json(data, q.page, q.limit, total))


@routes.get("/api/media/videos/{id}/similar")
@operation(
    summary=(
        "Videos that show the same pictures as this one, best match first, each with the "
        "matched parts and offset; 409 while the video has no fingerprint yet"
    ),
    query=schemas.SimilarQuery,
    responses={
        200: schemas.SimilarList,
        400: schemas.Error,
        404: schemas.Error,
        409: schemas.Error,
    },
    tags=TAGS,
)
async def similar(request: web.Request) -> web.Response:
    video = await existing(request.app[VIDEOS], request)
    q = query(request, schemas.SimilarQuery)
    repository = request.app[NEAR_DUPLICATES]
    hashes = await repository.fingerprint(video.id, valid_only=False)
    if hashes is None:
        # 409, not an empty 200: "nothing similar" and "not looked yet" must not read alike.
        raise ConflictError(f"{video.id}: no fingerprint yet; try again after it is computed")
    result = await find_similar(repository, video.id, hashes)
    shown = result.matches[: q.limit]
    found = {v.id: v for v in await request.app[VIDEOS].get_many([s.video_id for s in shown])}
    data = [
        {"video": near_duplicate_video_json(found[s.video_id]), "match": match_json(s.match)}
        for s in shown
        if s.video_id in found  # deleted between the two reads
    ]
    body = {
        "data": data,
        "candidates": result.candidates,
        "compared": result.compared,
        "capped": result.capped,
    }
    return web.json_response(body)
