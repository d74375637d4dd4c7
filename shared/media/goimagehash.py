"""goimagehash's `PerceptionHash`, bit for bit, on numpy arrays (pure).

Stash's video pHash is `goimagehash.PerceptionHash` (github.com/corona10/goimagehash,
hashcompute.go) of a sprite; for hashes that Stash's ecosystem can compare with its own, each
step is ported as goimagehash does it, not as a textbook pHash would:

- the resize is nfnt/resize `Resize(64, 64, img, Bilinear)` (resize.go, filters.go,
  converter.go): two separable passes with 8-bit fixed-point weights
  (`int16(kernel(x) * 256)`), integer division by the weights' sum, clamped to 0..255, and
  stored as 8-bit between the passes;
- grey is `0.299*r + 0.587*g + 0.114*b` of the 8-bit channels (transforms/pixels.go);
- the DCT is goimagehash's unscaled DCT-II by Lee's algorithm with its static tables
  (transforms/static.go), in its order of operations, so that even near-ties round the same;
- the median is its quickselect (etcs/utils.go), whose "median" of 64 values is not always
  the average of the two middle ones: ported as written;
- bit 63 is the first of the 8x8 low frequencies in row-major order (vertical frequency
  major), set when the coefficient is above the median.

Input is an RGB image (H x W x 3, uint8), as Go sees an opaque `*image.NRGBA` or
`*image.RGBA`. (A JPEG decoded by Go is `*image.YCbCr`, which nfnt/resize scales in YCbCr;
that path is not ported: Stash's sprite is always NRGBA.)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

#: The side of the square that goimagehash scales to before its DCT.
SIZE = 64
#: The side of the low-frequency block whose bits make the hash.
BLOCK = 8

RGB = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float64]

# transforms/static.go: 2*cos((i + 0.5) * pi / n), as Go's literals.
_DCT64 = (
    1.9993976373924083, 1.9945809133573804, 1.9849590691974202, 1.9705552847778824,
    1.9514042600770571, 1.9275521315908797, 1.8990563611860733, 1.8659855976694777,
    1.8284195114070614, 1.7864486023910306, 1.7401739822174227, 1.6897071304994142,
    1.6351696263031674, 1.5766928552532127, 1.5144176930129691, 1.448494165902934,
    1.3790810894741339, 1.3063456859075537, 1.2304631811612539, 1.151616382835691,
    1.0699952397741948, 0.9857963844595683, 0.8992226593092132, 0.8104826280099796,
    0.7197900730699766, 0.627363480797783, 0.5334255149497968, 0.43820248031373954,
    0.3419237775206027, 0.24482135039843256, 0.1471291271993349, 0.049082457045824535,
)  # fmt: skip
_DCT32 = (
    1.9975909124103448, 1.978353019929562, 1.9400625063890882, 1.8830881303660416,
    1.8079785862468867, 1.7154572200005442, 1.6064150629612899, 1.4819022507099182,
    1.3431179096940369, 1.191398608984867, 1.0282054883864435, 0.8551101868605644,
    0.6737797067844401, 0.48596035980652796, 0.2934609489107235, 0.09813534865483627,
)  # fmt: skip
_DCT16 = (
    1.9903694533443936, 1.9138806714644176, 1.76384252869671, 1.546020906725474,
    1.2687865683272912, 0.9427934736519956, 0.5805693545089246, 0.19603428065912154,
)  # fmt: skip
_DCT8 = (1.9615705608064609, 1.6629392246050907, 1.1111404660392046, 0.3901806440322566)
_DCT4 = (1.8477590650225735, 0.7653668647301797)
_SQRT2 = 1.4142135623730951
_TABLES = {64: _DCT64, 32: _DCT32, 16: _DCT16, 8: _DCT8}


def perception_hash(image: RGB) -> int:
    """goimagehash.PerceptionHash(image).GetHash(): an unsigned 64-bit integer."""
    pixels = grey(resize_bilinear(image, SIZE, SIZE))
    low = dct_low_frequencies(pixels)
    median = quickselect_median(low.tolist())
    value = 0
    for index, coefficient in enumerate(low.tolist()):
        if coefficient > median:
            value |= 1 << (SIZE - index - 1)
    return value


def resize_bilinear(image: RGB, width: int, height: int) -> RGB:
    """nfnt/resize `Resize(width, height, image, Bilinear)` of an opaque 8-bit image."""
    source_height, source_width = image.shape[:2]
    if (source_width, source_height) == (width, height):
        return image  # resize.go: "Trivial case: return input image"
    across = _weights(width, source_width)  # width x source_width
    down = _weights(height, source_height)  # height x source_height
    # Integer sums, computed in float64 (BLAS) where they are exact: below 2**53.
    pixels = image.astype(np.float64).transpose(2, 0, 1)  # channel, row, column
    # First pass, along each row; kept as 8-bit, as in nfnt's temporary image.
    rows = np.clip((pixels @ across[0].T).astype(np.int64) // across[1], 0, 255)
    columns = down[0] @ rows.astype(np.float64)  # channel, height, width
    columns = np.clip(columns.astype(np.int64) // down[1][:, None], 0, 255)
    resized: RGB = columns.transpose(1, 2, 0).astype(np.uint8)
    return resized


def _weights(size: int, source: int) -> tuple[Floats, npt.NDArray[np.int64]]:
    """filters.go `createWeights8` for the linear kernel, as a (size x source) matrix whose
    out-of-range taps are clamped to the edge as converter.go does, and each row's sum."""
    scale = source / size  # resize.go calcFactors
    taps = 2 * int(max(math.ceil(scale), 1))
    factor = min(1.0 / scale, 1.0)
    matrix = np.zeros((size, source), dtype=np.int64)
    for y in range(size):
        position = scale * (y + 0.5) - 0.5
        start = int(position) - taps // 2 + 1  # Go's int(): toward zero
        position -= start
        for tap in range(taps):
            weight = int(max(0.0, 1.0 - abs((position - tap) * factor)) * 256)
            if weight:
                matrix[y, min(max(start + tap, 0), source - 1)] += weight
    return matrix.astype(np.float64), matrix.sum(axis=1)


def grey(image: RGB) -> Floats:
    """transforms/pixels.go `pixel2Gray` of every pixel (its r/257 and b/256 of 16-bit
    channels are the 8-bit values again)."""
    channels = image.astype(np.float64)
    return 0.299 * channels[..., 0] + 0.587 * channels[..., 1] + 0.114 * channels[..., 2]


def dct_low_frequencies(pixels: Floats) -> Floats:
    """transforms/dct.go `DCT2DFast64`: rows, then the first 8 columns; 64 values."""
    rows = _forward_dct(pixels.copy())
    columns = _forward_dct(np.ascontiguousarray(rows[:, :BLOCK].T))  # 8 x 64
    return np.ascontiguousarray(columns[:, :BLOCK].T).reshape(-1)


def _forward_dct(values: Floats) -> Floats:
    """Unscaled DCT-II along the last axis (n = 64, 32, ..., 4), as static.go computes it."""
    n = values.shape[-1]
    if n == 4:
        return _forward_dct4(values)
    half = n // 2
    x, y = values[..., :half], values[..., ::-1][..., :half]
    divisors = np.array(_TABLES[n])
    first = _forward_dct(x + y)
    second = _forward_dct((x - y) / divisors)
    result = np.empty_like(values)
    result[..., 0 : n - 2 : 2] = first[..., : half - 1]
    result[..., 1 : n - 2 : 2] = second[..., : half - 1] + second[..., 1:half]
    result[..., n - 2], result[..., n - 1] = first[..., half - 1], second[..., half - 1]
    return result


def _forward_dct4(values: Floats) -> Floats:
    x0, x1, y1, y0 = (values[..., i] for i in range(4))
    t0, t1 = x0 + y0, x1 + y1
    t2, t3 = (x0 - y0) / _DCT4[0], (x1 - y1) / _DCT4[1]
    t0, t1 = t0 + t1, (t0 - t1) / _SQRT2
    t2, t3 = t2 + t3, (t2 - t3) / _SQRT2
    return np.stack([t0, t2 + t3, t1, t3], axis=-1)


def quickselect_median(values: list[float]) -> float:
    """etcs/utils.go `MedianOfPixelsFast64`: its quickselect, quirks included."""
    sequence = list(values)
    low, high = 0, len(sequence) - 1
    k = len(sequence) // 2
    if low == high:
        return sequence[k]
    while low < high:
        pivot = low // 2 + high // 2
        pivot_value = sequence[pivot]
        store = low
        sequence[pivot], sequence[high] = sequence[high], sequence[pivot]
        for i in range(low, high):
            if sequence[i] < pivot_value:
                sequence[store], sequence[i] = sequence[i], sequence[store]
                store += 1
        sequence[high], sequence[store] = sequence[store], sequence[high]
        if k <= store:
            high = store
        else:
            low = store + 1
    if len(sequence) % 2 == 0:
        return sequence[k - 1] / 2 + sequence[k] / 2
    return sequence[k]


def to_signed(value: int) -> int:
    """An unsigned 64-bit hash as PostgreSQL's bigint holds it (two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    """A bigint hash back as Stash writes it (`%016x` of the unsigned value)."""
    return value & 0xFFFF_FFFF_FFFF_FFFF
