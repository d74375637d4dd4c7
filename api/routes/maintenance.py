"""Checking and cleaning the library: validate, bulk actions, duplicates."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from videolib.api import schemas
from videolib.api.keys import CONFIG, ENGINE, LIBRARY, POOL, SCAN_WRITES, VIDEOS
from videolib.api.openapi import operation
from videolib.api.requests import body, query
from videolib.api.routes.videos import existing
from videolib.api.serialize import duplicate_json, page_json, validated_json, video_json
from videolib.shared.db.records import Video
from videolib.shared.errors import ProbeError
from videolib.shared.jobs.batches import VALIDATE, WAITING_REQUEST, start_batch, wait_for_batch
from videolib.shared.validate import validate_one

routes = web.RouteTableDef()
TAGS = ("maintenance",)


@routes.get("/api/media/videos/duplicates")
@operation(
    summary="Groups of valid videos sharing a file hash, the most wasted space first",
    query=schemas.PageQuery,
    responses={200: schemas.DuplicateList, 400: schemas.Error},
    tags=TAGS,
)
async def duplicates(request: web.Request) -> web.Response:
    q = query(request, schemas.PageQuery)
    groups, total = await request.app[VIDEOS].duplicates(q.page, q.limit)
    data = [duplicate_json(group) for group in groups]
    return web.json_response(page_json(data, q.page, q.limit, total))


@routes.post("/api/media/videos/bulk")
@operation(
    summary="Validate or edit several videos; a result per id",
    body=schemas.BulkRequest,
    responses={200: schemas.BulkResult, 400: schemas.Error, 413: schemas.Error},
    tags=TAGS,
)
async def bulk(request: web.Request) -> web.Response:
    given = await body(request, schemas.BulkRequest)
    ids = list(dict.fromkeys(given.ids))
    results: list[dict[str, Any]]
    if given.action == "update":
        assert given.set is not None  # checked by the model
        updated = {
            v.id: v for v in await request.app[VIDEOS].update_metadata(ids, given.set.edits())
        }
        results = [
            {"id": str(i), "ok": True, "error": None, "video": video_json(updated[i])}
            if i in updated
            else {"id": str(i), "ok": False, "error": f"{i}: no such video", "video": None}
            for i in ids
        ]
    else:
        results = await _validate_through_engine(request.app, ids)
    return web.json_response({"results": results})


async def _validate_through_engine(app: web.Application, ids: list[uuid.UUID]) -> list[Any]:
    """Bulk validate as a batch of the engine's `validate` chunks, answered per id.

    The ids are bounded (schemas.BulkRequest), so the request waits for its items; this
    process works the queue meanwhile (a worker for the wait), so it needs no `videolib
    worker`, and the workers of other hosts share a large request.
    """
    engine = app[ENGINE]
    batch = await start_batch(engine, VALIDATE, ids, priority=WAITING_REQUEST)
    items = {
        item.item_id: item
        for item in await wait_for_batch(
            app[CONFIG],
            engine,
            batch,
            concurrency=app[CONFIG].probe_workers,
            examiners=app[POOL],
        )
    }
    videos = {video.id: video for video in await app[VIDEOS].get_many(ids)}
    return [_validation_json(i, items[i].error, videos.get(i)) for i in ids]


def _validation_json(video_id: uuid.UUID, error: str | None, video: Video | None) -> dict[str, Any]:
    return {
        "id": str(video_id),
        "ok": error is None,
        "error": error,
        "video": video_json(video) if video else None,
    }


@routes.post("/api/media/videos/{id}/validate")
@operation(
    summary="Re-probe and re-hash one video (missing file: isValid false, reason missing)",
    responses={
        200: schemas.Validated,
        400: schemas.Error,
        404: schemas.Error,
        422: schemas.Error,
    },
    tags=TAGS,
)
async def validate(request: web.Request) -> web.Response:
    video = await existing(request.app[VIDEOS], request)
    checked = await validate_one(
        video,
        library=request.app[LIBRARY],
        repository=request.app[SCAN_WRITES],
        pool=request.app[POOL],
    )
    after = checked.video or video
    if checked.error and after.invalid_reason in ("corrupt", "unreadable"):
        # Recorded as invalid; the caller hears why, as the seed's 422 for unprobeable files.
        raise ProbeError(after.path, after.probe_error or checked.error, after.invalid_reason)
    return web.json_response(validated_json(after))
