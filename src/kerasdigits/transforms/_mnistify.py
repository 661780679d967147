"""Turn an arbitrary picture of one digit into a 28x28 MNIST-style image (NumPy only).

MNIST was made from binary NIST scans: each digit was scaled to fit a 20x20 box keeping its
aspect ratio (the anti-aliasing of that step produced the grey levels), then placed in a
28x28 frame so that its center of mass lies at the center of the frame. :func:`to_mnist`
repeats those steps on any picture (a photo, a scan, a drawing on a phone screen), after
turning it into bright ink on a black background, so that a model trained on MNIST sees its
input in the format it was trained on.
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
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    # 5. fit into the 20x20 box, keeping the aspect ratio
    h, w = ink.shape
    scale = MNIST_BOX / max(h, w)
    new_h = min(MNIST_BOX, max(1, round(h * scale)))
    new_w = min(MNIST_BOX, max(1, round(w * scale)))
    digit = _resize(ink, (new_h, new_w))

    # 6. put the center of mass at the center of the 28x28 frame, keeping all the ink inside
    cy, cx = _center_of_mass(digit)
    top = min(max(round(MNIST_CENTER[0] - cy), 0), MNIST_SIZE - new_h)
    left = min(max(round(MNIST_CENTER[1] - cx), 0), MNIST_SIZE - new_w)
    frame = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float64)
    frame[top : top + new_h, left : left + new_w] = digit

    # 7. stretch to 0..255 with the brightest ink at 255
    frame *= 255.0 / float(frame.max())
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


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
       averaging when shrinking, bilinear interpolation when enlarging.
    6. Place the digit in a 28x28 frame so that its center of mass (of the pixel intensities)
       lands on pixel (14, 14), rounded to whole pixels, and moved less if needed so that no
       ink leaves the frame.
    7. Stretch to 0..255 so that the brightest ink pixel is 255.

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
