"""What a worker process's jobs share: config, database, library, media worker pools."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from videolib.shared.config import Config
from videolib.shared.db.repository import FingerprintRepository, ThumbnailRepository
from videolib.shared.fingerprints import Fingerprinter, FingerprintSettings
from videolib.shared.library import Library
from videolib.shared.media.workers import ExaminerPool
from videolib.shared.runtime import examiner_pool
from videolib.shared.thumbnails import ThumbnailMaker, ThumbnailSettings

from .path_map import parse_path_map


@dataclass
class WorkerResources:
    config: Config
    engine: AsyncEngine
    #: Jobs of one process at once: the size of each media pool.
    concurrency: int = 1
    path_map: dict[str, Path] = field(init=False)
    _thumbnails: ThumbnailMaker | None = field(default=None, init=False)
    _fingerprints: Fingerprinter | None = field(default=None, init=False)
    #: The probe and hash workers of scan jobs: the API gives its own (not closed here);
    #: a worker process starts its own on the first scan.
    given_examiners: ExaminerPool | None = None
    _examiners: ExaminerPool | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.path_map = parse_path_map(self.config.worker.path_map)  # checked at load

    @property
    def thumbnails(self) -> ThumbnailMaker:
        """The thumbnail maker, its worker processes started on first use."""
        if self._thumbnails is None:
            settings = ThumbnailSettings.from_config(self.config)
            settings = settings.with_workers(self.concurrency)
            self._thumbnails = ThumbnailMaker(
                ThumbnailRepository(self.engine),
                Library.from_config(self.config),
                settings,
                path_map=self.path_map,
            )
        return self._thumbnails

    @property
    def fingerprints(self) -> Fingerprinter:
        """The fingerprinter, its worker processes started on first use."""
        if self._fingerprints is None:
            settings = FingerprintSettings.from_config(self.config)
            self._fingerprints = Fingerprinter(
                FingerprintRepository(self.engine),
                Library.from_config(self.config),
                settings.with_workers(self.concurrency),
                path_map=self.path_map,
            )
        return self._fingerprints

    @property
    def examiners(self) -> ExaminerPool:
        """The examiners of scans: the given pool, or one of ours started on first use."""
        if self.given_examiners is not None:
            return self.given_examiners
        if self._examiners is None:
            self._examiners = examiner_pool(self.config)
        return self._examiners

    async def close(self, grace_s: float) -> None:
        """Stop the media workers (a grab or a fingerprint in progress is killed)."""
        if self._examiners is not None:
            await self._examiners.close(grace_s)
        if self._thumbnails is not None:
            await self._thumbnails.close(grace_s)
        if self._fingerprints is not None:
            await self._fingerprints.close(grace_s)
