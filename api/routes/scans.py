"""Scans: `POST /api/media/videos/scan` and `GET /api/media/scans/{jobId}`."""

from __future__ import annotations

from aiohttp import web

from videolib.api import schemas
from videolib.api.jobs import scan_now, start_job
from videolib.api.keys import JOBS
from videolib.api.openapi import operation
from videolib.api.requests import body, path_id
from videolib.api.serialize import job_json
from videolib.shared.errors import NotFoundError

routes = web.RouteTableDef()
TAGS = ("scans",)


@routes.post("/api/media/videos/scan")
@operation(
    summary="Scan one directory type (the seed's body); {async: true} answers 202 with a job",
    body=schemas.ScanRequest,
    responses={
        200: schemas.ScanResult,
        202: schemas.JobAccepted,
        400: schemas.Error,
        409: schemas.Error,
    },
    tags=TAGS,
)
async def start_scan(request: web.Request) -> web.Response:
    given = await body(request, schemas.ScanRequest)
    if given.run_async:
        job = await start_job(request.app, given.directory_type, given.skip_existing)
        return web.json_response(
            {"jobId": str(job.id), "status": job.status},
            status=202,
            headers={"Location": f"/api/media/scans/{job.id}"},
        )
    result = await scan_now(request.app, given.directory_type, given.skip_existing)
    return web.json_response(result.as_dict())


@routes.get("/api/media/scans/{jobId}")
@operation(
    summary="Progress and result of a scan job",
    responses={200: schemas.ScanJob, 400: schemas.Error, 404: schemas.Error},
    tags=TAGS,
)
async def get_scan(request: web.Request) -> web.Response:
    job_id = path_id(request, "jobId")
    job = await request.app[JOBS].get(job_id)
    if job is None:
        raise NotFoundError(f"{job_id}: no such scan job")
    return web.json_response(job_json(job))
