"""The files whose fingerprints are pinned (tests/integration/test_fingerprint_outputs.py).

The README's near-duplicate figures stand on the exact bits of the Stash pHash and of the
per-second hashes, so a change that only makes fingerprinting cheaper must leave every bit
as it was. These are the corpus shapes (tests/corpus.py, tests/media.py,
tests/media_shapes.py) and scenes with content (tests/scenes.py, tests/media.py) in the
decoding paths that matter: long GOPs with B-frames, a keyframe a second (keyframes only),
timestamps far from zero, rotation, several tracks, no duration in the header. Every maker
here is deterministic (no noise from os.urandom), so the files are the same on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from tests import corpus, media, media_shapes, scenes
from videolib.shared.media.fingerprint import FingerprintResult
from videolib.shared.media.goimagehash import to_unsigned

Maker = Callable[[Path], Path]


def _makers() -> dict[str, tuple[str, Maker]]:
    return {
        "scene_b_frames": (
            "b_frames.mp4",
            lambda p: scenes.make_scene_video(
                p, 5, seconds=6, fps=25, codec="libx264", gop=250, b_frames=3
            ),
        ),
        "scene_gop_48": (
            "gop48.mp4",
            lambda p: scenes.make_scene_video(
                p, 6, seconds=8, fps=24, codec="libx264", gop=48, b_frames=2
            ),
        ),
        "scene_vp9": ("scene.webm", lambda p: scenes.make_scene_video(p, 7, codec="vp9")),
        "scene_mpeg4_avi": ("scene.avi", lambda p: scenes.make_scene_video(p, 8, codec="mpeg4")),
        "moving": ("moving.mp4", lambda p: media.make_scene_video(p, seed=1)),
        "moving_mirrored": (
            "mirrored.mp4",
            lambda p: media.make_scene_video(p, seed=1, mirrored=True),
        ),
        "moving_trimmed_mkv": (
            "trimmed.mkv",
            lambda p: media.make_scene_video(p, seed=1, skip_seconds=2, width=256, height=144),
        ),
        "moving_web_gop": (
            "web.mp4",
            lambda p: media.make_scene_video(p, seed=2, width=480, height=270, keyframe_every=5),
        ),
        "moving_black_intro": (
            "intro.mp4",
            lambda p: media.make_scene_video(p, seed=3, seconds=6, black_intro=3),
        ),
        "offset_mp4": ("offset.mp4", media_shapes.make_offset_clip),
        "offset_mkv": ("offset.mkv", media_shapes.make_offset_clip),
        "offset_flv": ("offset.flv", media_shapes.make_offset_clip),
        "offset_ts": ("offset.ts", media_shapes.make_offset_clip),
        "two_tracks": (
            "two.mkv",
            lambda p: media_shapes.make_two_video_tracks(
                p, sizes=((160, 120), (320, 240)), default=1
            ),
        ),
        "cover_first": (
            "cover.mp4",
            lambda p: media_shapes.make_mp4_with_cover(p, cover_first=True),
        ),
        "cover_mkv": ("cover.mkv", media_shapes.make_mkv_with_cover),
        "anamorphic": (
            "dvd.mkv",
            lambda p: media_shapes.make_anamorphic(
                p, size=(720, 576), sample_aspect=Fraction(64, 45)
            ),
        ),
        "live_webm": ("live.webm", media_shapes.make_live_webm),
    }


def make_fingerprint_set(directory: Path) -> dict[str, Path]:
    """Write every file of the set into `directory`; the paths by case name."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {case: maker(directory / name) for case, (name, maker) in _makers().items()}
    files |= {
        f"plain_{case}": path for case, path in media.make_corpus(directory / "plain").items()
    }
    extended = corpus.make_extended_corpus(directory / "extended")
    return files | {f"corpus_{case}": path for case, path in extended.items()}


def summary(result: FingerprintResult) -> dict[str, object]:
    """What is pinned of a fingerprint: the pHash, and the per-second hashes by digest."""
    if result.error is not None or result.frames is None:
        return {"error": result.error}
    digest = hashlib.sha256()
    for value in result.frames.seconds + result.frames.mirrored + result.index_keys:
        digest.update(value.to_bytes(8, "big", signed=True))
    return {
        "phash": None if result.phash is None else f"{to_unsigned(result.phash):016x}",
        "phash_error": result.phash_error,
        "seconds": len(result.frames.seconds),
        "hashes_sha256": digest.hexdigest(),
    }
