"""The end of a file's last packet, for files whose header gives no duration.

A browser's MediaRecorder writes WebM live: no Duration, no Cues. Both probe backends
come here (PyAV is a dependency whatever the backend), so they agree by construction;
ffprobe could do it too (-show_packets with -read_intervals), but through a second child
and a packet dump, for the same seek. The packets are demuxed, never decoded, from the
last keyframe before the end. Without Cues, FFmpeg's Matroska demuxer reaches it by
walking the clusters in C, not packet by packet in Python: about 20 ms of CPU for a
43 MB, 10-minute live WebM (measured here), the file read once, as hashing reads it.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import av.error

# Where to seek: far past any real end (a century, in AV_TIME_BASE microseconds), small
# enough that rescaling to a 90 kHz time base stays inside 64 bits.
_FAR_PAST_THE_END = 100 * 365 * 24 * 3600 * av.time_base
# Packets read after the seek before giving up: the last keyframe's group of pictures and
# its audio are a few hundred to a few thousand; this bounds a seek that did not move.
_MAX_PACKETS = 50_000


def last_packet_end(path: Path | str) -> float | None:
    """Seconds at which the file's last audio or video packet ends.

    None when no packet has a time, when the file cannot seek (reading a whole elementary
    stream in Python to find its end would cost more than the duration is worth), or when
    the seek left more than `_MAX_PACKETS` to read: a seek that did not move.
    """
    end: Fraction | None = None
    with av.open(os.fspath(path), metadata_errors="ignore") as container:
        timed = [
            s
            for s in container.streams
            if s.type in ("audio", "video")
            and not s.disposition & av.stream.Disposition.attached_pic
        ]
        try:
            container.seek(_FAR_PAST_THE_END, backward=True)
        except av.error.FFmpegError:
            return None
        try:
            for count, packet in enumerate(container.demux(timed)):
                if count >= _MAX_PACKETS:
                    return None
                if packet.pts is None or packet.time_base is None:
                    continue
                packet_end = (packet.pts + (packet.duration or 0)) * packet.time_base
                end = packet_end if end is None else max(end, packet_end)
        except (av.error.FFmpegError, EOFError):
            pass  # a damaged tail: the packets read so far are the answer
    return None if end is None else float(end)
