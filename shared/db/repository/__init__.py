"""Every query of videolib, as SQLAlchemy Core statements behind one object per table group.

Handlers, the daemon and the CLI call these methods and never build SQL. Driver errors are
translated here (errors.py), so callers see DatabaseUnavailableError, never asyncpg or
SQLAlchemy types. One module per aggregate; every name is importable from the package.
"""

from .admin import AdminVideoRepository
from .batches import BatchItem, BatchProgress, BatchRepository
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
from .fingerprints import (
    FingerprintRepository,
    FingerprintState,
    FingerprintTask,
    StoredFingerprint,
)
from .history import HistoryRepository, VideoEvent
from .inbox_moves import InboxMove, InboxMoveRepository, forget_move
from .integrity import CycleState, Finding, IntegrityRepository, ToVerify
from .job_queue import JobQueueRepository, QueueState
from .keyset import Keyset
from .listing import (
    DEFERRED_JOIN_FROM,
    SORT_COLUMNS,
    DuplicateGroup,
    VideoListing,
    VideoPage,
    VideoQuery,
)
from .locks import DirectoryLocks
from .mounts import ROOT_FOLDER, HeldPass, MountRepository
from .near_duplicates import (
    Candidate,
    CandidatePage,
    GroupMember,
    NearDuplicateGroup,
    NearDuplicateRepository,
    Unexplained,
)
from .scan_jobs import ScanJob, ScanJobRepository
from .settings import SettingsRepository, ping
from .thumbnails import ThumbnailRepository, ThumbnailTask
from .trash import CLEANUP_LIMIT, CLEANUP_REASONS, Dropped, TrashRepository
from .videos import WRITE_BATCH, VideoReader, VideoRepository

__all__ = [
    "CLEANUP_LIMIT",
    "CLEANUP_REASONS",
    "DEFERRED_JOIN_FROM",
    "ROOT_FOLDER",
    "SORT_COLUMNS",
    "WRITE_BATCH",
    "AdminVideoRepository",
    "BatchItem",
    "BatchProgress",
    "BatchRepository",
    "Candidate",
    "CandidatePage",
    "CycleState",
    "DirectoryLocks",
    "Dropped",
    "DuplicateGroup",
    "FailureRepository",
    "Fault",
    "Finding",
    "FingerprintRepository",
    "FingerprintState",
    "FingerprintTask",
    "GroupMember",
    "HeldPass",
    "HistoryRepository",
    "InboxMove",
    "InboxMoveRepository",
    "IntegrityRepository",
    "JobQueueRepository",
    "Keyset",
    "MountRepository",
    "NearDuplicateGroup",
    "NearDuplicateRepository",
    "QueueState",
    "ScanJob",
    "ScanJobRepository",
    "SettingsRepository",
    "StoredFingerprint",
    "ThumbnailRepository",
    "ThumbnailTask",
    "ToVerify",
    "TrashRepository",
    "Unexplained",
    "VideoEvent",
    "VideoListing",
    "VideoPage",
    "VideoQuery",
    "VideoReader",
    "VideoRepository",
    "classify",
    "database_call_bound",
    "forget_move",
    "is_connection_problem",
    "ping",
    "translate",
    "translate_errors",
    "translated",
]
