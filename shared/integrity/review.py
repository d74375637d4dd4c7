"""An admin's actions on a finding, each after a fresh re-check of the file.

A report can be stale: the file may have been repaired, edited or rotted further since.
So every action hashes the file again first (immich-app/immich#30933: a stale report
deleted an original) and acts only on what it finds now. Nothing here deletes or moves a
file; the one write to a video is an accepted hash, guarded in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from videolib.shared.db.repository import Finding, IntegrityRepository
from videolib.shared.errors import ConflictError, PathError
from videolib.shared.library import Library
from videolib.shared.trash_paths import TRASH_FOLDER

from .check import check_file
from .verdict import Changed, Intact, Mismatch, Recorded, Unread, Verdict

#: What a re-check found, as the API reports it.
Outcome = Literal["accepted", "intact", "superseded", "still_mismatch"]


@dataclass(frozen=True, slots=True)
class Review:
    finding: Finding
    outcome: Outcome


async def recheck(
    finding: Finding, *, library: Library, repository: IntegrityRepository, by: str
) -> Review:
    """Hash the file again and update the finding: closed if the file is intact again or
    was edited since (superseded), kept open with the hash seen now otherwise."""
    _must_be_open(finding)
    if gone := await _closed_if_gone(finding, repository, by):
        return gone
    verdict = await _verdict(finding, library)
    return await _record(finding, verdict, repository, by)


async def accept(
    finding: Finding, *, library: Library, repository: IntegrityRepository, by: str
) -> Review:
    """Make the file's current hash the recorded one, if the file is still exactly as the
    finding saw it; otherwise record what the re-check found and refuse (409)."""
    _must_be_open(finding)
    if await _closed_if_gone(finding, repository, by):
        raise ConflictError(f"{finding.path}: {_GONE}; nothing was accepted")
    verdict = await _verdict(finding, library)
    if isinstance(verdict, Mismatch) and verdict.observed_sha256 == finding.observed_hash:
        accepted = await repository.accept(finding.id, by)
        if accepted is None:
            raise ConflictError(
                f"{finding.path}: the record changed since the finding; re-check it first"
            )
        return Review(accepted, "accepted")
    review = await _record(finding, verdict, repository, by)
    raise ConflictError(f"{finding.path}: {_refusal(review)}; nothing was accepted")


def _refusal(review: Review) -> str:
    if review.outcome == "intact":
        return "the file matches its recorded hash again (finding closed)"
    if review.outcome == "superseded":
        return "the file was edited since (finding closed; it is re-probed as an edit)"
    return (
        f"the file changed again since the report (now {review.finding.observed_hash}); "
        "review the new hash"
    )


_GONE = "the video was trashed or deleted since (finding closed)"


async def _closed_if_gone(
    finding: Finding, repository: IntegrityRepository, by: str
) -> Review | None:
    """A finding whose video was deleted (its id is gone) or trashed (its path is in the
    library's trash) has no file left to judge: it is closed, superseded, so that its alert
    does not fire for ever. None while the video is where the finding saw it."""
    if finding.video_id is not None and not finding.path.startswith(f"{TRASH_FOLDER}/"):
        return None
    closed = await repository.resolve(finding.id, "superseded", by)
    if closed is None:
        raise ConflictError(f"{finding.path}: the finding was resolved meanwhile")
    return Review(closed, "superseded")


def _must_be_open(finding: Finding) -> None:
    if finding.status != "open":
        raise ConflictError(f"{finding.path}: the finding is {finding.status} already")


async def _verdict(finding: Finding, library: Library) -> Verdict:
    try:
        path: Path = library.absolute(finding.path)
    except PathError as error:
        raise ConflictError(error.message) from None
    recorded = Recorded(finding.file_size, finding.file_mtime_ns, finding.recorded_hash)
    verdict = await check_file(path, recorded)
    if isinstance(verdict, Unread):
        raise ConflictError(f"{finding.path}: {verdict.reason}; nothing was changed")
    return verdict


async def _record(
    finding: Finding, verdict: Verdict, repository: IntegrityRepository, by: str
) -> Review:
    if isinstance(verdict, Intact | Changed):
        outcome: Outcome = "intact" if isinstance(verdict, Intact) else "superseded"
        closed = await repository.resolve(finding.id, outcome, by)
        if closed is None:
            raise ConflictError(f"{finding.path}: the finding was resolved meanwhile")
        return Review(closed, outcome)
    assert isinstance(verdict, Mismatch)
    seen = await repository.seen_again(finding.id, verdict.observed_sha256)
    if seen is None:
        raise ConflictError(f"{finding.path}: the finding was resolved meanwhile")
    return Review(seen, "still_mismatch")
