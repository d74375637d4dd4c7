"""Read a video's stream facts and derive its metadata.

Three pieces kept apart (STYLE: run, parse, classify): a backend reads `StreamFacts`
(ffprobe: `run_ffprobe` then the pure `parse_ffprobe`; or PyAV in-process), and the pure
`Metadata.from_facts` derives the stored fields with `classify`. Both backends must give
the same `Metadata` for the same file; tests/integration/test_probe.py holds them to it.

Every choice is ours, not the library's, since Debian's ffprobe (FFmpeg 5.1) and PyAV's
bundled FFmpeg 8 default differently: each backend reads the per-stream facts and
`streams.py` picks the video stream and the content duration. Two facts are read by our
own code for both backends alike: an mp4's sample table, against the file size
(`mp4_samples`, a faststart file cut short), and the last packet's time when the header
has no duration (`packets`, a browser's live WebM).

Rotation convention: `StreamFacts.rotation` is the clockwise turn a player applies, 0, 90,
180 or 270, the meaning of the legacy mp4 `rotate` tag. FFmpeg's display matrix angle is
counter-clockwise, so a phone video turned 90 degrees clockwise reads as -90 there.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from videolib.shared.errors import ProbeError
from videolib.shared.media import classify, mp4_matrix, mp4_samples, packets, streams
from videolib.shared.media.streams import Span, VideoCandidate

BACKENDS: tuple[str, ...] = ("pyav", "ffprobe")
# FFmpeg's name for its mov/mp4 demuxer, which takes the display matrix from `tkhd`.
_MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
# The time base of a container's start_time and duration (AV_TIME_BASE).
_MICROSECOND = Fraction(1, av.time_base)
# Disposition bits as plain ints: IntFlag arithmetic costs microseconds on every probe.
_DEFAULT = int(av.stream.Disposition.default)
_ATTACHED_PIC = int(av.stream.Disposition.attached_pic)


@dataclass(frozen=True, slots=True)
class StreamFacts:
    """What a backend reads from a file, the video stream chosen by `streams.choose_video`."""

    coded_width: int  # picture size as stored, before rotation
    coded_height: int
    rotation: int  # clockwise degrees: 0, 90, 180 or 270
    duration: float | None  # seconds of content (`streams.content_duration`)
    audio_streams: int
    video_codec: str | None
    container: str | None  # demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    sample_aspect: Fraction | None = None  # of the coded picture; None when unknown
    start_time: float | None = None  # seconds, the container's first timestamp


@dataclass(frozen=True, slots=True)
class Metadata:
    """The probed fields stored in a `videos` row (SPEC: Data model)."""

    duration_seconds: int | None
    width: int  # displayed, after rotation
    height: int
    orientation: str
    quality: str
    has_audio: bool
    video_codec: str | None
    container: str | None

    @classmethod
    def from_facts(cls, facts: StreamFacts) -> Metadata:
        """Derive the stored fields from what a backend read."""
        width, height = classify.displayed_size(
            facts.coded_width, facts.coded_height, facts.rotation, facts.sample_aspect
        )
        return cls(
            duration_seconds=classify.rounded_duration(facts.duration),
            width=width,
            height=height,
            orientation=classify.orientation(width, height),
            quality=classify.quality(width, height),
            has_audio=facts.audio_streams > 0,
            video_codec=facts.video_codec,
            container=facts.container,
        )


def probe(
    path: Path,
    *,
    backend: str = "pyav",
    ffprobe_path: str | None = None,
    timeout_s: float = 30.0,
) -> Metadata:
    """Probe a file with the chosen backend; raises ProbeError when it is not a readable video.

    `timeout_s` bounds the ffprobe child only; PyAV runs in-process, so its time limit is
    the worker pool's (shared/media/workers.py).
    """
    if backend == "pyav":
        facts = read_with_pyav(path)
    elif backend == "ffprobe":
        binary = find_ffprobe(ffprobe_path)
        if binary is None:
            raise FileNotFoundError(f"ffprobe not found (configured: {ffprobe_path!r})")
        facts = parse_ffprobe(run_ffprobe(path, binary, timeout_s))
    else:
        raise ValueError(f"unknown probe backend {backend!r}, expected one of {BACKENDS}")
    check_sample_data(path, facts)
    return Metadata.from_facts(with_packet_duration(path, facts))


# --- both backends: facts read in our own code ------------------------------------------


def check_sample_data(path: Path | str, facts: StreamFacts) -> None:
    """Raise ProbeError (corrupt) when an mp4's sample table points past the end of the file."""
    if facts.container != _MP4_FAMILY:
        return
    try:
        with open(path, "rb") as file:
            needed = mp4_samples.sample_data_end(file)
            size = file.seek(0, os.SEEK_END)
    except OSError as exc:
        raise ProbeError(str(path), exc.strerror or str(exc), "unreadable") from exc
    if needed is not None and needed > size:
        reason = (
            f"truncated: the sample table needs {needed} bytes, the file has {size}"
            f" ({needed - size} bytes missing)"
        )
        raise ProbeError(str(path), reason, "corrupt")


def with_packet_duration(path: Path | str, facts: StreamFacts) -> StreamFacts:
    """The facts with the duration from the last packet when the header had none."""
    if facts.duration is not None:
        return facts
    try:
        end = packets.last_packet_end(path)
    except (OSError, av.error.FFmpegError, ValueError, EOFError):
        return facts  # the header was readable; the duration is just not known
    return replace(facts, duration=streams.duration_to_packet_end(facts.start_time, end))


# --- ffprobe backend -------------------------------------------------------------------


def find_ffprobe(configured: str | None) -> str | None:
    """The ffprobe binary to run: the configured one if given, else the first on PATH."""
    if configured:
        return configured
    return shutil.which("ffprobe")


def run_ffprobe(path: Path | str, ffprobe_path: str, timeout_s: float) -> dict[str, Any]:
    """Run ffprobe on a file and return its JSON report; the child is killed at the limit."""
    _require_readable(path)
    command = [
        ffprobe_path,
        # "error" rather than "quiet": the reason lands on stderr, for probe_error.
        *("-v", "error", "-print_format", "json", "-show_streams", "-show_format"),
        os.fspath(path),
    ]
    try:
        # subprocess.run kills the child before raising TimeoutExpired.
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        reason = f"ffprobe timed out after {timeout_s:g} s"
        raise ProbeError(str(path), reason, "unreadable") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        reason = "; ".join(lines) or f"exit code {done.returncode}"
        raise ProbeError(str(path), f"ffprobe failed: {reason}", "corrupt")
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError as exc:
        raise ProbeError(str(path), f"ffprobe output is not JSON: {exc}", "corrupt") from exc
    report.setdefault("path", os.fspath(path))
    return report


def parse_ffprobe(data: dict[str, Any]) -> StreamFacts:
    """The stream facts in an ffprobe JSON report (pure)."""
    all_streams: list[dict[str, Any]] = data.get("streams") or []
    chosen = streams.choose_video(
        [_ffprobe_candidate(i, s) for i, s in enumerate(all_streams) if _is_video(s)]
    )
    if chosen is None:
        raise ProbeError(str(data.get("path", "?")), "no video stream", "corrupt")
    video = all_streams[chosen.index]
    fmt: dict[str, Any] = data.get("format") or {}
    start = _float_or_none(fmt.get("start_time"))
    spans = [
        Span(_float_or_none(s.get("start_time")), _float_or_none(s.get("duration")))
        for s in all_streams
        if s.get("codec_type") in ("audio", "video") and not _disposition(s, "attached_pic")
    ]
    return StreamFacts(
        coded_width=chosen.width,
        coded_height=chosen.height,
        rotation=_ffprobe_rotation(video),
        duration=streams.content_duration(
            fmt.get("format_name"), start, _float_or_none(fmt.get("duration")), spans
        ),
        audio_streams=sum(1 for s in all_streams if s.get("codec_type") == "audio"),
        video_codec=video.get("codec_name"),
        container=fmt.get("format_name"),
        sample_aspect=_ratio_or_none(video.get("sample_aspect_ratio")),
        start_time=start,
    )


def _is_video(stream: dict[str, Any]) -> bool:
    return stream.get("codec_type") == "video"


def _ffprobe_candidate(index: int, stream: dict[str, Any]) -> VideoCandidate:
    """A video stream of the report as a candidate for `streams.choose_video`."""
    bit_rate = _float_or_none(stream.get("bit_rate"))
    return VideoCandidate(
        index=index,
        width=int(stream.get("width") or 0),
        height=int(stream.get("height") or 0),
        default=_disposition(stream, "default"),
        attached_pic=_disposition(stream, "attached_pic"),
        bit_rate=int(bit_rate) if bit_rate else None,
    )


def _disposition(stream: dict[str, Any], flag: str) -> bool:
    return bool((stream.get("disposition") or {}).get(flag, 0))


def _ratio_or_none(value: object) -> Fraction | None:
    """A positive ratio from ffprobe's "64:45"; None for absent, "N/A" or "0:1"."""
    numerator, _, denominator = str(value or "").partition(":")
    try:
        ratio = Fraction(int(numerator), int(denominator))
    except (ValueError, ZeroDivisionError):
        return None
    return ratio if ratio > 0 else None


def _ffprobe_rotation(video: dict[str, Any]) -> int:
    """Clockwise rotation from the display matrix, else from the legacy `rotate` tag."""
    for side_data in video.get("side_data_list") or []:
        if "rotation" in side_data:
            # The matrix angle is counter-clockwise: a 90 degree clockwise phone clip is -90.
            return classify.normalise_rotation(-float(side_data["rotation"]))
    tag = _float_or_none((video.get("tags") or {}).get("rotate"))
    return classify.normalise_rotation(tag) if tag is not None else 0


def _float_or_none(value: object) -> float | None:
    """A float from ffprobe's strings, None for absent or "N/A"."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _require_readable(path: Path | str) -> None:
    """Fail as `unreadable` (not `corrupt`) when the file cannot even be opened."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ProbeError(str(path), exc.strerror or str(exc), "unreadable") from exc


# --- PyAV backend ----------------------------------------------------------------------


def read_with_pyav(path: Path | str) -> StreamFacts:
    """The stream facts of a file, read in-process with PyAV (FFmpeg's libraries)."""
    try:
        with av.open(os.fspath(path), metadata_errors="ignore") as container:
            return _pyav_facts(container)
    except ProbeError:
        raise
    except OSError as exc:
        # Also av.error.FileNotFoundError and friends, which subclass the builtin ones.
        raise ProbeError(str(path), exc.strerror or str(exc), "unreadable") from exc
    except (av.error.FFmpegError, ValueError, EOFError) as exc:
        # InvalidDataError is a ValueError; EOFError comes from a file cut short.
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ProbeError(str(path), reason, "corrupt") from exc


def _pyav_facts(container: Any) -> StreamFacts:
    """Read the facts from an open input container."""
    chosen = streams.choose_video([_pyav_candidate(s) for s in container.streams.video])
    if chosen is None:
        raise ProbeError(container.name, "no video stream", "corrupt")
    video = container.streams[chosen.index]
    start = _pyav_seconds(container.start_time, _MICROSECOND)
    spans = [
        Span(_pyav_seconds(s.start_time, s.time_base), _pyav_seconds(s.duration, s.time_base))
        for s in container.streams
        if s.type in ("audio", "video") and not _is_cover(s)
    ]
    codec = video.codec_context
    return StreamFacts(
        coded_width=chosen.width,
        coded_height=chosen.height,
        rotation=_pyav_rotation(container, video),
        duration=streams.content_duration(
            container.format.name, start, _pyav_seconds(container.duration, _MICROSECOND), spans
        ),
        audio_streams=len(container.streams.audio),
        # The codec's canonical name ("h264"), as ffprobe's codec_name, not the decoder's.
        video_codec=codec.codec.canonical_name,
        container=container.format.name,
        # av_guess_sample_aspect_ratio, the function ffprobe prints sample_aspect_ratio from.
        sample_aspect=_positive_or_none(video.sample_aspect_ratio),
        start_time=start,
    )


def picture_stream(container: Any) -> Any | None:
    """The video stream the probe describes, for every reader of a file's pictures.

    Thumbnails, frame strips, fingerprints and playback read this one too, so that what
    they show is the stream the record's size and duration came from.
    """
    chosen = streams.choose_video([_pyav_candidate(s) for s in container.streams.video])
    return None if chosen is None else container.streams[chosen.index]


def _pyav_candidate(stream: Any) -> VideoCandidate:
    """A video stream as a candidate for `streams.choose_video`."""
    codec = stream.codec_context
    return VideoCandidate(
        index=stream.index,
        width=int(codec.width or 0),
        height=int(codec.height or 0),
        default=bool(int(stream.disposition) & _DEFAULT),
        attached_pic=_is_cover(stream),
        bit_rate=int(codec.bit_rate) if codec.bit_rate else None,
    )


def _is_cover(stream: Any) -> bool:
    """True for cover art stored as a video stream."""
    return bool(int(stream.disposition) & _ATTACHED_PIC)


def _pyav_seconds(value: int | None, time_base: Fraction | None) -> float | None:
    """A timestamp or duration in seconds; None when FFmpeg has none (AV_NOPTS_VALUE)."""
    if value is None or time_base is None:
        return None
    # In integers, not Fraction arithmetic: this runs a few times on every probe.
    return value * time_base.numerator / time_base.denominator


def _positive_or_none(ratio: Fraction | None) -> Fraction | None:
    return ratio if ratio is not None and ratio > 0 else None


def _pyav_rotation(container: Any, video: Any) -> int:
    """Clockwise rotation from the display matrix, else from the legacy `rotate` tag."""
    # PyAV 18 exposes the stream's display matrix only on decoded frames
    # (VideoFrame.rotation, counter-clockwise degrees). An mp4's is read from its header,
    # for the price of a few small reads; other files decode the first frame.
    angle = _mp4_header_rotation(container, video)
    if angle is None:
        angle = _first_frame_rotation(container, video)
    if angle is not None and angle != 0:
        return classify.normalise_rotation(-angle)
    tag = _float_or_none(video.metadata.get("rotate"))
    return classify.normalise_rotation(tag) if tag is not None else 0


def _mp4_header_rotation(container: Any, video: Any) -> float | None:
    """The rotation the first frame would carry, from the mp4 header; None when not known."""
    if container.format.name != _MP4_FAMILY:
        return None
    try:
        with open(container.name, "rb") as file:
            tracks = mp4_matrix.read_tracks(file)
    except OSError:
        return None
    # FFmpeg makes one stream per trak, in order; streams from elsewhere (HEIF items, say)
    # would break that, so the counts and the track_ID must agree.
    # Cover art read from `covr` has no trak, wherever FFmpeg puts its stream.
    from_traks = [s for s in container.streams if not _is_cover(s)]
    if tracks is None or len(tracks) != len(from_traks):
        return None
    track = tracks[[s.index for s in from_traks].index(video.index)]
    if track.track_id != video.id:
        return None
    angle = mp4_matrix.rotation_degrees(track.matrix)
    # VideoFrame.rotation is the angle truncated to an int (PyAV av/sidedata/sidedata.py).
    return None if math.isnan(angle) else float(math.trunc(angle))


def _first_frame_rotation(container: Any, video: Any) -> float | None:
    """The display rotation of the first decodable frame, None when none decodes."""
    # One decoding thread: the pool already runs one worker process per core.
    video.codec_context.thread_count = 1
    try:
        for frame in container.decode(video):
            return float(frame.rotation)
    except (av.error.FFmpegError, ValueError, EOFError):
        return None  # headers were readable, as for ffprobe; the matrix is just not known
    return None
