"""The page's files, served from the package: no build step, nothing from a CDN."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from videolib.api.requests import path_text
from videolib.shared.errors import NotFoundError

STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _file_response(file: Path) -> web.FileResponse:
    # no-cache: revalidated with the ETag on each load, so an upgrade shows at once.
    headers = {"Cache-Control": "no-cache", "Content-Type": _TYPES[file.suffix]}
    return web.FileResponse(file, headers=headers)


async def index(request: web.Request) -> web.FileResponse:
    """The library page (it holds no data: it asks the API once signed in)."""
    return _file_response(STATIC / "index.html")


async def to_index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/admin/")


async def static_file(request: web.Request) -> web.FileResponse:
    """A file of the page (scripts, styles); only files of the package's static folder."""
    name = path_text(request, "name")  # a NUL would make resolve() raise ValueError
    file = (STATIC / name).resolve()
    if STATIC.resolve() not in file.parents or not file.is_file() or file.suffix not in _TYPES:
        raise NotFoundError(f"/admin/static/{name}: no such file")
    return _file_response(file)
