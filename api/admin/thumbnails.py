"""`GET /api/media/videos/{id}/thumbnail`: the generated JPEG, or the admin's custom file."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

from videolib.api.admin.openapi import binary_responses
from videolib.api.admin.session import ADMIN
from videolib.api.keys import ENGINE, VIDEOS
from videolib.api.openapi import operation
from videolib.api.requests import path_id
from videolib.shared.db.repository import ThumbnailRepository
from videolib.shared.errors import NotFoundError

# The browser keeps it but asks each time; the ETag (size and mtime) makes that a 304.
CACHE_CONTROL = "private, no-cache"


def _inside(folder: Path, relative: str) -> Path | None:
    """`folder / relative` if it stays inside `folder` (symlinks resolved), else None."""
    base = folder.resolve()
    file = (base / relative).resolve()
    return file if base in file.parents else None


@operation(
    summary="The video's thumbnail (generated, or the custom thumbnailPath), with ETag",
    responses={},
    tags=("videos",),
    extra=binary_responses("image/*", "The thumbnail image", 400, 401, 403, 404, 503),
)
async def thumbnail(request: web.Request) -> web.FileResponse:
    video_id = path_id(request)
    video = await request.app[VIDEOS].get(video_id)
    if video is None:
        raise NotFoundError(f"{video_id}: no such video")
    if video.thumbnail_path is None:
        raise NotFoundError(f"{video_id}: no thumbnail yet")
    settings = request.app[ADMIN]
    generated = await ThumbnailRepository(request.app[ENGINE]).generated_path(video_id)
    # Ours if it is the one we made; any other value was set through PUT and wins.
    folder = settings.thumbnail_dir if generated == video.thumbnail_path else settings.library_root
    file = _inside(Path(folder), video.thumbnail_path)
    if file is None or not file.is_file():
        raise NotFoundError(f"{video_id}: thumbnail file {video.thumbnail_path!r} not found")
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if not content_type.startswith("image/"):
        raise NotFoundError(f"{video_id}: thumbnail {video.thumbnail_path!r} is not an image")
    headers = {"Cache-Control": CACHE_CONTROL, "Content-Type": content_type}
    return web.FileResponse(file, headers=headers)
