"""Near-duplicate quality benchmark: recall per transformation, precision, index recall, cost.

    python bench/near_duplicates.py                      # 60 sources, clips in /tmp
    python bench/near_duplicates.py --sources 3 --seconds 12 --cache /tmp/nd

Renders visually distinct source clips and eight transformed copies of each
(bench/near_duplicate_clips.py), cached in --cache so a second run only measures. Then,
at the default thresholds of shared/media/similarity.py:
- recall per transformation: the share of sources whose copy `compare` matches, at the
  offset the transformation implies (a trim at -10 % of the duration, an intro at +5 s);
- precision: matched pairs of one source over all matched pairs, where every pair of files
  of two distinct sources (copies included: two clips with the same black intro) is tried;
- index recall: the share of matched pairs that the route's candidate rule finds both ways
  (keys of one shared with the index keys of the other, shared/near_duplicates.py), so
  that GET /videos/{id}/similar proposes every pair `compare` accepts;
- fingerprint cost: compute_frame_hashes' CPU per minute of video, beside the thumbnail
  job's (one frame grab, shared/media/frames.py) per video, on the same files.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.near_duplicate_clips import (  # noqa: E402
    FPS,
    INTRO_SECONDS,
    TRANSFORMATIONS,
    TRIM_SHARE,
    Source,
    render_all,
    sources,
)
from videolib.shared.media.frame_hashes import compute_frame_hashes  # noqa: E402
from videolib.shared.media.frames import write_thumbnail  # noqa: E402
from videolib.shared.media.similarity import (  # noqa: E402
    FLAT,
    FRAME_DISTANCE,
    MIN_MATCHED_SECONDS,
    FrameHashes,
    Match,
    compare,
    index_keys,
)
from videolib.shared.near_duplicates import candidate_keys, is_candidate  # noqa: E402

TARGETS = {"crop": 0.9, "flip": 0.9}  # every other transformation: 0.95
PRECISION_TARGET = 0.99


@dataclass(frozen=True, slots=True)
class Fingerprinted:
    """One file's hashes and what they cost."""

    source: int
    copy: str  # "original" or a transformation
    hashes: FrameHashes
    cpu_seconds: float
    thumbnail_cpu_seconds: float


def fingerprint(item: tuple[Source, str, Path, str]) -> Fingerprinted:
    """Hash one file and grab its thumbnail, each timed on this process's CPU."""
    source, copy, path, scratch = item
    started = time.process_time()
    hashes = compute_frame_hashes(str(path))
    hashed = time.process_time()
    result = write_thumbnail(str(path), f"{scratch}/{path.name}.jpg", 320)
    if result.error:
        raise ValueError(f"{path}: {result.error}")
    return Fingerprinted(source.index, copy, hashes, hashed - started, time.process_time() - hashed)


def render(item: tuple[Source, Path]) -> dict[str, Path]:
    return render_all(*item)


def expected_offset(copy: str, source_seconds: int) -> int | None:
    """b's second minus a's second for the copy, None when it is free (no constraint)."""
    if copy == "trim":
        return -round(source_seconds * TRIM_SHARE)
    if copy == "intro":
        return INTRO_SECONDS
    return 0


def offset_is_right(match: Match, copy: str, source_seconds: int) -> bool:
    expected = expected_offset(copy, source_seconds)
    return expected is None or abs(match.offset_seconds - expected) <= 1


def shares_key(a: FrameHashes, b: FrameHashes) -> bool:
    """Both ways, by the route's own rule: a's index keys hold enough of b's candidate
    keys, and b's of a's.

    GET /videos/{id}/similar proposes a video that shares at least `min_shared_keys` of
    the asked video's keys (shared/near_duplicates.py); this is that rule without its caps.
    """
    return is_candidate(a, b) and is_candidate(b, a)


def close_pair_counts(prints: list[Fingerprinted]) -> np.ndarray:
    """[i, j]: pairs of seconds within FRAME_DISTANCE, file i shown or mirrored by j shown.

    All pairs of seconds of all files at once with numpy, a few seconds, where `compare`
    on every pair of files would take minutes: only pairs with enough close seconds are
    compared.
    """
    owners = np.array([i for i, p in enumerate(prints) for _ in p.hashes.seconds])
    shown = _unsigned([h for p in prints for h in p.hashes.seconds])
    mirrored = _unsigned([h for p in prints for h in p.hashes.mirrored])
    flat_columns = shown == FLAT
    counts = np.zeros((len(prints), len(prints)), dtype=np.int64)
    for rows in (shown, mirrored):
        for start in range(0, len(rows), 512):
            chunk = rows[start : start + 512]
            distances = np.bitwise_count(chunk[:, None] ^ shown[None, :])
            near = (distances <= FRAME_DISTANCE) & ~flat_columns[None, :]
            near &= (chunk != FLAT)[:, None]
            row_owner, column = np.nonzero(near)
            np.add.at(counts, (owners[start + row_owner], owners[column]), 1)
    return counts


def _unsigned(hashes: list[int]) -> np.ndarray:
    # bitwise_count counts the bits of |x| for a signed type: read the same bits unsigned.
    return np.array(hashes, dtype=np.int64).view(np.uint64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=60, help="source clips (default 60)")
    parser.add_argument("--seconds", type=int, default=None, help="every clip this long")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "videolib-near-duplicates",
        help="where rendered clips are kept between runs",
    )
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    run(arguments.sources, arguments.seconds, arguments.cache, arguments.workers)


def run(count: int, seconds: int | None, cache: Path, workers: int) -> None:
    chosen = sources(count, seconds)
    directory = cache / (f"{seconds}s" if seconds else "default")
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with multiprocessing.Pool(workers) as pool:
        clips = pool.map(render, [(source, directory) for source in chosen], chunksize=1)
        print(f"rendered {len(chosen)} sources x 9 clips in {time.monotonic() - started:.0f} s")
        with tempfile.TemporaryDirectory() as scratch:
            items = [
                (source, copy, path, scratch)
                for source, copies in zip(chosen, clips, strict=True)
                for copy, path in copies.items()
            ]
            started = time.monotonic()
            prints = pool.map(fingerprint, items, chunksize=4)
    print(f"fingerprinted {len(prints)} files in {time.monotonic() - started:.0f} s")
    report(chosen, prints)


Pair = tuple[FrameHashes, FrameHashes]


def report(chosen: list[Source], prints: list[Fingerprinted]) -> None:
    """Print the recall table, precision, index recall and cost."""
    accepted, true_positives = recall_table(chosen, prints)
    false_pairs = precision_lines(chosen, prints, true_positives)
    index_lines(prints, accepted + false_pairs)
    cost_line(prints)


def recall_table(chosen: list[Source], prints: list[Fingerprinted]) -> tuple[list[Pair], int]:
    """Recall per transformation; the pairs compare accepted, and how many."""
    by_key = {(p.source, p.copy): p.hashes for p in prints}
    accepted: list[Pair] = []
    missed: dict[str, list[str]] = {}
    print(f"\n{'transformation':<14} {'recall':>7} {'target':>7} {'matched':>9} {'mean score':>11}")
    for copy in TRANSFORMATIONS:
        scores = []
        for source in chosen:
            a, b = by_key[(source.index, "original")], by_key[(source.index, copy)]
            match = compare(a, b)
            if match is not None and offset_is_right(match, copy, source.seconds):
                scores.append(match.score)
                accepted.append((a, b))
            else:
                missed.setdefault(copy, []).append(source.name)
        recall = len(scores) / len(chosen)
        target = TARGETS.get(copy, 0.95)
        mean = sum(scores) / len(scores) if scores else 0.0
        flag = "" if recall >= target else "  BELOW TARGET"
        counts = f"{len(scores):>4}/{len(chosen):<4}"
        print(f"{copy:<14} {recall:>7.3f} {target:>7.2f} {counts} {mean:>11.2f}{flag}")
    for copy, names in missed.items():
        print(f"  {copy} missed: {', '.join(names)}")
    return accepted, len(accepted)


def precision_lines(
    chosen: list[Source], prints: list[Fingerprinted], true_positives: int
) -> list[Pair]:
    """Precision over every pair of files of distinct sources; the pairs wrongly matched."""
    false_pairs: list[Pair] = []
    pairs = 0
    confused: Counter[tuple[int, int]] = Counter()
    close = close_pair_counts(prints)
    for (i, x), (j, y) in itertools.combinations(enumerate(prints), 2):
        if x.source == y.source:
            continue
        pairs += 1
        # compare accepts no pair with fewer close seconds than it must match: skip them.
        if close[i, j] + close[j, i] >= MIN_MATCHED_SECONDS and compare(x.hashes, y.hashes):
            false_pairs.append((x.hashes, y.hashes))
            confused[(x.source, y.source)] += 1
    precision = true_positives / max(1, true_positives + len(false_pairs))
    flag = "" if precision >= PRECISION_TARGET else "  BELOW TARGET"
    print(
        f"\nprecision      {precision:.4f} (target {PRECISION_TARGET}):"
        f" {len(false_pairs)} false matches over {pairs} pairs of distinct sources{flag}"
    )
    names = {source.index: source.name for source in chosen}
    for (first, second), count in confused.most_common(10):
        print(f"  {names[first]} ~ {names[second]}: {count} pairs of their files match")
    return false_pairs


def index_lines(prints: list[Fingerprinted], accepted: list[Pair]) -> None:
    """Index recall over every accepted pair, and the keys per video."""
    keyed = sum(1 for a, b in accepted if shares_key(a, b))
    index_recall = keyed / max(1, len(accepted))
    print(
        f"index recall   {index_recall:.4f}: {keyed}/{len(accepted)} accepted pairs"
        " found by the route's shared keys"
    )
    sizes = [len(index_keys(p.hashes)) for p in prints]
    # What GET /videos/{id}/similar looks up (shared/near_duplicates.py), not query_keys.
    queries = [len(candidate_keys(p.hashes)) for p in prints]
    print(
        f"keys per video index {max(sizes)} max / {sum(sizes) / len(sizes):.0f} mean,"
        f" query {max(queries)} max"
    )


def cost_line(prints: list[Fingerprinted]) -> None:
    minutes = sum(len(p.hashes.seconds) for p in prints) / 60
    hashing = sum(p.cpu_seconds for p in prints)
    thumbnails = sum(p.thumbnail_cpu_seconds for p in prints)
    print(
        f"\nfingerprint cost {hashing / minutes:.2f} s CPU per minute of video"
        f" ({hashing / len(prints) * 1000:.0f} ms per {minutes * 60 / len(prints):.0f} s clip"
        f" at {FPS} fps); thumbnail job {thumbnails / len(prints) * 1000:.0f} ms per video:"
        f" {hashing / max(thumbnails, 1e-9):.1f}x"
    )


if __name__ == "__main__":
    main()
