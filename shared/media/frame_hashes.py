"""One perceptual hash per second of a video, as shown and mirrored (the input of similarity.py).

The hash is a 64-bit DCT pHash (imagehash's `phash`: 32x32 grey, the 8x8 lowest
frequencies against their median), computed with numpy on a picture that FFmpeg's filter
graph has already cut and scaled, so nothing else decodes or resizes:
- Only the centre is hashed (CENTRE_WIDTH x CENTRE_HEIGHT): the borders are where copies
  differ (crops, letterboxes, burnt-in subtitles in the bottom 15 %, logos in the corners),
  while the centre is in every copy. A 10 % crop then only zooms the hashed region by 1.11,
  which the lowest DCT frequencies barely see.
- A second's picture is the mean of up to eight pictures spread over it, so that a copy
  trimmed by a fraction of a second hashes nearly the same pictures.
- The mirror's hash comes from the same DCT: mirroring a picture flips the sign of its odd
  horizontal frequencies, so a flipped upload costs no second picture.
- A flat second (black, a uniform colour: too little contrast to hash) is `FLAT`, which
  never matches: videos that share only a black intro are not near-duplicates (Immich's
  #9794).

Why not PDQ, measured on 12 bench sources with the same centre pictures: its bits
differ by 35 % (median) between a 10 % crop and its original, against 42 % for the 1st
percentile of distinct pictures, so crops and other clips overlap; this pHash: 17 % against
34 %. PDQ costs about as much per picture (0.07 ms, 0.05 ms here; decoding dominates
both), is 256 bits (four times the bigint[] columns and index keys) and `pdqhash` 0.2.8
has no wheel for Python 3.11 (pip compiles its C++). bench/near_duplicates.py's figures
with this hash are in the README: recall >= 0.97 on every transformation, two false
matches over 143,370 pairs of distinct sources, every accepted pair sharing an index key.

Decoding is one sequential pass, no seeks (a seek per second decodes from the keyframe
before it, more than one pass when keyframes are over 2 s apart). When the keyframes are
at most KEYFRAME_ONLY_INTERVAL apart (web encodes often use a 1 s GOP) only keyframes are
decoded (`skip_frame = "NONKEY"`). Cost, per 26 s bench clip at 540p 6 fps: 79 ms decoding
every frame, 33 ms keyframes only, against 6.5-11 ms for the thumbnail job's one frame:
a hash per second needs a picture per second, so its cost grows with the duration.
"""

from __future__ import annotations

import itertools
from typing import Any

import av
import av.error
import numpy as np

from videolib.shared.media import classify
from videolib.shared.media.frames import rotation_filters
from videolib.shared.media.probe import picture_stream
from videolib.shared.media.similarity import FLAT, FrameHashes

#: The share of the picture's width and height, around its centre, that is hashed: the
#: bottom 15 % holds burnt-in subtitles (the subtitle safe area), the corners logos.
CENTRE_WIDTH = 0.8
CENTRE_HEIGHT = 0.7
#: Side of the grey picture the DCT reads (imagehash: hash_size 8 x highfreq_factor 4).
PICTURE_SIDE = 32
#: Below this standard deviation of grey levels (0-255) a picture is flat: not hashed.
FLAT_CONTRAST = 2.0
#: Keyframes at most this many seconds apart are enough: only they are decoded.
KEYFRAME_ONLY_INTERVAL = 1.0
#: Packets read (no decoding) to measure the keyframe interval.
_SAMPLE_PACKETS = 300
#: Pictures averaged into one second's hash, at most (one per eighth of a second).
SLOTS_PER_SECOND = 8
#: No more seconds than this are hashed (a 4-hour recording), so the arrays stay bounded.
MAX_SECONDS = 4 * 3600

_HASH_SIDE = 8
# The orthonormal DCT-II matrix: dct(x) = _DCT @ x @ _DCT.T, only the rows hashed.
_k = np.arange(PICTURE_SIDE)
_DCT = np.cos(np.pi * (2 * _k[None, :] + 1) * _k[:_HASH_SIDE, None] / (2 * PICTURE_SIDE))
# Mirroring x left to right multiplies horizontal frequency v by (-1)^v.
_MIRROR_SIGNS = np.where(np.arange(_HASH_SIDE) % 2 == 0, 1.0, -1.0)[None, :]
# Bit k of the hash is coefficient _BIT_ORDER[k] (row-major in the 8x8 block), in blocks of
# 16 from the lowest frequencies (u, v < 4) to the highest, so that each 16-bit band of
# similarity.index_keys is one block: the first, the most stable under crops and overlays,
# is the band most copies share.
_BIT_ORDER = sorted(range(64), key=lambda c: (c // 8 >= 4, c % 8 >= 4, c))
_BIT_WEIGHTS = np.zeros(64, dtype=np.uint64)
_BIT_WEIGHTS[_BIT_ORDER] = [1 << bit for bit in range(64)]


def compute_frame_hashes(path: str) -> FrameHashes:
    """The per-second hashes of the video at `path`, shown and mirrored.

    Raises ValueError (no video stream, nothing decodable) or av's errors for a bad file.
    """
    with av.open(path, metadata_errors="ignore") as container:
        stream = picture_stream(container)
        if stream is None:
            raise ValueError(f"{path}: no video stream")
        stream.codec_context.thread_count = 1  # one process per worker already
        if _keyframe_interval(container, stream) <= KEYFRAME_ONLY_INTERVAL:
            stream.codec_context.skip_frame = "NONKEY"
        shown, mirrored = _hash_seconds(container, stream)
    if not shown:
        raise ValueError(f"{path}: no decodable frame")
    return FrameHashes(seconds=tuple(shown), mirrored=tuple(mirrored))


def picture_hashes(grey: np.ndarray) -> tuple[int, int]:
    """The pHash of a PICTURE_SIDE square grey picture and of its mirror; FLAT if flat."""
    pixels = grey.astype(np.float64)
    if float(pixels.std()) < FLAT_CONTRAST:
        return FLAT, FLAT
    low = _DCT @ pixels @ _DCT.T
    return _bits(low), _bits(low * _MIRROR_SIGNS)


def _bits(low: np.ndarray) -> int:
    """64 bits, one per coefficient above the median, as a signed 64-bit int (bigint)."""
    above = (low > np.median(low)).ravel()
    unsigned = int(np.bitwise_or.reduce(_BIT_WEIGHTS[above])) if above.any() else 0
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def _keyframe_interval(container: Any, stream: Any) -> float:
    """The largest gap between keyframes among the first packets; inf if one or none."""
    times = []
    for count, packet in enumerate(container.demux(stream)):
        if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
            times.append(float(packet.pts * packet.time_base))
        if count >= _SAMPLE_PACKETS:
            break
    container.seek(0, stream=stream, backward=True, any_frame=False)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sorted(times))]
    return max(gaps) if gaps else float("inf")


def _hash_seconds(container: Any, stream: Any) -> tuple[list[int], list[int]]:
    """One pass over the frames: each second's hash is of the mean of its pictures.

    The mean of up to SLOTS_PER_SECOND pictures spread over the second, not one frame: a
    copy trimmed by 2.7 s samples other instants than its original, and a mean over the
    second changes less with that phase than a single frame does. The window is centred
    on the whole second, so that keyframes-only decoding of a 1 s GOP (one picture, at
    the whole second) hashes nearly what decoding every frame does.
    """
    start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
    means: list[np.ndarray] = []
    graph: _GreyCentre | None = None
    total: np.ndarray | None = None
    count, second, last_slot = 0, 0, -1
    for frame in container.decode(stream):
        if frame.time is None:
            continue
        when = max(0.0, float(frame.time) - start)
        # Second k is [k - 0.5, k + 0.5): centred on k, where a 1 s GOP has its keyframe.
        slot = int((when + 0.5) * SLOTS_PER_SECOND)
        if slot <= last_slot:
            continue  # this eighth of a second has its picture already
        last_slot = slot
        if slot // SLOTS_PER_SECOND >= MAX_SECONDS:
            break
        while slot // SLOTS_PER_SECOND > second:  # the second is over
            if total is not None:
                means.append(total / count)
            elif means:
                means.append(means[-1])  # no frame in it (keyframes only): the one before
            total, count, second = None, 0, second + 1
        graph = graph or _GreyCentre(stream, frame)
        picture = graph.picture(frame).astype(np.float64)
        total = picture if total is None else total + picture
        count += 1
    if total is not None and second <= last_slot / SLOTS_PER_SECOND - 0.5:
        means.append(total / count)  # the last second, unless the video ends before its centre
    pairs = [picture_hashes(mean) for mean in means]
    return [shown for shown, _ in pairs], [mirrored for _, mirrored in pairs]


class _GreyCentre:
    """An FFmpeg filter graph: upright, the centre cut out, scaled to a small grey square."""

    def __init__(self, stream: Any, first: av.VideoFrame) -> None:
        self._graph = av.filter.Graph()
        nodes = [self._graph.add_buffer(template=stream)]
        clockwise = classify.normalise_rotation(-float(first.rotation))
        for name, arguments in rotation_filters(clockwise):
            nodes.append(self._graph.add(name, arguments))
        nodes.append(self._graph.add("crop", f"iw*{CENTRE_WIDTH}:ih*{CENTRE_HEIGHT}"))
        # area: every source pixel counts, so compression noise averages out.
        nodes.append(self._graph.add("scale", f"{PICTURE_SIDE}:{PICTURE_SIDE}:flags=area"))
        nodes.append(self._graph.add("format", "gray"))
        nodes.append(self._graph.add("buffersink"))
        for upstream, downstream in itertools.pairwise(nodes):
            upstream.link_to(downstream)
        self._graph.configure()

    def picture(self, frame: av.VideoFrame) -> np.ndarray:
        self._graph.push(frame)
        return self._graph.pull().to_ndarray()
