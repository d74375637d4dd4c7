"""`/api/media/videos/{id}/fingerprint`: a video's fingerprint, or why it has none yet."""

from __future__ import annotations

from aiohttp import web

from videolib.api import schemas
from videolib.api.keys import CONFIG, ENGINE
from videolib.api.openapi import operation
from videolib.api.requests import path_id
from videolib.shared.db.repository import FingerprintRepository
from videolib.shared.db.video_json import timestamp
from videolib.shared.errors import NotFoundError
from videolib.shared.fingerprints import fingerprint_status
from videolib.shared.media.goimagehash import to_unsigned
from videolib.shared.trash import utc_now

routes = web.RouteTableDef()
TAGS = ("videos",)


@routes.get("/api/media/videos/{id}/fingerprint")
@operation(
    summary="A video's fingerprint (Stash pHash, frame hashes), or the job's failed attempts",
    responses={200: schemas.Fingerprint, 400: schemas.Error, 404: schemas.Error},
    tags=TAGS,
)
async def video_fingerprint(request: web.Request) -> web.Response:
    video_id = path_id(request)
    state = await FingerprintRepository(request.app[ENGINE]).state(video_id)
    if state is None:
        raise NotFoundError(f"{video_id}: no such video")
    max_attempts = request.app[CONFIG].fingerprints.max_attempts
    return web.json_response(
        {
            "videoId": str(state.video_id),
            "status": fingerprint_status(state, max_attempts, utc_now()),
            "phash": None if state.phash is None else f"{to_unsigned(state.phash):016x}",
            "seconds": state.seconds,
            "algorithm": state.algorithm,
            "computedAt": timestamp(state.computed_at),
            "attempts": state.attempts,
            "maxAttempts": max_attempts,
            "error": state.error,
            "retryAt": timestamp(state.retry_at),
        }
    )
