"""The one JSON form of a video and the other response bodies built from records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from videolib.shared.db.records import Video
from videolib.shared.db.repository import DuplicateGroup, ScanJob


def timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, millisecond precision (as JavaScript's toISOString)."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def video_json(video: Video) -> dict[str, Any]:
    """A video as the seed's camelCase JSON (the `Video` schema of schemas.py)."""
    return {
        "id": str(video.id),
        "path": video.path,
        "filename": video.filename,
        "originalFilename": video.original_filename,
        "directoryType": video.directory_type,
        "producer": video.producer,
        "creator": video.creator,
        "title": video.title,
        "tags": video.tags,
        "durationSeconds": video.duration_seconds,
        "quality": video.quality,
        "orientation": video.orientation,
        "hasAudio": video.has_audio,
        "width": video.width,
        "height": video.height,
        "fileSize": video.file_size,
        "fileHash": video.file_hash,
        "isValid": video.is_valid,
        "invalidReason": video.invalid_reason,
        "probeError": video.probe_error,
        "lastValidated": timestamp(video.last_validated),
        "standardizedAt": timestamp(video.standardized_at),
        "thumbnailPath": video.thumbnail_path,
        "publicViewCount": video.public_view_count,
        "publicUpvoteCount": video.public_upvote_count,
        "createdAt": timestamp(video.created_at),
        "updatedAt": timestamp(video.updated_at),
    }


def page_json(data: list[dict[str, Any]], page: int, limit: int, total: int) -> dict[str, Any]:
    """The seed's list body: one page of items and where it stands (`{data, pagination}`)."""
    pagination = {"page": page, "limit": limit, "total": total, "totalPages": -(-total // limit)}
    return {"data": data, "pagination": pagination}


def validated_json(video: Video) -> dict[str, Any]:
    """The seed's validate response."""
    return {
        "id": str(video.id),
        "isValid": video.is_valid,
        "invalidReason": video.invalid_reason,
        "lastValidated": timestamp(video.last_validated),
        "metadata": {
            "durationSeconds": video.duration_seconds,
            "width": video.width,
            "height": video.height,
            "quality": video.quality,
            "orientation": video.orientation,
            "hasAudio": video.has_audio,
        },
    }


def job_json(job: ScanJob) -> dict[str, Any]:
    return {
        "jobId": str(job.id),
        "status": job.status,
        "directoryTypes": job.directory_types,
        "skipExisting": job.skip_existing,
        "result": job.result,
        "error": job.error,
        "createdAt": timestamp(job.created_at),
        "updatedAt": timestamp(job.updated_at),
        "finishedAt": timestamp(job.finished_at),
    }


def duplicate_json(group: DuplicateGroup) -> dict[str, Any]:
    return {
        "fileHash": group.file_hash,
        "copies": group.copies,
        "fileSize": group.file_size,
        "wastedBytes": group.wasted_bytes,
        "videos": [video_json(video) for video in group.videos],
    }
