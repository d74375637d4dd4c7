"""`/api/media/videos`: list, read, create, edit, delete, restore."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from aiohttp import web

from videolib.api import schemas
from videolib.api.cursors import page_cursors
from videolib.api.keys import (
    CONFIG,
    COUNTS,
    CURSORS,
    ENGINE,
    LIBRARY,
    POOL,
    SCAN_WRITES,
    TRASH,
    VIDEOS,
)
from videolib.api.openapi import operation
from videolib.api.requests import body, path_id, query
from videolib.api.schemas import BadRequestError
from videolib.api.serialize import page_body, pagination, video_json
from videolib.shared.db.records import Video
from videolib.shared.db.repository import VideoQuery, VideoReader
from videolib.shared.errors import (
    ConflictError,
    DatabaseUnavailableError,
    NotFoundError,
    PathError,
)
from videolib.shared.frame_cache import remove_frames
from videolib.shared.ingest import to_examined
from videolib.shared.library import Library
from videolib.shared.logging import get_logger
from videolib.shared.media.names import directory_type_of, is_video_name
from videolib.shared.near_duplicates import refresh_near_duplicates
from videolib.shared.thumbnails import remove_thumbnail

routes = web.RouteTableDef()
TAGS = ("videos",)
log = get_logger(__name__)


async def regroup_near_duplicates(request: web.Request, video_id: uuid.UUID) -> None:
    """A trashed, deleted or restored video leaves (or rejoins) its near-duplicate group.

    After the change itself: if the database fails here the change stands and the caller
    hears of it; the group lists only valid videos meanwhile, and the next refresh of any
    of its members regroups them.
    """
    try:
        await refresh_near_duplicates(request.app[ENGINE], video_id)
    except DatabaseUnavailableError as error:
        log.warning("near_duplicates_refresh_failed", video_id=str(video_id), error=str(error))


async def existing(repository: VideoReader, request: web.Request) -> Video:
    video_id = path_id(request)
    video = await repository.get(video_id)
    if video is None:
        raise NotFoundError(f"{video_id}: no such video")
    return video


@routes.get("/api/media/videos")
@operation(
    summary="List videos, filtered, searched, sorted and paginated",
    query=schemas.ListQuery,
    responses={200: schemas.VideoList, 400: schemas.Error},
    tags=TAGS,
)
async def list_videos(request: web.Request) -> web.Response:
    q = query(request, schemas.ListQuery)
    codec = request.app[CURSORS]
    keyset, offset = None, None
    if q.cursor is not None:
        if "page" in q.model_fields_set:
            raise BadRequestError("cursor: send either page or cursor, not both")
        position = codec.decode(q.cursor, q.sort)
        # A search's pages are ranked, so its cursors are offsets (api/cursors.py).
        if isinstance(position, int) != bool(q.search):
            made_for = "a search" if isinstance(position, int) else "a listing without search"
            raise BadRequestError(f"cursor: made for {made_for}; start again from page 1")
        keyset, offset = (None, position) if isinstance(position, int) else (position, None)
    fields = q.model_dump(exclude_none=True, exclude={"quality", "cursor"})
    qualities = tuple(q.quality) if q.quality else None
    wanted = VideoQuery(**fields, qualities=qualities, keyset=keyset, offset=offset)
    counts = request.app[COUNTS]
    # The total depends on the filters only, not on the page, the order or the cursor.
    key = dataclasses.replace(wanted, page=1, sort="-createdAt", limit=1, keyset=None, offset=None)
    known = counts.get(key)
    page = await request.app[VIDEOS].list_page(wanted, with_total=known is None)
    rows_before = (q.page - 1) * q.limit if keyset is None else 0
    rows_before = offset if offset is not None else rows_before
    if page.total is None:  # a remembered total, never fewer than the rows just seen
        seen = rows_before + page.rows if page.rows else 0
        total = max(known or 0, seen)
    else:
        total = page.total
        counts.put(key, total)
    if q.search:
        after = rows_before + q.limit if rows_before + page.rows < total else None
        before = max(0, rows_before - q.limit) if rows_before > 0 else None
        next_cursor = None if after is None else codec.encode_offset(q.sort, after)
        prev_cursor = None if before is None else codec.encode_offset(q.sort, before)
    else:
        beside = page_cursors(page, q.sort, keyset, rows_before=rows_before, total=total)
        next_cursor = codec.encode(beside.next) if beside.next else None
        prev_cursor = codec.encode(beside.prev) if beside.prev else None
    shown_page = q.page if q.cursor is None else None
    where = pagination(shown_page, q.limit, total, next_cursor, prev_cursor)
    return web.Response(text=page_body(page.items_json, where), content_type="application/json")


@routes.get("/api/media/videos/{id}")
@operation(
    summary="One video",
    responses={200: schemas.Video, 400: schemas.Error, 404: schemas.Error},
    tags=TAGS,
)
async def get_video(request: web.Request) -> web.Response:
    return web.json_response(video_json(await existing(request.app[VIDEOS], request)))


def _stored_file(library: Library, given: schemas.CreateVideo) -> tuple[str, Path]:
    """The normalised stored path and the file of a create request; 400 unless usable."""
    absolute = library.absolute(given.path)  # refuses `..`, absolute paths, unknown types
    stored = library.stored_path(absolute)  # resolves symlinks: refuses those leaving the root
    if not absolute.is_file():
        raise PathError(given.path, "no such file in the library")
    name = stored.rsplit("/", 1)[-1]
    if not is_video_name(name):
        raise PathError(given.path, "not a video file name (extension or ignored name)")
    if given.filename is not None and given.filename != name:
        raise PathError(given.path, f"filename {given.filename!r} does not match the path")
    if given.directory_type is not None and given.directory_type != directory_type_of(stored):
        raise PathError(given.path, f"directoryType {given.directory_type!r} does not match")
    return stored, absolute


@routes.post("/api/media/videos")
@operation(
    summary="Record a file already in the library (probed and hashed)",
    body=schemas.CreateVideo,
    responses={201: schemas.Video, 400: schemas.Error, 409: schemas.Error, 413: schemas.Error},
    tags=TAGS,
)
async def create_video(request: web.Request) -> web.Response:
    given = await body(request, schemas.CreateVideo)
    repository = request.app[VIDEOS]
    stored, absolute = _stored_file(request.app[LIBRARY], given)
    if await repository.fingerprints([stored]):
        raise ConflictError(f"{stored}: already recorded")
    examination = await request.app[POOL].examine(str(absolute))
    if examination.invalid_reason == "missing":
        raise PathError(given.path, "file vanished while being read")
    if examination.changed:
        raise ConflictError(f"{stored}: still being written; try again when it is complete")
    edits = {k: v for k, v in given.edits().items() if k in schemas.EditableFields.model_fields}
    # A file that cannot be probed is recorded invalid (`corrupt`), as a scan would.
    video = await repository.insert_new(to_examined(stored, examination), edits)
    if video is None:  # a scan or the daemon recorded it meanwhile
        raise ConflictError(f"{stored}: already recorded")
    return web.json_response(video_json(video), status=201)


@routes.put("/api/media/videos/{id}")
@operation(
    summary="Edit producer, creator, title, tags, thumbnailPath",
    body=schemas.UpdateVideo,
    responses={200: schemas.Video, 400: schemas.Error, 404: schemas.Error},
    tags=TAGS,
)
async def update_video(request: web.Request) -> web.Response:
    video_id = path_id(request)
    edits = (await body(request, schemas.UpdateVideo)).edits()
    updated = await request.app[VIDEOS].update_metadata([video_id], edits)
    if not updated:
        raise NotFoundError(f"{video_id}: no such video")
    return web.json_response(video_json(updated[0]))


@routes.delete("/api/media/videos/{id}")
@operation(
    summary=(
        "Soft delete (isValid=false); ?file=trash also moves the file to the library's trash "
        "(restorable); ?permanent=true removes an invalid video's row and its thumbnail"
    ),
    query=schemas.DeleteQuery,
    responses={200: schemas.Deleted, 400: schemas.Error, 404: schemas.Error, 409: schemas.Error},
    tags=TAGS,
)
async def delete_video(request: web.Request) -> web.Response:
    video_id = path_id(request)
    repository = request.app[VIDEOS]
    given = query(request, schemas.DeleteQuery)
    if given.permanent:
        outcome = await repository.delete_invalid(video_id)
        if outcome == "valid":
            raise ConflictError(f"{video_id}: still valid; delete it without permanent first")
        if outcome == "absent":
            raise NotFoundError(f"{video_id}: no such video")
        remove_thumbnail(request.app[CONFIG].thumbnail_dir.absolute(), video_id)
        remove_frames(request.app[CONFIG].thumbnail_dir.absolute(), video_id)
        await regroup_near_duplicates(request, video_id)
        return web.json_response({"success": True, "message": "Video record removed"})
    if given.file == "trash":
        trashed = await request.app[TRASH].trash(video_id)
        await regroup_near_duplicates(request, video_id)
        return web.json_response(
            {
                "success": True,
                "message": "Video file moved to the trash",
                "video": video_json(trashed),
            }
        )
    if await repository.soft_delete(video_id) is None:
        video = await repository.get(video_id)
        if video is not None and video.invalid_reason == "trashed":
            raise ConflictError(f"{video.path}: in the trash: restore it, or delete it permanently")
        raise NotFoundError(f"{video_id}: no such video")
    await regroup_near_duplicates(request, video_id)
    return web.json_response({"success": True, "message": "Video marked as invalid"})


@routes.post("/api/media/videos/{id}/restore")
@operation(
    summary=(
        "Make a deleted video valid again after a re-probe, or move a trashed one's file "
        "back (409 if the file no longer probes, or its path is taken now)"
    ),
    responses={200: schemas.Video, 400: schemas.Error, 404: schemas.Error, 409: schemas.Error},
    tags=TAGS,
)
async def restore_video(request: web.Request) -> web.Response:
    repository, library = request.app[VIDEOS], request.app[LIBRARY]
    video = await existing(repository, request)
    if video.invalid_reason == "trashed":
        back = await request.app[TRASH].restore(video.id)
        # Examined again, as any restore: a file trashed corrupt comes back corrupt.
        probed = await request.app[POOL].examine(str(library.absolute(back.path)))
        await request.app[SCAN_WRITES].write_examined([to_examined(back.path, probed)])
        await regroup_near_duplicates(request, video.id)
        return web.json_response(video_json(await repository.get(video.id) or back))
    # The probe first: a file that is gone or no longer a video leaves the record as it
    # was (invalid), and the caller hears why.
    absolute = library.absolute(video.path)
    examination = await request.app[POOL].examine(str(absolute)) if absolute.is_file() else None
    if examination is None or examination.invalid_reason == "missing":
        raise ConflictError(f"{video.path}: cannot restore: file not found")
    if examination.invalid_reason is not None:
        raise ConflictError(
            f"{video.path}: cannot restore: {examination.invalid_reason}: {examination.error}"
        )
    if await repository.undelete(video.id) is None:
        raise NotFoundError(f"{video.id}: no such video")
    await request.app[SCAN_WRITES].write_examined([to_examined(video.path, examination)])
    await regroup_near_duplicates(request, video.id)
    restored = await repository.get(video.id)
    if restored is None:
        raise NotFoundError(f"{video.id}: no such video")
    return web.json_response(video_json(restored))
