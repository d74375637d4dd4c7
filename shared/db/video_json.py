"""The camelCase JSON form of a video (the seed's API body), defined once for two renderers.

`video_json` turns a Video record into a dict, for responses about one video. List pages
have PostgreSQL build the same objects (json_agg over `video_json_columns`): rendering
twenty rows in Python (row objects, datetimes, dicts, the JSON encoder) cost more CPU than
the rest of a list request, and the API process, not the database, is what runs out of CPU
under load. A test holds the two renderers to the same output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, literal_column
from sqlalchemy.sql import ColumnElement

from videolib.shared.db.records import Video

#: (JSON key, column and Video attribute), in the order of the seed's body.
FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("path", "path"),
    ("filename", "filename"),
    ("originalFilename", "original_filename"),
    ("directoryType", "directory_type"),
    ("producer", "producer"),
    ("creator", "creator"),
    ("title", "title"),
    ("tags", "tags"),
    ("durationSeconds", "duration_seconds"),
    ("quality", "quality"),
    ("orientation", "orientation"),
    ("hasAudio", "has_audio"),
    ("width", "width"),
    ("height", "height"),
    ("fileSize", "file_size"),
    ("fileHash", "file_hash"),
    ("isValid", "is_valid"),
    ("invalidReason", "invalid_reason"),
    ("probeError", "probe_error"),
    ("lastValidated", "last_validated"),
    ("standardizedAt", "standardized_at"),
    ("thumbnailPath", "thumbnail_path"),
    ("trashedFrom", "trashed_from"),
    ("trashedAt", "trashed_at"),
    ("publicViewCount", "public_view_count"),
    ("publicUpvoteCount", "public_upvote_count"),
    ("createdAt", "created_at"),
    ("updatedAt", "updated_at"),
)
_TIMESTAMPS = frozenset(
    {"last_validated", "standardized_at", "trashed_at", "created_at", "updated_at"}
)
# JavaScript's toISOString: UTC, milliseconds cut (not rounded), a `Z`. to_char's MS cuts too.
_TO_CHAR_ISO: Any = literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'""")
_UTC: Any = literal_column("'UTC'")


def timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, millisecond precision (as JavaScript's toISOString)."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def video_json(video: Video) -> dict[str, Any]:
    """A video as the seed's camelCase JSON (the `Video` schema of the API)."""
    body: dict[str, Any] = {}
    for key, name in FIELDS:
        value = getattr(video, name)
        if name in _TIMESTAMPS:
            value = timestamp(value)
        elif name == "id":
            value = str(value)
        body[key] = value
    return body


def video_json_columns(columns: Any) -> list[ColumnElement[Any]]:
    """The videos columns under their JSON keys, timestamps as text: a row of these is
    one video's JSON object (json_agg of such rows builds a list page)."""
    selected: list[ColumnElement[Any]] = []
    for key, name in FIELDS:
        column = columns[name]
        if name in _TIMESTAMPS:
            column = func.to_char(func.timezone(_UTC, column), _TO_CHAR_ISO)
        selected.append(column.label(key))
    return selected
