"""The library's mount safety: the passes held back, and applying one (issue 11 §1)."""

from __future__ import annotations

from aiohttp import web

from videolib.api import schemas
from videolib.api.jobs import scan_now
from videolib.api.keys import CONFIG, ENGINE, LIBRARY
from videolib.api.openapi import operation
from videolib.api.requests import body
from videolib.shared.db.repository import HeldPass, MountRepository
from videolib.shared.errors import ConflictError
from videolib.shared.mount_guard import MountGuard, limits_from

routes = web.RouteTableDef()
TAGS = ("library",)


@routes.get("/api/media/library/held-passes")
@operation(
    summary="Missing marks held back: the library not mounted, a folder unmounted, or too many",
    responses={200: schemas.HeldPasses},
    tags=TAGS,
)
async def held_passes(request: web.Request) -> web.Response:
    app = request.app
    guard = MountGuard(app[LIBRARY], app[ENGINE], limits_from(app[CONFIG]))
    reason = await guard.unmounted_reason()
    held = await MountRepository(app[ENGINE]).held()
    return web.json_response(
        {
            "libraryMounted": reason is None,
            "libraryReason": reason,
            "heldPasses": [_held_json(h) for h in held],
        }
    )


@routes.post("/api/media/library/held-passes/apply")
@operation(
    summary="Apply a type's held pass: mark what is gone now missing (never without the marker)",
    body=schemas.ApplyHeldRequest,
    responses={200: schemas.ScanResult, 400: schemas.Error, 409: schemas.Error},
    tags=TAGS,
)
async def apply_held(request: web.Request) -> web.Response:
    given = await body(request, schemas.ApplyHeldRequest)
    result = await scan_now(request.app, given.directory_type, True, apply_missing=True)
    if result.held:  # only the marker can still hold it
        raise ConflictError(f"{given.directory_type}: still held: {result.held[0].reason}")
    return web.json_response(result.as_dict())


def _held_json(held: HeldPass) -> dict[str, object]:
    return {
        "directoryType": held.directory_type,
        "kind": held.kind,
        "reason": held.reason,
        "missing": held.missing,
        "records": held.records,
        "heldAt": held.held_at.isoformat(),
        "passes": held.passes,
    }
