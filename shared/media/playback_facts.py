"""Read a file's container and codecs for the playability decision (shared/media/playable.py).

Headers only, nothing decoded: PyAV opens the file and reads its stream table. Runs in a
worker process (shared/media/on_demand.py), so a hostile file costs a worker, not the API.
"""

from __future__ import annotations

import os
from typing import Any

import av
import av.error

from videolib.shared.media.playable import PlaybackFacts
from videolib.shared.media.probe import picture_stream


def read_playback_facts(path: str) -> PlaybackFacts:
    """The container and the codecs a browser would have to decode.

    Raises ValueError (av.error.InvalidDataError is one) or OSError for an unreadable file.
    """
    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        # The probe's choice: the default track first, as a browser shows it.
        video = picture_stream(container)
        sounds = list(container.streams.audio)
        audio = next((s for s in sounds if _is_default(s)), sounds[0] if sounds else None)
        return PlaybackFacts(
            container=container.format.name,
            video_codec=_codec_name(video),
            audio_codec=_codec_name(audio),
        )


def _codec_name(stream: Any) -> str | None:
    # The canonical name ("h264"), as ffprobe's codec_name, not the decoder's ("libdav1d").
    return None if stream is None else str(stream.codec_context.codec.canonical_name)


def _is_default(stream: Any) -> bool:
    return bool(stream.disposition & av.stream.Disposition.default)
