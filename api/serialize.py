"""Response bodies built from records; a video's own JSON form is in shared/db/video_json.py."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from videolib.shared.db.records import Video
from videolib.shared.db.repository import DuplicateGroup, NearDuplicateGroup, ScanJob
from videolib.shared.db.video_json import timestamp, video_json
from videolib.shared.media.similarity import Match


def pagination(
    page: int | None,
    limit: int,
    total: int,
    next_cursor: str | None = None,
    prev_cursor: str | None = None,
) -> dict[str, Any]:
    """The seed's pagination object and the cursors of the pages beside (null: none)."""
    return {
        "page": page,
        "limit": limit,
        "total": total,
        "totalPages": -(-total // limit),
        "nextCursor": next_cursor,
        "prevCursor": prev_cursor,
    }


def page_json(data: list[dict[str, Any]], page: int, limit: int, total: int) -> dict[str, Any]:
    """The seed's list body: one page of items and where it stands (`{data, pagination}`)."""
    return {"data": data, "pagination": pagination(page, limit, total)}


def page_body(items_json: str, where: dict[str, Any]) -> str:
    """page_json's body as text, around a JSON array of items PostgreSQL already built;
    `where` is its pagination()."""
    return f'{{"data":{items_json},"pagination":{json.dumps(where)}}}'


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


def match_json(match: Match) -> dict[str, Any]:
    """A match's explanation: score, offset, the matched ranges of both, mirrored."""
    return {
        "score": round(match.score, 4),
        "offsetSeconds": match.offset_seconds,
        "matchedSeconds": match.matched_seconds,
        "a": {"start": match.a_start, "end": match.a_end},
        "b": {"start": match.b_start, "end": match.b_end},
        "mirrored": match.mirrored,
    }


def near_duplicate_video_json(video: Video) -> dict[str, Any]:
    """A video as the near-duplicate views show it, with its thumbnail and stream URLs."""
    thumbnail_url = None
    if video.thumbnail_path is not None:
        # `v` changes with the thumbnail, so a new one is never hidden by the cache.
        version = quote(video.thumbnail_path, safe="")
        thumbnail_url = f"/api/media/videos/{video.id}/thumbnail?v={version}"
    return {
        "id": str(video.id),
        "path": video.path,
        "title": video.title,
        "durationSeconds": video.duration_seconds,
        "fileSize": video.file_size,
        "quality": video.quality,
        "width": video.width,
        "height": video.height,
        "isValid": video.is_valid,
        "invalidReason": video.invalid_reason,
        "thumbnailUrl": thumbnail_url,
        "streamUrl": f"/api/media/videos/{video.id}/stream",
    }


def near_duplicate_group_json(group: NearDuplicateGroup) -> dict[str, Any]:
    return {
        "groupId": str(group.group_id),
        "size": len(group.members),
        "members": [
            {
                "video": near_duplicate_video_json(member.video),
                # The suggested keeper leads the list; when it left (gone invalid since the
                # last regroup), the best match of the rest does.
                "isFirst": place == 0,
                "match": None if member.match is None else match_json(member.match),
            }
            for place, member in enumerate(group.members)
        ],
    }
