"""A video file served with HTTP Range: aiohttp's FileResponse, plus If-Range on ETags.

aiohttp (3.14) answers Range, suffix ranges, 416, If-None-Match (304), If-Match and an
If-Range that holds a date. An If-Range that holds an entity tag is not understood there
(`request.if_range` parses dates only) and is ignored, so a stale tag still got a 206: a
player resuming after the file was replaced would splice two files' bytes. RFC 9110
§13.1.5: if the tag does not match strongly, the Range is ignored and the whole file sent.

The ETag is aiohttp's own, `"<mtime ns>-<size>"` in hex, strong. It names the bytes as far
as the scanner's own change test does (SPEC: stat-skip on size and mtime_ns), costs no
read, and is the same on every API replica that mounts the library; an inode in it would
differ between hosts (Apache dropped INode from its default FileETag for that reason). The
record's sha256 would name the bytes better, but it is only as fresh as the last scan:
after an edit in place the record still holds the old hash while the file is new.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict
from prometheus_client import Counter


def file_etag(stat: os.stat_result) -> str:
    """The quoted strong ETag aiohttp's FileResponse sends for a file with this stat."""
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def if_range_allows_range(if_range: str, current_etag: str) -> bool:
    """Whether a Range may be served under this If-Range entity tag (strong match only)."""
    return not if_range.startswith("W/") and if_range == current_etag


class VideoFileResponse(web.FileResponse):
    """FileResponse with If-Range on entity tags, counting the body bytes it sends."""

    def __init__(
        self, path: Path, stat: os.stat_result, sent_bytes: Counter, *, content_type: str
    ) -> None:
        # private: the file is the admin's, not for shared caches; no-cache: revalidate.
        headers = {hdrs.CONTENT_TYPE: content_type, hdrs.CACHE_CONTROL: "private, no-cache"}
        super().__init__(path, headers=headers)
        self._etag_now = file_etag(stat)
        self._sent_bytes = sent_bytes

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        headers = CIMultiDict(request.headers)
        # FileResponse would serve a `<file>.gz` or `.br` beside the video to a client that
        # accepts that encoding: the record's own bytes only, whatever lies beside them.
        headers.popall(hdrs.ACCEPT_ENCODING, None)
        if_range = request.headers.get(hdrs.IF_RANGE, "")
        if if_range.startswith(('"', "W/")):
            del headers[hdrs.IF_RANGE]  # an entity tag: decided here, not read as a date
            if not if_range_allows_range(if_range, self._etag_now):
                headers.popall(hdrs.RANGE, None)
        request = request.clone(headers=headers)
        writer = await super().prepare(request)
        if request.method == hdrs.METH_GET and self.status in (200, 206):
            self._sent_bytes.inc(self.content_length or 0)
        return writer
