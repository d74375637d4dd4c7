"""Typed keys of what the application holds, in one place (aiohttp `web.AppKey`)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.api.counts import CountCache
from videolib.api.cursors import CursorCodec
from videolib.api.flag import FeatureFlag
from videolib.api.metrics import ApiMetrics
from videolib.shared.config import Config
from videolib.shared.db.repository import (
    AdminVideoRepository,
    DirectoryLocks,
    HistoryRepository,
    IntegrityRepository,
    NearDuplicateRepository,
    ScanJobRepository,
    VideoRepository,
)
from videolib.shared.library import Library
from videolib.shared.media.on_demand import OnDemandPool
from videolib.shared.media.workers import ExaminerPool
from videolib.shared.tokens import TokenVerifier
from videolib.shared.trash import Trash

CONFIG = web.AppKey("config", Config)
LIBRARY = web.AppKey("library", Library)
ENGINE = web.AppKey("engine", AsyncEngine)
#: Reads, listing and an admin's edits of videos; none of the daemon's writes.
VIDEOS = web.AppKey("videos", AdminVideoRepository)
#: What an API scan or validation records: the write path every scan takes.
SCAN_WRITES = web.AppKey("scan_writes", VideoRepository)
LOCKS = web.AppKey("locks", DirectoryLocks)
#: The library's trash: a video's file moved in and out by rename (issue 11 §3).
TRASH = web.AppKey("trash", Trash)
#: Reads of video_events (the database writes them: migration 0012).
HISTORY = web.AppKey("history", HistoryRepository)
JOBS = web.AppKey("jobs", ScanJobRepository)
INTEGRITY = web.AppKey("integrity", IntegrityRepository)
#: Candidates, matched pairs and groups of near-duplicates (issue 12 §3).
NEAR_DUPLICATES = web.AppKey("near_duplicates", NearDuplicateRepository)
POOL = web.AppKey("pool", ExaminerPool)
#: Frames and codec reads for one request (the page's player and frame strip).
ON_DEMAND = web.AppKey("on_demand", OnDemandPool)
FLAG = web.AppKey("flag", FeatureFlag)
METRICS = web.AppKey("metrics", ApiMetrics)
COUNTS = web.AppKey("counts", CountCache)
CURSORS = web.AppKey("cursors", CursorCodec)
TOKENS = web.AppKey("tokens", TokenVerifier)
