"""Watching a video in the page: the file with Range, whether it plays, frames of it.

`GET /api/media/videos/{id}/stream` is the URL a `<video>` element plays (the page's cookie
session authorises it, api/admin/session.py); `/playback` says whether a browser can play
the file; `/frame?at=` is one JPEG of a file that does not play, for the page's strip.
"""

from __future__ import annotations

import os
import stat as stat_mode
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import ConfigDict, Field

from videolib.api import schemas
from videolib.api.admin.openapi import ERROR
from videolib.api.keys import CONFIG, LIBRARY, METRICS, ON_DEMAND, VIDEOS
from videolib.api.openapi import operation
from videolib.api.requests import query
from videolib.api.routes.videos import existing
from videolib.api.streaming import VideoFileResponse
from videolib.shared import frame_cache
from videolib.shared.db.records import Video
from videolib.shared.errors import NotFoundError, ProbeError, UnsafePathError
from videolib.shared.library import Library
from videolib.shared.media.on_demand import Unreadable
from videolib.shared.media.playable import Playability, browser_playability, content_type

routes = web.RouteTableDef()
TAGS = ("videos",)


class FileUnavailableError(NotFoundError):
    """The video's file cannot be served."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code  # which: file_trashed, file_missing, file_outside_library


class FrameQuery(schemas.ApiModel):
    model_config = ConfigDict(extra="ignore")

    #: Where the frame is, as a share of the duration (0 = start, 1 = end).
    at: float = Field(ge=0, le=1)


class Playback(schemas.ApiModel):
    """Whether a browser plays the video's file, and where to get it."""

    id: str
    playable: bool
    #: Why it does not play (or plays without sound); null when it simply plays.
    reason: str | None
    container: str | None
    video_codec: str | None
    audio_codec: str | None
    content_type: str
    stream_url: str


def served_file(library: Library, video: Video) -> tuple[Path, os.stat_result]:
    """The video's file on disk (symlinks resolved, inside the library) and its stat;
    FileUnavailableError (404) naming why there is none."""
    if video.invalid_reason == "trashed":
        raise FileUnavailableError(
            f"{video.path}: the file is in the trash; restore it to play it", "file_trashed"
        )
    if video.invalid_reason == "missing":
        raise FileUnavailableError(
            f"{video.path}: the file is missing (recorded missing)", "file_missing"
        )
    try:
        resolved = library.absolute(video.path).resolve()
    except (UnsafePathError, OSError, RuntimeError) as error:
        raise FileUnavailableError(f"{video.path}: {error}", "file_outside_library") from None
    roots = (library.root.resolve(), library.inbox.resolve())
    if not any(root in resolved.parents for root in roots):
        # A symlink out of the library: never served, whatever it points at.
        raise FileUnavailableError(
            f"{video.path}: resolves outside the library; refused", "file_outside_library"
        )
    try:
        stat = resolved.stat()
    except OSError as error:
        raise FileUnavailableError(
            f"{video.path}: no such file on disk ({error.strerror or error})", "file_missing"
        ) from None
    if not stat_mode.S_ISREG(stat.st_mode):
        raise FileUnavailableError(f"{video.path}: not a regular file", "file_missing")
    return resolved, stat


VIDEO_CONTENT = {"video/*": {"schema": {"type": "string", "format": "binary"}}}
STREAM_RESPONSES = {
    "responses": {
        "200": {"description": "The whole file", "content": VIDEO_CONTENT},
        "206": {
            "description": "The requested byte range (Content-Range says which)",
            "content": VIDEO_CONTENT,
        },
        "304": {"description": "Not modified (If-None-Match matched the ETag)"},
        "400": ERROR,
        "401": ERROR,
        "403": ERROR,
        "404": ERROR,
        "412": {"description": "If-Match did not match the ETag"},
        "416": {"description": "Range not satisfiable (Content-Range: bytes */size)"},
        "503": ERROR,
        "4XX": ERROR,
    }
}


@routes.get("/api/media/videos/{id}/stream")
@operation(
    summary=(
        "The video's file, for a <video> element: Range (206, 416), strong ETag, If-Range, "
        "If-None-Match (304); 404 naming why when the file is trashed, missing or outside"
    ),
    responses={},
    tags=TAGS,
    extra=STREAM_RESPONSES,
)
async def stream(request: web.Request) -> web.StreamResponse:
    video = await existing(request.app[VIDEOS], request)
    file, stat = served_file(request.app[LIBRARY], video)
    sent = request.app[METRICS].stream_bytes
    return VideoFileResponse(file, stat, sent, content_type=content_type(video.filename))


@routes.get("/api/media/videos/{id}/playback")
@operation(
    summary="Whether a browser plays the video's file (container and codecs read now)",
    responses={200: Playback, 400: schemas.Error, 404: schemas.Error},
    tags=TAGS,
)
async def playback(request: web.Request) -> web.Response:
    video = await existing(request.app[VIDEOS], request)
    file, _ = served_file(request.app[LIBRARY], video)
    facts = await request.app[ON_DEMAND].codecs_of(str(file))
    if isinstance(facts, Unreadable):
        verdict = Playability(False, f"its streams cannot be read: {facts.reason}")
        codecs: tuple[str | None, ...] = (None, None, None)
    else:
        verdict = browser_playability(facts)
        codecs = (facts.container, facts.video_codec, facts.audio_codec)
    body = Playback(
        id=str(video.id),
        playable=verdict.playable,
        reason=verdict.reason,
        container=codecs[0],
        video_codec=codecs[1],
        audio_codec=codecs[2],
        content_type=content_type(video.filename),
        stream_url=f"/api/media/videos/{video.id}/stream",
    )
    return web.json_response(body.model_dump(by_alias=True))


JPEG: Literal["image/jpeg"] = "image/jpeg"
FRAME_RESPONSES = {
    "responses": {
        "200": {
            "description": "The frame as a JPEG",
            "content": {JPEG: {"schema": {"type": "string", "format": "binary"}}},
        },
        "304": {"description": "Not modified (If-None-Match matched the ETag)"},
        **{str(status): ERROR for status in (400, 401, 403, 404, 422, 503)},
        "4XX": ERROR,
    }
}


@routes.get("/api/media/videos/{id}/frame")
@operation(
    summary="One frame of the video as a JPEG, at a share of its duration (cached on disk)",
    query=FrameQuery,
    responses={},
    tags=TAGS,
    extra=FRAME_RESPONSES,
)
async def frame(request: web.Request) -> web.FileResponse:
    at = query(request, FrameQuery).at
    video = await existing(request.app[VIDEOS], request)
    file, stat = served_file(request.app[LIBRARY], video)
    step = round(at * frame_cache.STEPS)
    config = request.app[CONFIG]
    directory = config.thumbnail_dir.absolute()
    version = frame_cache.file_version(stat.st_size, stat.st_mtime_ns)
    target = frame_cache.frame_path(directory, video.id, version, step)
    if not target.is_file():
        width = config.thumbnails.width
        made = await request.app[ON_DEMAND].frame_at(
            str(file), str(target), step / frame_cache.STEPS, width
        )
        if made.error is not None:
            raise ProbeError(video.path, f"no frame at {at:g} of the duration: {made.error}")
        frame_cache.remove_frames(directory, video.id, keep_version=version)  # stale ones
    headers = {"Cache-Control": "private, no-cache", "Content-Type": JPEG}
    return web.FileResponse(target, headers=headers)
