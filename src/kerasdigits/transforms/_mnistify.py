"""Turn an arbitrary picture of one digit into a 28x28 MNIST-style image (NumPy only).

MNIST was made from binary NIST scans: each digit was scaled to fit a 20x20 box keeping its
aspect ratio (the anti-aliasing of that step produced the grey levels), then placed in a
28x28 frame so that its center of mass lies at the center of the frame. :func:`to_mnist`
repeats those steps on any picture (a photo, a scan, a drawing on a phone screen), after
turning it into bright ink on a black background, so that a model trained on MNIST sees its
input in the format it was trained on.

A binary scan gives MNIST its look, too: strokes that all reach full brightness, with a
one-pixel anti-aliased edge, about 2.5 pixels wide. A blurred, low-resolution or faint
picture has none of that, so :func:`to_mnist` also restyles the ink: faint strokes are
brightened, strokes far thicker than MNIST's are thinned, and a contrast curve brings the ink's
brightness to MNIST's (its mean and the share of bright pixels), measured on MNIST itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["to_mnist", "to_mnist_batch"]

#: Side of the MNIST frame.
MNIST_SIZE = 28
#: Side of the box the digit is scaled to fit (MNIST: 20x20).
MNIST_BOX = 20
#: Where the center of mass goes, in array-index coordinates (row, column); the mean center
#: of mass of the real MNIST digits is (13.99, 14.01).
MNIST_CENTER = (14.0, 14.0)

# ITU-R BT.601 luma weights (as Pillow's "L" mode).
_LUMA = np.array([0.299, 0.587, 0.114])

# A pixel is ink when it is brighter than the background by more than
# max(_NOISE_SIGMAS * noise, _MIN_CONTRAST * peak), where noise is the robust standard
# deviation (scaled median absolute deviation) of the background pixels and peak the brightest
# pixel above the background.
_NOISE_SIGMAS = 4.0
_MIN_CONTRAST = 0.05
# Above this many pixels, the background statistics use an evenly spaced subsample.
_MAX_SAMPLES = 100_000

# MNIST's own ink, measured on its 60,000 training images by ``python bench/bench_to_mnist.py
# --measure`` (which prints these figures again; its 10,000 test images give 175.3, 54.2 %
# and 2.52). "Ink" is every pixel above 0.
#: Mean value of MNIST's ink pixels, pooled over the training images (per image, the 10th to
#: 90th percentiles are 151 and 194).
MNIST_INK_MEAN = 174.3
#: Fraction of MNIST's ink pixels at 200 or above, pooled (per image: 0.40 and 0.64).
MNIST_INK_BRIGHT = 0.535
#: Median stroke width of the MNIST digits in pixels, as :func:`_stroke_width` measures it
#: (10th and 90th percentiles: 1.89 and 3.41).
MNIST_STROKE_WIDTH = 2.48
# MNIST's spread from digit to digit of the mean ink and of the bright fraction (10th to 90th
# percentile / 2.56, a standard deviation's worth): the units of the contrast step (9).
_INK_MEAN_SPREAD = 17.0
_INK_BRIGHT_SPREAD = 0.09

# Step 6, faint strokes brightened: applied when the digit's mean ink (its peak at 255) is
# below _DIM_INK (MNIST's 10th percentile per digit), in full _DIM_RAMP levels lower. A pixel
# is divided by the brightest pixel within _PEAK_RADIUS (a 5x5 window), but by no less than
# _PEAK_FLOOR times the digit's peak, so that a faint smudge stays faint.
_DIM_INK = 151.0
_DIM_RAMP = 30.0
_PEAK_RADIUS = 2
_PEAK_FLOOR = 0.3
# Step 7, thick strokes thinned: the width of the strokes' cores (_core_width) of the MNIST
# digits, 90th and 95th percentiles (median 2.42, 99th 4.43). A digit thicker than the 95th
# is thinned to the 90th.
_CORE_WIDTH_P90 = 3.35
_CORE_WIDTH_P95 = 3.69
# Step 9, contrast: the curve clip((v - black) / (white - black), 0, 1) is chosen from these
# points. A digit whose mean ink and bright fraction are within _CONTRAST_TOLERANCE spreads of
# MNIST's keeps its grey levels; the others are brought to that band, by the curve nearest
# the identity (a small penalty, weighted _IDENTITY_WEIGHT, breaks the ties).
_BLACK_POINTS = np.array([0.0, 0.02, 0.05, 0.08, 0.12, 0.16, 0.2])
_WHITE_POINTS = np.linspace(0.4, 1.0, 13)
_CONTRAST_TOLERANCE = 0.25
_IDENTITY_WEIGHT = 0.02

InvertMode = Literal["auto"] | bool


# --------------------------------------------------------------------------------------------
# validation


def _as_unit_float(image: Any, name: str) -> npt.NDArray[np.float64]:
    """Check ``image`` and return it as ``float64`` in [0, 1], shape ``(H, W)`` or ``(H, W, C)``."""
    array = np.asarray(image)
    dtype = array.dtype
    if dtype == np.bool_ or not (
        np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)
    ):
        raise ValueError(
            f"{name} must have an integer (preferably uint8, values 0..255) or float (values "
            f"in [0, 1]) dtype, got dtype {dtype}"
        )
    if array.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be one image of shape (H, W) or (H, W, C) with C = 1, 3 or 4, got "
            f"a {array.ndim}-D array of shape {array.shape}"
            + ("; use to_mnist_batch() for a batch of images" if array.ndim == 4 else "")
        )
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"{name} must have 1 (grey), 3 (RGB) or 4 (RGBA) channels in its last axis, got "
            f"shape {array.shape} with {array.shape[2]} channels"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")

    if np.issubdtype(dtype, np.floating):
        lo, hi = array.min(), array.max()
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if lo < 0 or hi > 1:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"a float {name} must hold values in [0, 1], got {float(bad)!r}"
                + ("; divide 0..255 pixel values by 255 or pass uint8" if hi > 1 else "")
            )
        return array.astype(np.float64)
    if dtype != np.uint8:
        lo, hi = array.min(), array.max()
        if lo < 0 or hi > 255:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"an integer {name} must hold pixel values in 0..255, got {int(bad)} "
                f"(dtype {dtype})"
            )
    return array.astype(np.float64) / 255.0


def _check_invert(invert: Any) -> None:
    if isinstance(invert, (bool, np.bool_)) or (isinstance(invert, str) and invert == "auto"):
        return
    raise ValueError(f"invert must be 'auto', True or False, got {invert!r}")


# --------------------------------------------------------------------------------------------
# steps


def _grayscale(image: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Luma of an (H, W) / (H, W, C) image in [0, 1]; alpha is composited over a background.

    The background is white, unless the visible pixels are light on average (light ink on a
    transparent background), in which case it is black: the ink must stay visible either way.
    """
    if image.ndim == 2:
        return image
    channels = image.shape[2]
    if channels == 1:
        return image[:, :, 0]
    luma: npt.NDArray[np.float64] = image[:, :, :3] @ _LUMA
    if channels == 3:
        return luma
    alpha = image[:, :, 3]
    total = float(alpha.sum())
    if total == 0.0:  # fully transparent: nothing to see
        return np.zeros_like(luma)
    visible_mean = float((luma * alpha).sum()) / total
    background = 1.0 if visible_mean < 0.5 else 0.0
    return luma * alpha + background * (1.0 - alpha)


def _subsample(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``values`` flattened, or an evenly spaced subsample of them if there are very many."""
    flat = values.reshape(-1)
    if flat.size > _MAX_SAMPLES:
        flat = flat[:: flat.size // _MAX_SAMPLES + 1]
    return flat


def _border(gray: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The pixels of the outermost ring of ``gray`` (a subsample of them if very many)."""
    h, w = gray.shape
    if h <= 2 or w <= 2:
        return _subsample(gray)
    return _subsample(np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]]))


def _despeckle(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Drop isolated pixels (no 8-neighbour in ``mask``), unless that would drop everything."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    neighbours = np.zeros(mask.shape, dtype=np.int8)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                neighbours += padded[dy : dy + h, dx : dx + w]
    kept = mask & (neighbours > 0)
    return kept if kept.any() else mask


def _resize_weights(n_in: int, n_out: int) -> npt.NDArray[np.float64]:
    """An ``(n_out, n_in)`` matrix resampling one axis: area average or bilinear.

    Shrinking averages the input pixels each output pixel covers, weighted by the overlap
    (anti-aliasing as a box filter); enlarging interpolates linearly between the two nearest
    input pixel centers (pixel centers aligned, edges clamped).
    """
    scale = n_in / n_out  # input pixels per output pixel
    out = np.arange(n_out, dtype=np.float64)[:, None]
    pix = np.arange(n_in, dtype=np.float64)[None, :]
    if n_out <= n_in:
        start, stop = out * scale, (out + 1) * scale
        overlap = np.clip(np.minimum(stop, pix + 1) - np.maximum(start, pix), 0.0, None)
        weights: npt.NDArray[np.float64] = overlap / scale
        return weights
    center = np.clip((out + 0.5) * scale - 0.5, 0.0, n_in - 1)
    return np.clip(1.0 - np.abs(center - pix), 0.0, None)


def _resize(image: npt.NDArray[np.float64], shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    rows = _resize_weights(image.shape[0], shape[0])
    cols = _resize_weights(image.shape[1], shape[1])
    result: npt.NDArray[np.float64] = rows @ image @ cols.T
    return result


def _center_of_mass(image: npt.NDArray[np.float64]) -> tuple[float, float]:
    total = float(image.sum())
    cy = float(image.sum(axis=1) @ np.arange(image.shape[0])) / total
    cx = float(image.sum(axis=0) @ np.arange(image.shape[1])) / total
    return cy, cx


def _extreme_filter(
    image: npt.NDArray[np.float64], radius: int, reduce: np.ufunc
) -> npt.NDArray[np.float64]:
    """Grey-level dilation (``np.maximum``) or erosion (``np.minimum``) of ``image``.

    The window is a square of side ``2 * radius + 1``; outside the image counts as 0.
    """
    h, w = image.shape
    padded = np.pad(image, radius)
    rows = padded[:h]
    for d in range(1, 2 * radius + 1):
        rows = reduce(rows, padded[d : d + h])
    out = rows[:, :w]
    for d in range(1, 2 * radius + 1):
        out = reduce(out, rows[:, d : d + w])
    result: npt.NDArray[np.float64] = out
    return result


def _stroke_width(image: npt.NDArray[np.float64]) -> float:
    """The mean stroke width of an image of bright ink on black, in pixels.

    Twice the ink's mass over its total variation (the sum of the gradient's length, taken
    on each 2x2 cell of pixels, around the image too), with the peak scaled to 1. For a
    shape of area A and perimeter P this is 2A/P, the width of a long stroke (exact, less the
    ends, for a straight one along the pixel grid, even 1 pixel wide); on grey levels it is
    the average of 2A/P over the shapes above each level (the coarea formula), so a soft
    fringe counts, as the eye sees it.
    """
    padded = np.pad(image / float(image.max()), 1)
    top_left, top_right = padded[:-1, :-1], padded[:-1, 1:]
    bottom_left, bottom_right = padded[1:, :-1], padded[1:, 1:]
    gx = (top_right - top_left + bottom_right - bottom_left) / 2
    gy = (bottom_left - top_left + bottom_right - top_right) / 2
    variation = float(np.sqrt(gx * gx + gy * gy).sum())
    return 2.0 * float(padded.sum()) / variation


def _core_width(image: npt.NDArray[np.float64]) -> float:
    """:func:`_stroke_width` of the strokes' cores, whatever the blur around them.

    The grey levels are first steepened (doubled) around half the peak, so that a soft edge
    counts where it crosses half the peak.
    """
    return _stroke_width(np.clip(2.0 * image / float(image.max()) - 0.5, 0.0, 1.0))


def _even_peaks(digit: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``digit`` with its peak at 1 and, if its ink is dim, every stroke brightened to peak at 1.

    MNIST's strokes all reach (nearly) full brightness; the faint or blurred strokes of a
    photo do not. Each pixel is divided by the brightest pixel near it (see ``_DIM_INK`` and
    the constants after it), blended in as the digit's mean ink goes below ``_DIM_INK``.
    """
    digit = digit / float(digit.max())
    mean = float(digit[digit >= 0.5 / 255].mean()) * 255
    weight = min(max((_DIM_INK - mean) / _DIM_RAMP, 0.0), 1.0)
    if weight == 0:
        return digit
    local = np.maximum(_extreme_filter(digit, _PEAK_RADIUS, np.maximum), _PEAK_FLOOR)
    result: npt.NDArray[np.float64] = digit + weight * (np.minimum(digit / local, 1.0) - digit)
    return result


def _thin(ink: npt.NDArray[np.float64], amount: float) -> npt.NDArray[np.float64]:
    """``ink`` with every edge moved in by ``amount / 2`` pixels: strokes ``amount`` thinner.

    Each pass of a 3x3 grey-level erosion, blended in by a fraction ``t`` (up to 1), moves
    every edge in by ``t`` pixels.
    """
    left = float(amount)  # stroke width still to remove
    while left > 1e-9:
        step = min(1.0, left / 2.0)
        ink = ink - step * (ink - _extreme_filter(ink, 1, np.minimum))
        left -= 2.0 * step
    return ink


def _crop(ink: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """``ink`` cropped to the bounding box of ``mask``."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit(ink: npt.NDArray[np.float64], box: int) -> npt.NDArray[np.float64]:
    """``ink`` scaled to fit a ``box`` x ``box`` square, keeping its aspect ratio."""
    h, w = ink.shape
    scale = box / max(h, w)
    return _resize(ink, (min(box, max(1, round(h * scale))), min(box, max(1, round(w * scale)))))


def _contrast_curve(digit: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The black and white points of the contrast curve that gives ``digit`` MNIST's ink.

    Each curve ``clip((v - black) / (white - black), 0, 1)`` of the grid ``_BLACK_POINTS`` x
    ``_WHITE_POINTS`` is scored on the ink it leaves (the pixels that round to 1 or more out
    of 255): how far its mean and its fraction at 200 or above lie outside MNIST's band
    (``MNIST_INK_MEAN`` and ``MNIST_INK_BRIGHT``, give or take ``_CONTRAST_TOLERANCE``
    spreads), in units of MNIST's spread from digit to digit, squared and summed; plus a small
    penalty for moving away from the identity, so that a digit already in the band stays as
    it is and, of curves that fit as well, the gentlest wins. The identity is on the grid. A
    black point that would erase the outermost row or column of the digit is not used.
    """
    values = np.sort(digit[digit > 0])
    sums = np.concatenate([[0.0], np.cumsum(values)])
    black = np.repeat(_BLACK_POINTS, _WHITE_POINTS.size)
    white = np.tile(_WHITE_POINTS, _BLACK_POINTS.size)
    span = white - black
    # Levels (v - black) / span * 255 of the sorted values: below `first` they round to 0,
    # from `saturated` on they are 255, from `bright` on they round to 200 or more.
    first = np.searchsorted(values, black + span * (0.5 / 255))
    saturated = np.searchsorted(values, white)
    bright_from = np.searchsorted(values, black + span * (199.5 / 255))
    count = values.size - first
    ramp = (sums[saturated] - sums[first] - black * (saturated - first)) * (255.0 / span)
    mean = (ramp + 255.0 * (values.size - saturated)) / count
    bright = (values.size - bright_from) / count
    off_mean = np.abs(mean - MNIST_INK_MEAN) / _INK_MEAN_SPREAD - _CONTRAST_TOLERANCE
    off_bright = np.abs(bright - MNIST_INK_BRIGHT) / _INK_BRIGHT_SPREAD - _CONTRAST_TOLERANCE
    cost = np.maximum(off_mean, 0.0) ** 2 + np.maximum(off_bright, 0.0) ** 2
    change = (black / 0.1) ** 2 + ((1.0 - white) / 0.2) ** 2
    # The outermost rows and columns keep some ink, so that the digit still fills its box.
    outline = min(digit[0].max(), digit[-1].max(), digit[:, 0].max(), digit[:, -1].max())
    cost[black + span * (0.5 / 255) > outline] = np.inf
    best = int(np.argmin(cost + _IDENTITY_WEIGHT * change))
    return float(black[best]), float(white[best])


def _fit_strokes(ink: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Steps 5-7: the cropped ink fitted into the 20x20 box, with strokes like MNIST's."""
    digit = _even_peaks(_fit(ink, MNIST_BOX))  # 5. fit; 6. every stroke at full brightness

    # 7. strokes thicker than 95 % of MNIST's thinned to its 90th percentile: at twice the
    # size, then fitted again (thinning also shrinks the outline, hence the factor)
    core, side = _core_width(digit), max(digit.shape)
    if _CORE_WIDTH_P95 < core < min(digit.shape) / 2:  # strokes, not a blob
        big = _fit(ink, 2 * MNIST_BOX)
        amount = side * (core - _CORE_WIDTH_P90) / (side - _CORE_WIDTH_P90)
        thinned = _thin(big, 2 * amount)
        if thinned.max() > 0:
            digit = _even_peaks(_fit(_crop(thinned, thinned > thinned.max() / 512), MNIST_BOX))
    return digit


def _mnistify(
    image: npt.NDArray[np.float64], invert: InvertMode, name: str
) -> npt.NDArray[np.uint8]:
    forced = not isinstance(invert, str)  # True or False given, rather than "auto"

    # 1. grayscale
    gray = _grayscale(image)

    # 2. bright ink on a dark background
    border = _border(gray)
    lo, hi = float(gray.min()), float(gray.max())
    middle = (lo + hi) / 2
    if not forced:
        # Light background when most of the border and most of the picture are light (on
        # balance, so that a digit touching much of the border does not flip the decision).
        invert = float(np.mean(border > middle)) + float(np.mean(gray > middle)) > 1.0
    if invert:
        gray = 1.0 - gray
        border = 1.0 - border
        middle = 1.0 - middle
    # The background level and noise come from the border, or from the whole picture when
    # the ink covers most of the border (a tightly cropped digit).
    sample = border if np.median(border) <= middle else _subsample(gray)
    background = float(np.median(sample))

    # 3. subtract the background level and the noise floor (a soft threshold)
    noise = 1.4826 * float(np.median(np.abs(sample - background)))
    ink = gray - background
    peak = float(ink.max())
    threshold = max(_NOISE_SIGMAS * noise, _MIN_CONTRAST * peak)
    ink -= threshold
    mask = ink > 0
    if peak <= 0 or not mask.any():
        hint = (
            f"; invert={bool(invert)} was forced: is the ink "
            f"{'darker' if invert else 'lighter'} than the background? invert='auto' decides "
            f"by itself"
            if forced
            else ""
        )
        raise ValueError(
            f"{name} has no ink: no pixel stands out from the background level "
            f"{background:.3f} (inverted: {bool(invert)}), so there is no digit to find{hint}"
        )
    mask = _despeckle(mask)
    ink = np.where(mask, ink, 0.0)

    # 4. crop to the ink's bounding box
    ink = _crop(ink, mask)

    # 5-7. fit into the 20x20 box, every stroke at full brightness, thick strokes thinned
    digit = _fit_strokes(ink)

    # 8. put the center of mass at the center of the 28x28 frame, keeping all the ink inside
    new_h, new_w = digit.shape
    cy, cx = _center_of_mass(digit)
    top = min(max(round(MNIST_CENTER[0] - cy), 0), MNIST_SIZE - new_h)
    left = min(max(round(MNIST_CENTER[1] - cx), 0), MNIST_SIZE - new_w)
    frame = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float64)
    frame[top : top + new_h, left : left + new_w] = digit

    # 9. MNIST's contrast; 10. to 0..255, with the brightest ink at 255
    black, white = _contrast_curve(digit)
    frame = np.clip((frame - black) / (white - black), 0.0, 1.0)
    return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# public functions


def to_mnist(image: npt.ArrayLike, *, invert: InvertMode = "auto") -> npt.NDArray[np.uint8]:
    """Turn a picture of one digit into a 28x28 ``uint8`` image in MNIST's own format.

    The steps follow how MNIST itself was made:

    1. Grayscale: ITU-R 601 luma (``0.299 R + 0.587 G + 0.114 B``) for RGB. An alpha channel
       is composited over white, or over black when the visible pixels are light on average
       (light ink on a transparent background).
    2. Inversion, so that the ink is bright on black: with ``invert="auto"``, when the
       background is light, that is when the fraction of border pixels lighter than the
       midpoint between the darkest and lightest pixel, plus the fraction of all pixels
       lighter than it, exceeds 1 (the border decides, unless the ink covers much of it).
    3. Clean-up: the background level (the median of the border pixels, or of all pixels if
       the ink covers most of the border) is subtracted, and so is a noise floor, the larger
       of 4 robust standard deviations of those pixels and 5 % of the ink's peak, so that
       paper texture and faint noise do not count as ink. Isolated ink pixels (specks) are
       dropped.
    4. Crop to the bounding box of the ink.
    5. Scale to fit a 20x20 box keeping the aspect ratio, with anti-aliasing: area
       averaging when shrinking, bilinear interpolation when enlarging. The brightest pixel
       is set to 1 (255).
    6. Faint strokes brightened: when the ink is dim (the mean of the ink pixels is below
       151 out of 255, MNIST's 10th percentile), each pixel is divided by the brightest
       pixel within 2 pixels of it (but by no less than 0.3), so that every stroke peaks at
       full brightness as MNIST's do; fully when the mean is 121 or less, blended in between.
    7. Thick strokes thinned: when the width of the strokes' cores (twice the ink's mass
       over its total variation, on the grey levels steepened around half the peak) is over
       3.69 pixels, more than 95 % of the MNIST digits', the strokes are thinned to 3.35
       pixels (MNIST's 90th percentile) by grey-level erosion at twice the size, and steps 4-6
       are repeated on the result. A blob (a core width of half the digit's shorter side or
       more) is left as it is.
    8. Place the digit in a 28x28 frame so that its center of mass (of the pixel intensities
       after step 7) lands on pixel (14, 14), rounded to whole pixels, and moved less if
       needed so that no ink leaves the frame.
    9. Contrast: the grey levels go through the curve ``clip((v - black) / (white - black),
       0, 1)``, its black point (0 to 0.2) and white point (0.4 to 1) chosen from a grid so
       that the mean of the ink pixels and the fraction of them at 200 or above come within
       a quarter of MNIST's spread from digit to digit (about 4 levels and 2 points) of
       MNIST's own, 174.3 and 53.5 %, or as near as the grid allows, as gently as possible,
       and without erasing the outermost row or column of the digit (it still fills the
       20x20 box); a digit already there keeps its grey levels.
    10. Scale to 0..255 (the brightest pixel is 255) and round.

    Args:
        image: One image of any size: ``(H, W)`` grey, or ``(H, W, C)`` with ``C`` = 1 (grey),
            3 (RGB) or 4 (RGBA). Integer dtypes hold values in 0..255 (``uint8`` preferred);
            float dtypes hold values in [0, 1]. Dark ink on light paper or light ink on a
            dark background.
        invert: ``"auto"`` to detect the polarity (step 2); ``True`` when the ink is darker
            than the background; ``False`` when it is lighter.

    Returns:
        A new ``uint8`` array of shape ``(28, 28)``: bright ink (max 255) on black (0).

    Raises:
        ValueError: If ``image`` is not 2-D or 3-D with 1, 3 or 4 channels, is empty, has a
            ``bool``, complex or non-numeric dtype, or holds values out of range (0..255 for
            integers, [0, 1] for floats) or NaN; if ``invert`` is not ``"auto"``, ``True`` or
            ``False``; or if the image has no ink (it is blank: every pixel is at the
            background level, give or take the noise).

    Example:
        >>> import numpy as np
        >>> from kerasdigits.transforms import to_mnist
        >>> page = np.full((60, 90), 230, dtype=np.uint8)  # light paper...
        >>> page[10:50, 40:46] = 20  # ...with a dark vertical stroke: a "1"
        >>> digit = to_mnist(page)
        >>> digit.shape, digit.dtype, int(digit.max()), int(digit[0, 0])
        ((28, 28), dtype('uint8'), 255, 0)
        >>> rows = np.flatnonzero(digit.any(axis=1))
        >>> int(rows[0]), int(rows[-1])  # 20 rows tall, centered
        (4, 23)
    """
    _check_invert(invert)
    return _mnistify(_as_unit_float(image, "image"), invert, "image")


def to_mnist_batch(
    images: Iterable[npt.ArrayLike] | npt.NDArray[Any], *, invert: InvertMode = "auto"
) -> npt.NDArray[np.uint8]:
    """Apply :func:`to_mnist` to each of several images, which may differ in size.

    Args:
        images: A sequence (list, tuple, generator) of images, each as accepted by
            :func:`to_mnist`, or an array whose first axis indexes the images, such as
            ``(N, H, W)`` or ``(N, H, W, 3)``.
        invert: As for :func:`to_mnist`, applied to every image (``"auto"`` decides per image).

    Returns:
        A ``uint8`` array of shape ``(N, 28, 28)`` (``(0, 28, 28)`` for no images).

    Raises:
        ValueError: As :func:`to_mnist`, with the index of the offending image in the
            message; or if ``images`` is a single array with fewer than 3 dimensions.

    Example:
        >>> import numpy as np
        >>> from kerasdigits.transforms import to_mnist_batch
        >>> pages = np.zeros((2, 40, 40), dtype=np.uint8)
        >>> pages[:, 5:30, 10:20] = 255
        >>> to_mnist_batch(pages).shape
        (2, 28, 28)
    """
    _check_invert(invert)
    if isinstance(images, np.ndarray) and images.ndim < 3:
        raise ValueError(
            f"images must be a batch (a sequence of images or an array of shape (N, H, W) or "
            f"(N, H, W, C)), got an array of shape {images.shape}; use to_mnist() for one "
            f"image"
        )
    results = []
    for i, image in enumerate(images):
        name = f"images[{i}]"
        results.append(_mnistify(_as_unit_float(image, name), invert, name))
    if not results:
        return np.zeros((0, MNIST_SIZE, MNIST_SIZE), dtype=np.uint8)
    return np.stack(results)
