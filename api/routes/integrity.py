"""Integrity findings: files whose hash changed while size and mtime did not (issue 11 §5).

The workers' integrity jobs find them (shared/jobs/integrity_jobs.py); here an admin lists
them, exports them as CSV, and re-checks or accepts one. Both actions hash the file again first
(shared/integrity/review.py): a stale report never acts on a file that changed since.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from videolib.api import schemas
from videolib.api.auth import authenticate
from videolib.api.keys import INTEGRITY, LIBRARY, TOKENS
from videolib.api.openapi import TextBody, operation
from videolib.api.requests import path_id, query
from videolib.api.serialize import page_json
from videolib.shared.db.repository import Finding
from videolib.shared.errors import NotFoundError
from videolib.shared.integrity import review

routes = web.RouteTableDef()
TAGS = ("integrity",)
#: Findings read from the database per page of the CSV export.
EXPORT_PAGE = 1000
CSV_COLUMNS = (
    "id", "video_id", "path", "file_size", "file_mtime_ns", "recorded_hash", "observed_hash",
    "status", "found_at", "last_seen_at", "resolved_at", "resolved_by",
)  # fmt: skip
_REVIEW_RESPONSES = {
    200: schemas.FindingReview,
    400: schemas.Error,
    404: schemas.Error,
    409: schemas.Error,
}


def finding_json(finding: Finding) -> dict[str, Any]:
    model = schemas.Finding.model_validate(finding, from_attributes=True)
    return model.model_dump(mode="json", by_alias=True)


def _status(value: str) -> str | None:
    return None if value == "all" else value


@routes.get("/api/media/integrity")
@operation(
    summary="Where verification stands: open findings, the cycle under way, the last full one",
    responses={200: schemas.IntegrityStatus},
    tags=TAGS,
)
async def status(request: web.Request) -> web.Response:
    repository = request.app[INTEGRITY]
    state = await repository.state()
    body = schemas.IntegrityStatus(
        open_findings=await repository.open_count(),
        cycle_in_progress=state.cursor is not None,
        cursor=state.cursor or None,
        cycle_started_at=state.started_at,
        last_full_cycle_at=state.last_full_cycle_at,
    )
    return web.json_response(body.model_dump(mode="json", by_alias=True))


@routes.get("/api/media/integrity/findings")
@operation(
    summary="Files whose hash changed while size and mtime did not, newest first",
    query=schemas.FindingQuery,
    responses={200: schemas.FindingList, 400: schemas.Error},
    tags=TAGS,
)
async def findings(request: web.Request) -> web.Response:
    q = query(request, schemas.FindingQuery)
    rows, total = await request.app[INTEGRITY].findings(
        _status(q.status), (q.page - 1) * q.limit, q.limit
    )
    return web.json_response(page_json([finding_json(f) for f in rows], q.page, q.limit, total))


@routes.get("/api/media/integrity/findings.csv")
@operation(
    summary="The findings as CSV, one row each (a spreadsheet, a ticket)",
    query=schemas.FindingExportQuery,
    responses={200: TextBody("text/csv", "CSV with a header row"), 400: schemas.Error},
    tags=TAGS,
)
async def export(request: web.Request) -> web.StreamResponse:
    q = query(request, schemas.FindingExportQuery)
    repository = request.app[INTEGRITY]
    first, total = await repository.findings(_status(q.status), 0, EXPORT_PAGE)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="integrity-findings-{q.status}.csv"',
        }
    )
    await response.prepare(request)
    await response.write(_csv_rows([CSV_COLUMNS]))
    page, offset = first, 0
    while page:
        await response.write(_csv_rows([_csv_values(f) for f in page]))
        offset += len(page)
        if offset >= total or len(page) < EXPORT_PAGE:
            break
        page, _ = await repository.findings(_status(q.status), offset, EXPORT_PAGE)
    await response.write_eof()
    return response


def _csv_rows(rows: Iterable[Sequence[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue().encode()


def _csv_values(finding: Finding) -> list[str]:
    values = [getattr(finding, column) for column in CSV_COLUMNS]
    texts = [
        "" if v is None else v.isoformat() if isinstance(v, datetime) else str(v) for v in values
    ]
    # A path starting with = + - @ would be a formula in a spreadsheet (CWE-1236).
    return [_no_formula(text) for text in texts]


def _no_formula(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@routes.post("/api/media/integrity/findings/{id}/recheck")
@operation(
    summary="Hash the file again: close the finding if intact again or edited, else update it",
    responses=_REVIEW_RESPONSES,
    tags=TAGS,
)
async def recheck(request: web.Request) -> web.Response:
    return await _review(request, review.recheck)


@routes.post("/api/media/integrity/findings/{id}/accept")
@operation(
    summary="Record the file's new hash, after a re-check finds it exactly as reported",
    responses=_REVIEW_RESPONSES,
    tags=TAGS,
)
async def accept(request: web.Request) -> web.Response:
    return await _review(request, review.accept)


async def _review(
    request: web.Request, action: Callable[..., Awaitable[review.Review]]
) -> web.Response:
    finding_id = path_id(request)
    repository = request.app[INTEGRITY]
    finding = await repository.finding(finding_id)
    if finding is None:
        raise NotFoundError(f"{finding_id}: no such finding")
    claims = authenticate(request, request.app[TOKENS])
    done = await action(
        finding,
        library=request.app[LIBRARY],
        repository=repository,
        by=claims.subject or "admin",
    )
    return web.json_response({"outcome": done.outcome, "finding": finding_json(done.finding)})
