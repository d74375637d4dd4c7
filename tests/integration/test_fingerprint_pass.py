"""The fingerprint's one pass: the Stash pHash's frames taken from the per-second hashes'
decoding are the very frames its seeks find, and the file is opened once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from tests import media, scenes
from videolib.shared.media.fingerprint import compute_fingerprint
from videolib.shared.media.frame_hashes import hash_seconds
from videolib.shared.media.probe import picture_stream
from videolib.shared.media.stash_phash import StashFrames, read_frames


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pass")
    return {
        # A 10 s GOP with B-frames: every frame is decoded, the 25 come from the pass.
        "long_gop": scenes.make_scene_video(
            folder / "long.mp4", 5, seconds=6, fps=25, codec="libx264", gop=250, b_frames=3
        ),
        # A keyframe a second: keyframes only are decoded, the 25 are read by seeking.
        "web_gop": media.make_scene_video(
            folder / "web.mp4", seed=2, width=480, height=270, keyframe_every=5
        ),
    }


def _through_the_pass(path: Path) -> tuple[list[np.ndarray], bool]:
    """Stash's frames as the fingerprint reads them; whether the pass gave all 25."""
    with av.open(str(path)) as container:
        stream = picture_stream(container)
        assert stream is not None
        stream.codec_context.thread_count = 1
        stash = StashFrames(str(path), container, stream)
        hash_seconds(str(path), container, stream, also=stash)
        from_the_pass = stash.done
        return stash.finish(), from_the_pass


@pytest.mark.parametrize(("clip", "from_the_pass"), [("long_gop", True), ("web_gop", False)])
def test_the_pass_gives_the_frames_the_seeks_find(
    clips: dict[str, Path], clip: str, from_the_pass: bool
) -> None:
    shared, all_in_pass = _through_the_pass(clips[clip])
    alone = read_frames(str(clips[clip]))
    assert all_in_pass is from_the_pass
    assert len(shared) == len(alone) == 25
    for index, (ours, theirs) in enumerate(zip(shared, alone, strict=True)):
        assert np.array_equal(ours, theirs), f"frame {index}"


@pytest.mark.parametrize("clip", ["long_gop", "web_gop"])
def test_the_fingerprint_opens_the_file_once(
    clips: dict[str, Path], clip: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_open = av.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    result = compute_fingerprint(str(clips[clip]))
    assert result.error is None and result.phash is not None
    assert opened == [str(clips[clip])]
