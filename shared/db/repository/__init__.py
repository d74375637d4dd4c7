"""Every query of videolib, as SQLAlchemy Core statements behind one object per table group.

Handlers, the daemon and the CLI call these methods and never build SQL. Driver errors are
translated here (errors.py), so callers see DatabaseUnavailableError, never asyncpg or
SQLAlchemy types. One module per aggregate; every name is importable from the package.
"""

from .admin import AdminVideoRepository
from .errors import (
    Fault,
    classify,
    database_call_bound,
    is_connection_problem,
    translate,
    translate_errors,
    translated,
)
from .failures import FailureRepository
from .keyset import Keyset
from .listing import (
    DEFERRED_JOIN_FROM,
    SORT_COLUMNS,
    DuplicateGroup,
    VideoListing,
    VideoPage,
    VideoQuery,
    search_query,
)
from .locks import DirectoryLocks
from .scan_jobs import ScanJob, ScanJobRepository
from .settings import SettingsRepository, ping
from .thumbnails import ThumbnailRepository, ThumbnailTask
from .videos import WRITE_BATCH, VideoReader, VideoRepository

__all__ = [
    "DEFERRED_JOIN_FROM",
    "SORT_COLUMNS",
    "WRITE_BATCH",
    "AdminVideoRepository",
    "DirectoryLocks",
    "DuplicateGroup",
    "FailureRepository",
    "Fault",
    "Keyset",
    "ScanJob",
    "ScanJobRepository",
    "SettingsRepository",
    "ThumbnailRepository",
    "ThumbnailTask",
    "VideoListing",
    "VideoPage",
    "VideoQuery",
    "VideoReader",
    "VideoRepository",
    "classify",
    "database_call_bound",
    "is_connection_problem",
    "ping",
    "search_query",
    "translate",
    "translate_errors",
    "translated",
]
