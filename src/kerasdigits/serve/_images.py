"""Turning what a client sends (a picture file, or pixels as JSON) into the 28x28 model input.

A picture is decoded with Pillow, normalized as :func:`~kerasdigits.transforms.read_picture`
normalizes files (EXIF orientation, palettes, 16-bit...), shrunk to a longer side of
:data:`~kerasdigits.transforms._pictures.MAX_SIDE` pixels (as
:func:`~kerasdigits.transforms.mnist_from_file` does, so that a big photo costs tens of
megabytes rather than gigabytes), and goes through :func:`~kerasdigits.transforms.to_mnist`.
Pixels sent as JSON are either a 28x28 image already in MNIST's format (fed as they are) or,
with ``"preprocess": true``, any picture for ``to_mnist``. Every problem is a
:class:`RequestError` carrying the HTTP status and a one-line message for the client.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from kerasdigits.serve._classifier import IMAGE_SIZE
from kerasdigits.transforms._mnistify import to_mnist
from kerasdigits.transforms._pictures import (
    _DECODE_ERRORS,
    MAX_PIXELS,
    MAX_SIDE,
    _NonFinitePixelsError,
    _pixels,
)

__all__ = ["RequestError", "image_from_bytes", "image_from_json"]


class RequestError(Exception):
    """A request the server answers with an error status and a one-line message.

    Attributes:
        status: The HTTP status code.
        message: What is wrong, for the client.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _no_digit(exc: ValueError) -> RequestError:
    return RequestError(422, f"no digit found: {_first_line(exc)}")


def image_from_bytes(data: bytes, *, max_pixels: int = MAX_PIXELS) -> npt.NDArray[np.uint8]:
    """Decode a picture file and return its ``to_mnist`` image.

    A picture whose longer side is more than :data:`MAX_SIDE` pixels is shrunk to that first.

    Args:
        data: The file's bytes (PNG, JPEG, GIF, BMP, TIFF, WebP: what Pillow reads).
        max_pixels: Refuse larger pictures (width times height) before decoding them.

    Returns:
        ``uint8 (28, 28)``, bright ink on black.

    Raises:
        RequestError: 422 for an empty, truncated or corrupt file or a picture without a
            digit, or a float picture with NaN or infinite pixels; 415 for a file that is
            not a picture; 413 for too many pixels.
    """
    if not data:
        raise RequestError(422, "empty request: send a picture file (PNG, JPEG, ...)")
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow is in the serve extra
        raise RequestError(500, 'the server cannot read pictures: Pillow is not installed '
                                '(pip install "kerasdigits[serve]")') from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise RequestError(415, "not a picture: send a PNG, JPEG, GIF, BMP, TIFF or WebP "
                                "file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RequestError(413, f"picture too large: more than {max_pixels:,} pixels"
                           ) from None
    except _DECODE_ERRORS as exc:
        raise RequestError(422, f"cannot read the picture: {_first_line(exc)}") from None
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise RequestError(413, f"picture too large: {width}x{height} pixels, more than "
                                    f"the {max_pixels:,} allowed")
        try:
            pixels = _pixels(img, keep_alpha=True, max_side=MAX_SIDE)
        except _NonFinitePixelsError as exc:
            raise RequestError(422, f"unusable picture: {exc}") from None
        except Image.DecompressionBombError:
            raise RequestError(413, "picture too large (a decompression bomb?)") from None
        except _DECODE_ERRORS as exc:
            raise RequestError(422, f"truncated or corrupt picture: {_first_line(exc)}"
                               ) from None
    try:
        return to_mnist(pixels)
    except ValueError as exc:
        raise _no_digit(exc) from None


def image_from_json(payload: Any, *, max_pixels: int = MAX_PIXELS) -> npt.NDArray[np.uint8]:
    """Return the 28x28 image of a JSON request body.

    The body is ``{"image": [[...], ...]}``: rows of pixels, integers 0..255 or floats in
    [0, 1]. Without ``"preprocess": true`` it must be 28x28 (or 784 values) in MNIST's format,
    bright ink on black, and is fed as it is; with it, any grey picture (rows of pixels) goes
    through :func:`~kerasdigits.transforms.to_mnist` first.

    Args:
        payload: The parsed JSON body.
        max_pixels: Refuse larger pictures.

    Returns:
        ``uint8 (28, 28)``, bright ink on black.

    Raises:
        RequestError: 422 when the body does not hold such an image.
    """
    if not isinstance(payload, dict) or "image" not in payload:
        raise RequestError(422, 'expected a JSON object {"image": [[...28 numbers], ...28 '
                                'rows]} (pixels 0..255, bright ink on black)')
    preprocess = payload.get("preprocess", False)
    if not isinstance(preprocess, bool):
        raise RequestError(422, f'"preprocess" must be true or false, got {preprocess!r}')
    try:
        array = np.asarray(payload["image"])
    except (ValueError, TypeError):
        raise RequestError(422, '"image" must be rows of numbers of equal length') from None
    if array.dtype.kind not in "iuf" or array.dtype == np.bool_:
        raise RequestError(422, '"image" must hold numbers: integers 0..255 or floats in '
                                '[0, 1]')
    if array.size > max_pixels:
        raise RequestError(413, f"image too large: {array.size:,} pixels, more than the "
                                f"{max_pixels:,} allowed")
    if preprocess:
        try:
            return to_mnist(array)
        except ValueError as exc:
            if "no ink" in str(exc):
                raise _no_digit(exc) from None
            raise RequestError(422, f'"image": {_first_line(exc)}') from None
    if array.shape == (IMAGE_SIZE * IMAGE_SIZE,):
        array = array.reshape(IMAGE_SIZE, IMAGE_SIZE)
    if array.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise RequestError(422, f'"image" must be {IMAGE_SIZE}x{IMAGE_SIZE} (got shape '
                                f'{list(array.shape)}); send "preprocess": true to run '
                                'to_mnist on a picture of another size')
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise RequestError(422, '"image": float pixels must be in [0, 1] (send integers '
                                    'for 0..255)')
        return np.rint(array * 255.0).astype(np.uint8)
    if array.min() < 0 or array.max() > 255:
        raise RequestError(422, '"image": integer pixels must be in 0..255')
    return array.astype(np.uint8)
