"""PLACEHOLDER until h12-match's module lands (issue 12 §3): its contract, a minimal body.

`compute_frame_hashes(path) -> FrameHashes` is h12-match's; this stand-in lets the
fingerprint job (shared/fingerprints.py) run and be tested meanwhile: the first frame of
each second, 32 x 32 grey, a DCT pHash of it and of its mirror. The lead keeps h12-match's.
"""

from __future__ import annotations

import itertools
from typing import Any

import av
import numpy as np

from videolib.shared.media.goimagehash import to_signed
from videolib.shared.media.similarity import FrameHashes

_SIDE = 32
_k = np.arange(_SIDE)
_DCT = np.cos(np.pi * (2 * _k[None, :] + 1) * _k[:8, None] / (2 * _SIDE))


def compute_frame_hashes(path: str) -> FrameHashes:
    """One hash per second of the video at `path`, as shown and mirrored.

    Raises ValueError (no video stream, nothing decodable) or av's errors for a bad file.
    """
    shown: list[int] = []
    mirrored: list[int] = []
    with av.open(path, metadata_errors="ignore") as container:
        stream = next(
            (s for s in container.streams.video if not s.disposition & 0x400), None
        )  # 0x400: AV_DISPOSITION_ATTACHED_PIC
        if stream is None:
            raise ValueError(f"{path}: no video stream")
        stream.codec_context.thread_count = 1
        graph: Any = None
        for frame in container.decode(stream):
            if frame.time is None or int(frame.time) < len(shown):
                continue
            graph = graph or _grey_graph(stream)
            graph.push(frame)
            grey = graph.pull().to_ndarray().astype(np.float64)
            shown.append(_hash(grey))
            mirrored.append(_hash(grey[:, ::-1]))
    if not shown:
        raise ValueError(f"{path}: no decodable frame")
    return FrameHashes(seconds=tuple(shown), mirrored=tuple(mirrored))


def _hash(grey: np.ndarray) -> int:
    low = (_DCT @ grey @ _DCT.T).ravel()
    bits = low > np.median(low)
    return to_signed(sum(1 << (63 - int(index)) for index in np.flatnonzero(bits)))


def _grey_graph(stream: Any) -> Any:
    graph = av.filter.Graph()
    nodes = [
        graph.add_buffer(template=stream),
        graph.add("scale", f"{_SIDE}:{_SIDE}:flags=area"),
        graph.add("format", "gray"),
        graph.add("buffersink"),
    ]
    for upstream, downstream in itertools.pairwise(nodes):
        upstream.link_to(downstream)
    graph.configure()
    return graph
