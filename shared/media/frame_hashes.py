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
from typing import Any, Protocol

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
        return hash_seconds(path, container, stream)


class FrameUser(Protocol):
    """Another use of the same decoding pass (the Stash pHash's frames)."""

    @property
    def done(self) -> bool: ...

    def demuxed(self, pts: int | None, keyframe: bool) -> None: ...

    def demuxed_all(self) -> None: ...

    def needless(self, pts: int | None) -> bool: ...

    def add(self, frame: av.VideoFrame) -> None: ...


def hash_seconds(
    path: str, container: Any, stream: Any, also: FrameUser | None = None
) -> FrameHashes:
    """The per-second hashes of `stream`, in one pass from the start. `also` is told of
    every packet (`demuxed`, then `demuxed_all` if the pass read to the end) and, when every
    frame is decoded (not keyframes only), given the frames as well.

    A packet whose frame neither use needs is decoded only if other frames refer to it
    (`skip_frame = "NONREF"`): the frames that are used stay the same, fewer are made.
    Raises ValueError naming `path` when nothing decodes.
    """
    seconds = SecondHashes(stream, keyframes_only=keyframes_suffice(container, stream))
    context = stream.codec_context
    # Keyframes only: `also`'s frames are not keyframes; it reads them by itself.
    fed = None if seconds.keyframes_only else also
    if seconds.keyframes_only:
        context.skip_frame = "NONKEY"
    for packet in container.demux(stream):
        pts = packet.pts
        if also is not None:
            also.demuxed(pts, packet.is_keyframe)
        skip = not seconds.keyframes_only and seconds.needless(pts)
        skip = skip and (fed is None or fed.done or fed.needless(pts))
        if not seconds.keyframes_only:
            context.skip_frame = "NONREF" if skip else "DEFAULT"
        for frame in packet.decode():
            seconds.add(frame)
            if fed is not None and not fed.done:
                fed.add(frame)
        seconds.sent(pts, skipped=skip)
        if seconds.full:
            break  # `also` seeks to what it still lacks, past MAX_SECONDS
    else:
        if also is not None:
            also.demuxed_all()
    return seconds.result(path)


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


def keyframes_suffice(container: Any, stream: Any) -> bool:
    """Whether decoding keyframes only gives a picture a second (KEYFRAME_ONLY_INTERVAL);
    the demuxer is back at the start after."""
    return _keyframe_interval(container, stream) <= KEYFRAME_ONLY_INTERVAL


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


class SecondHashes:
    """One pass over the frames: each second's hash is of the mean of its pictures.

    The mean of up to SLOTS_PER_SECOND pictures spread over the second, not one frame: a
    copy trimmed by 2.7 s samples other instants than its original, and a mean over the
    second changes less with that phase than a single frame does. The window is centred
    on the whole second, so that keyframes-only decoding of a 1 s GOP (one picture, at
    the whole second) hashes nearly what decoding every frame does.

    Frames go in with `add`, in the decoder's (presentation) order. `needless` tells the
    caller which packets' frames this pass would not use, so that a frame nothing refers
    to need not be decoded at all (`skip_frame = "NONREF"`); `sent` records what went to
    the decoder, as that rule needs it.
    """

    def __init__(self, stream: Any, *, keyframes_only: bool) -> None:
        self._stream = stream
        self.keyframes_only = keyframes_only
        self._start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        self._time_base = stream.time_base
        self._means: list[np.ndarray] = []
        self._graph: _GreyCentre | None = None
        self._total: np.ndarray | None = None
        self._count, self._second, self._last_slot = 0, 0, -1
        #: Slot -> the smallest pts sent to the decoder in full in it (see `needless`).
        self._decoded_in: dict[int, int] = {}
        #: True once MAX_SECONDS are hashed: no frame after is used.
        self.full = False

    def _slot(self, seconds: float) -> int:
        # Second k is [k - 0.5, k + 0.5): centred on k, where a 1 s GOP has its keyframe.
        return int((max(0.0, seconds - self._start) + 0.5) * SLOTS_PER_SECOND)

    def needless(self, pts: int | None) -> bool:
        """Whether the frame of a packet of this `pts` cannot be a picture of this pass:
        a frame of smaller pts in its slot went to the decoder in full, so that one comes
        out first and takes the slot."""
        if self.full:
            return True
        if pts is None or self._time_base is None:
            return False
        slot = self._slot(float(pts * self._time_base))
        earlier = self._decoded_in.get(slot)
        return earlier is not None and earlier < pts

    def sent(self, pts: int | None, *, skipped: bool) -> None:
        """A packet of this `pts` went to the decoder (`skipped`: if nothing refers to it)."""
        if skipped or pts is None or self._time_base is None:
            return
        slot = self._slot(float(pts * self._time_base))
        if slot not in self._decoded_in or pts < self._decoded_in[slot]:
            self._decoded_in[slot] = pts

    def add(self, frame: av.VideoFrame) -> None:
        """One decoded frame, in presentation order."""
        if self.full or frame.time is None:
            return
        slot = self._slot(float(frame.time))
        if slot <= self._last_slot:
            return  # this eighth of a second has its picture already
        self._last_slot = slot
        if slot // SLOTS_PER_SECOND >= MAX_SECONDS:
            self.full = True
            return
        while slot // SLOTS_PER_SECOND > self._second:  # the second is over
            if self._total is not None:
                self._means.append(self._total / self._count)
            elif self._means:
                self._means.append(self._means[-1])  # no frame in it (keyframes only)
            self._total, self._count, self._second = None, 0, self._second + 1
        self._graph = self._graph or _GreyCentre(self._stream, frame)
        picture = self._graph.picture(frame).astype(np.float64)
        self._total = picture if self._total is None else self._total + picture
        self._count += 1

    def result(self, path: str) -> FrameHashes:
        """The hashes of the seconds seen; ValueError naming `path` if none decoded."""
        means = list(self._means)
        last_slot = self._last_slot
        if self._total is not None and self._second <= last_slot / SLOTS_PER_SECOND - 0.5:
            means.append(self._total / self._count)  # unless the video ends before its centre
        if not means:
            raise ValueError(f"{path}: no decodable frame")
        pairs = [picture_hashes(mean) for mean in means]
        return FrameHashes(
            seconds=tuple(shown for shown, _ in pairs),
            mirrored=tuple(mirrored for _, mirrored in pairs),
        )


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
