"""Where a stored library path is on this host: the worker's `[worker] path_map` (pure).

The database knows paths relative to the library root ("videos/2024/a.mp4"). A worker on
another host may mount the library, or one type folder of it, elsewhere: the map says
"videos=/mnt/nas1/videos; playback=/mnt/nas2/playback". The longest matching prefix wins;
a path no prefix matches is under the worker's own `library.root` (Library.absolute).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

PathMap = Mapping[str, Path]


def parse_path_map(text: str) -> dict[str, Path]:
    """ "prefix=/local/dir; ..." -> {prefix: dir}. Raises ValueError saying which entry is bad."""
    mapping: dict[str, Path] = {}
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        prefix, equals, local = (piece.strip() for piece in entry.partition("="))
        if not equals or not prefix or not local:
            raise ValueError(f"entry {entry!r} is not library-path=/local/directory")
        stored = PurePosixPath(prefix)
        if stored.is_absolute() or ".." in stored.parts or prefix.startswith("."):
            raise ValueError(
                f"{prefix!r} must be a library path as the database stores it, such as 'videos'"
            )
        if not Path(local).is_absolute():
            raise ValueError(f"{local!r} (for {prefix!r}) must be an absolute directory")
        key = str(stored)
        if key in mapping:
            raise ValueError(f"{prefix!r} is mapped twice")
        mapping[key] = Path(local)
    return mapping


def mapped_path(stored_path: str, path_map: PathMap) -> Path | None:
    """The file of a stored path on this host by the map; None: no prefix matches it (the
    caller uses the library root). The path must be checked safe first (Library.absolute)."""
    parts = PurePosixPath(stored_path).parts
    for length in range(len(parts), 0, -1):
        prefix = "/".join(parts[:length])
        if prefix in path_map:
            return path_map[prefix].joinpath(*parts[length:])
    return None
