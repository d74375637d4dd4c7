"""`POST /api/media/upload/single`: a multipart upload streamed into the inbox.

The `video` part is written to a hidden `.part` name in the inbox (which the daemon
ignores) while it is hashed, then renamed to a free name: the file appears complete or not
at all. Whatever stops the upload midway (too large, bad part, client gone) removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import re
import uuid
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from videolib.api import schemas
from videolib.api.keys import CONFIG, LIBRARY, POOL, VIDEOS
from videolib.api.openapi import operation
from videolib.api.schemas import BadRequestError, UnsupportedMediaTypeError, parse
from videolib.api.serialize import video_json
from videolib.api.storage_errors import InsufficientStorageError
from videolib.api.text import text_problem
from videolib.shared.errors import ConflictError, VideolibError
from videolib.shared.ingest import to_examined
from videolib.shared.logging import get_logger
from videolib.shared.media.names import is_video_name

log = get_logger(__name__)
routes = web.RouteTableDef()

CHUNK = 1024 * 1024
MAX_FIELD = 64 * 1024  # a metadata part larger than this is not metadata
METADATA_FIELDS = ("producer", "creator", "title", "tags")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


class UploadTooLargeError(VideolibError):
    """The upload is larger than the configured limit."""

    status = 413
    code = "payload_too_large"


def safe_name(client_name: str | None) -> str:
    """A file name from the client's, without folders, control or reserved characters."""
    raw = PureWindowsPath(PurePosixPath(client_name or "").name).name
    name = _UNSAFE.sub("_", raw).strip().lstrip(".")
    if (problem := text_problem(name)) is not None:  # NUL is replaced above; surrogates not
        raise BadRequestError(f"video: the file name {problem}")
    if not name:
        raise BadRequestError("video: the part has no file name")
    if not is_video_name(name):
        raise BadRequestError(f"video: {name!r} is not a video file name (.mp4, .mov, ...)")
    return name[-200:]


def free_name(folder: Path, name: str, written: Path) -> Path:
    """Link the written file to `name` or `name-N` in folder, never replacing a file."""
    stem, suffix = os.path.splitext(name)
    for attempt in range(10_000):
        target = folder / (name if attempt == 0 else f"{stem}-{attempt}{suffix}")
        try:
            os.link(written, target)  # fails if the name exists: no check-then-act race
        except FileExistsError:
            continue
        os.unlink(written)
        return target
    raise BadRequestError(f"video: no free name for {name!r} in the inbox")


async def _receive(part: BodyPartReader, target: Path, limit: int) -> str:
    """Stream a part to a file, hashing it; the SHA-256. 413 past the limit, 507 when the
    disk is full (the write or the close that flushes it)."""
    digest, size = hashlib.sha256(), 0
    try:
        with target.open("wb") as file:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadTooLargeError(f"video: larger than the limit of {limit} bytes")
                digest.update(chunk)
                await asyncio.to_thread(file.write, chunk)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorageError(
                f"video: no space left in the inbox after {size} bytes"
            ) from None
        raise
    return digest.hexdigest()


async def _field(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(MAX_FIELD):
        data += chunk
        if len(data) > MAX_FIELD:
            raise BadRequestError(f"{part.name}: longer than {MAX_FIELD} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError(f"{part.name}: not valid UTF-8") from None


def _metadata(fields: dict[str, str]) -> schemas.EditableFields:
    values: dict[str, Any] = {k: v for k, v in fields.items() if k != "tags"}
    if "tags" in fields:
        text = fields["tags"].strip()
        try:
            values["tags"] = json.loads(text) if text.startswith("[") else text.split(",")
        except json.JSONDecodeError:
            raise BadRequestError("tags: a JSON array or a comma-separated list") from None
    return parse(schemas.EditableFields, values)


@routes.post("/api/media/upload/single")
@operation(
    summary="Upload a video into the inbox and record it (multipart `video` + metadata)",
    raw_body={
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["video"],
                "properties": {
                    "video": {"type": "string", "contentMediaType": "application/octet-stream"},
                    **{name: {"type": "string"} for name in METADATA_FIELDS},
                },
            }
        }
    },
    responses={
        201: schemas.Video,
        400: schemas.Error,
        409: schemas.Error,
        413: schemas.Error,
        415: schemas.Error,
        507: schemas.Error,
    },
    tags=("uploads",),
)
async def upload(request: web.Request) -> web.Response:
    limit = request.app[CONFIG].api.max_upload_bytes
    if request.content_length is not None and request.content_length > limit + MAX_FIELD * 8:
        raise UploadTooLargeError(f"request larger than the limit of {limit} bytes")
    if not request.content_type.startswith("multipart/"):
        raise UnsupportedMediaTypeError("body: multipart/form-data with a `video` part is required")
    inbox = request.app[LIBRARY].inbox
    temporary = inbox / f".upload-{uuid.uuid4().hex}.part"
    try:
        final, original, sha256, metadata = await _read_parts(request, temporary, limit)
    finally:
        # Too large, a bad part, or the client gone: nothing is left behind.
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    try:
        return await _record(request, final, original, sha256, metadata)
    except BaseException:
        # Not recorded (database down, the client gone, a bug): the file goes too, unless
        # a record of it exists (ours, its reply lost, or the daemon's, recorded first).
        await _remove_unrecorded(request, final)
        raise


async def _remove_unrecorded(request: web.Request, final: Path) -> None:
    stored = request.app[LIBRARY].stored_path(final)
    try:
        if await request.app[VIDEOS].get_by_path(stored) is not None:
            return
    except VideolibError as error:
        # Unknown whether a record exists (an insert may have committed with its reply
        # lost): deleting could leave a record without its file. An unrecorded file in
        # the inbox is what the daemon's next pass settles, so keep it.
        log.warning("upload_kept", path=stored, reason="record unknown", error=error.message)
        return
    with contextlib.suppress(FileNotFoundError):
        final.unlink()
        log.info("upload_removed", path=stored, reason="not recorded")


async def _next_part(reader: MultipartReader) -> BodyPartReader | MultipartReader | None:
    """The next part; 400 for a malformed one (aiohttp raises its parser's errors)."""
    try:
        return await reader.next()
    except (HttpProcessingError, ValueError) as error:  # a bad header, a bad boundary
        raise BadRequestError(f"body: malformed multipart: {error}") from None


async def _read_parts(
    request: web.Request, temporary: Path, limit: int
) -> tuple[Path, str, str, schemas.EditableFields]:
    reader = await request.multipart()
    fields: dict[str, str] = {}
    received: tuple[str, str] | None = None
    while (part := await _next_part(reader)) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadRequestError("body: nested multipart is not accepted")
        if part.name == "video":
            if received is not None:
                raise BadRequestError("video: only one file per upload")
            name = safe_name(part.filename)
            received = (name, await _receive(part, temporary, limit))
        elif part.name in METADATA_FIELDS:
            fields[part.name] = await _field(part)
        else:
            raise BadRequestError(f"{part.name}: unknown field")
    if received is None:
        raise BadRequestError("video: a file part named `video` is required")
    metadata = _metadata(fields)  # before the rename: a refusal leaves no file
    name, sha256 = received
    final = await asyncio.to_thread(free_name, temporary.parent, name, temporary)
    return final, name, sha256, metadata


async def _record(
    request: web.Request,
    final: Path,
    original: str,
    sha256: str,
    metadata: schemas.EditableFields,
) -> web.Response:
    library, repository = request.app[LIBRARY], request.app[VIDEOS]
    stored = library.stored_path(final)
    examination = await request.app[POOL].examine(str(final))
    if examination.invalid_reason == "missing":
        # The daemon's settle time (seconds) makes this rare: it moved the file on first.
        raise ConflictError(f"{stored}: taken from the inbox by the daemon before recording")
    if examination.sha256 not in (None, sha256):
        log.warning("upload_changed_after_write", path=stored)
    examined = dataclasses.replace(to_examined(stored, examination), original_filename=original)
    video = await repository.insert_new(examined, metadata.edits())
    if video is None:  # the daemon recorded it first: answer with that record
        video = await repository.get_by_path(stored)
    if video is None:
        raise ConflictError(f"{stored}: moved away before it could be recorded")
    return web.json_response(video_json(video), status=201)
