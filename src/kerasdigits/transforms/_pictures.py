"""Reading picture files (PNG, JPEG, GIF, TIFF, ...) into arrays, for :func:`to_mnist`.

Pillow does the decoding; it is the optional ``images`` extra (``pip install
"kerasdigits[images]"``) and is imported on first use only, so importing
:mod:`kerasdigits.transforms` stays free of it.

A picture from a phone or the web is checked and normalized before any pixel is used: the
EXIF orientation is applied, transparency is composited on white, palettes and CMYK become
RGB, only the first frame of an animation is read, and 16-bit pictures are scaled to 0..255
(rather than clipped, as Pillow's own conversion to 8 bits does); a float picture with NaN or
infinite pixels is refused. A picture of more than :data:`MAX_PIXELS` pixels is refused before
it is decoded, so a small file that would expand to gigabytes (a decompression bomb) costs
nothing. :func:`mnist_from_file` (and the server) first shrink a picture whose longer side is
more than :data:`MAX_SIDE` pixels, with Pillow, so that :func:`to_mnist` never works on a
40-megapixel array.

:func:`read_picture` names the file in its own errors (a missing, unreadable, truncated or
oversized file); an error found later, by a function given the array, cannot name it, so a
caller converting the picture should add the path itself, or use :func:`mnist_from_file`,
which reads and converts and names the file in every error.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kerasdigits._errors import KerasDigitsError
from kerasdigits.transforms._mnistify import InvertMode, _as_unit_float, _check_invert, _mnistify

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage
    from PIL.ImageFile import ImageFile

__all__ = ["MAX_PIXELS", "MAX_SIDE", "ImageError", "mnist_from_file", "read_picture"]

#: The largest picture read, in pixels (40 megapixels: more than any phone camera's photo,
#: 160 MB decoded as RGBA). Larger pictures are refused before they are decoded.
MAX_PIXELS = 40_000_000

#: :func:`mnist_from_file` shrinks a picture whose longer side is larger than this (in pixels)
#: to this size, keeping its aspect ratio (area averaging, and JPEG's own reduced decoding),
#: before :func:`to_mnist` sees it: plenty for a 20x20 digit, and it bounds the memory and time
#: of a photo of any size (a 6000x6000 picture would otherwise take about 2 GB).
MAX_SIDE = 1024

_INSTALL_HINT = 'pip install "kerasdigits[images]"'
# What Pillow's decoders raise on a truncated or corrupt file.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
_PIXELS_IN_MESSAGE = re.compile(r"\((\d+) pixels\)")


class ImageError(KerasDigitsError, ValueError):
    """A picture file cannot be used; the message starts with the file's path.

    Raised for a missing file, a folder, a file that is not a picture Pillow can read, a
    truncated or corrupt picture, one larger than the pixel limit (a decompression bomb), and,
    by :func:`mnist_from_file`, a picture with no digit in it.
    """


class _NonFinitePixelsError(ValueError):
    """A float picture has NaN or infinite pixels (the message does not name the file)."""


def _require_pillow() -> None:
    """Import Pillow, or raise :class:`~kerasdigits.plots.MissingExtraError` naming the extra.

    Raises:
        MissingExtraError: Pillow is not installed (an :class:`ImportError`).
    """
    try:
        import PIL.Image
        import PIL.ImageOps  # noqa: F401
    except ImportError as exc:
        from kerasdigits.plots import MissingExtraError

        raise MissingExtraError(
            f"reading pictures needs Pillow, which is not installed ({exc}); install the "
            f"images extra: {_INSTALL_HINT}",
            extra="images",
            name="PIL",
        ) from exc


def _too_large(path: object, pixels: int | None, max_pixels: int, detail: str = "") -> ImageError:
    if pixels is None:  # Pillow refused it and did not say how large it is
        return ImageError(f"{path}: picture too large (a decompression bomb?): {detail}")
    return ImageError(
        f"{path}: picture too large: {pixels:,} pixels, more than the {max_pixels:,} allowed "
        "(a decompression bomb?)"
    )


def _open(path: str | os.PathLike[str], max_pixels: int) -> ImageFile:
    """Open ``path`` (header only), refusing a picture of more than ``max_pixels`` pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = _PIXELS_IN_MESSAGE.search(str(exc))
        pixels = int(found.group(1)) if found else None
        raise _too_large(path, pixels, max_pixels, str(exc)) from None
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        if os.path.getsize(path) == 0:
            raise ImageError(f"{path}: empty file, not a picture") from None
        raise ImageError(
            f"{path}: not a picture Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...)"
        ) from None
    except _DECODE_ERRORS as exc:
        raise ImageError(f"{path}: cannot read: {_reason(exc)}") from exc
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise _too_large(path, width * height, max_pixels)
    return img


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _to_uint8(values: npt.NDArray[Any], *, full_scale: float) -> npt.NDArray[np.uint8]:
    """Scale a 16-bit, 32-bit or float gray image to 0..255.

    Values in ``0..full_scale`` map linearly onto 0..255 (65535 -> 255 for 16-bit pictures);
    any other range is stretched from its minimum to its maximum. The values must be finite.
    """
    data = values.astype(np.float32)
    lo, hi = float(data.min()), float(data.max())
    if lo >= 0 and hi <= full_scale:
        data *= np.float32(255.0 / full_scale)
    elif hi > lo:
        data -= np.float32(lo)
        data *= np.float32(255.0 / (hi - lo))
    else:
        data[...] = 0
    return np.clip(np.rint(data), 0, 255).astype(np.uint8)


def _on_white(img: PILImage, mode: str) -> npt.NDArray[np.uint8]:
    """Composite ``img`` (``"LA"`` or ``"RGBA"``) on white, giving ``mode`` (``"L"``, ``"RGB"``)."""
    from PIL import Image

    background = Image.new(mode, img.size, "white")
    background.paste(img.convert(mode), mask=img.getchannel("A"))
    return np.array(background, dtype=np.uint8)


def _shrunk_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled so that its longer side is ``max_side`` (aspect ratio kept)."""
    width, height = size
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shrink(img: PILImage, max_side: int) -> PILImage:
    """``img`` (loaded), or a copy averaged down to a longer side of ``max_side`` pixels.

    Modes that Pillow resizes badly (1-bit and palettes: nearest neighbour only) or not at all
    are converted first; so is a picture with a transparent colour (which averaging would
    change), to one with an alpha channel, which Pillow resizes premultiplied.
    """
    from PIL import Image

    if max(img.size) <= max_side:
        return img
    mode = img.mode
    if "transparency" in img.info and mode in ("1", "L", "P", "RGB"):
        img = img.convert("LA" if mode in ("1", "L") else "RGBA")
    elif mode == "1":
        img = img.convert("L")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode.startswith("I;16"):
        img = img.convert("I")
    elif mode not in ("L", "LA", "La", "RGB", "RGBA", "RGBa", "I", "F"):
        img = img.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV, ...
    return img.resize(_shrunk_size(img.size, max_side), Image.Resampling.BOX)


def _pixels(
    img: PILImage, *, keep_alpha: bool, max_side: int | None = None
) -> npt.NDArray[np.uint8]:
    """The decoded, normalized pixels of an opened picture (its first frame).

    With ``keep_alpha``, a picture with transparency comes back as RGBA ``(H, W, 4)`` (gray
    repeated in R, G and B) instead of being composited on white. With ``max_side``, a picture
    whose longer side is larger is shrunk to it (see :data:`MAX_SIDE`) before anything else
    is done with its pixels; a JPEG is then decoded at a reduced size to begin with.

    Raises:
        _NonFinitePixelsError: A float picture has NaN or infinite pixels.
    """
    from PIL import ImageOps

    if max_side is not None and max(img.size) > max_side:
        img.draft(None, _shrunk_size(img.size, max_side))  # JPEG: decode at 1/2, 1/4, 1/8
    img.load()
    ImageOps.exif_transpose(img, in_place=True)  # no copy of a large photo
    if max_side is not None:
        img = _shrink(img, max_side)
    mode = img.mode
    if mode == "I" or mode.startswith("I;16"):
        return _to_uint8(np.array(img), full_scale=65535.0)
    if mode == "F":
        values = np.array(img)
        if not np.isfinite(values).all():  # averaging by _shrink keeps a NaN or infinity
            raise _NonFinitePixelsError("float picture with NaN or infinite pixels")
        return _to_uint8(values, full_scale=1.0)
    transparent = "transparency" in img.info
    if mode in ("1", "L") and not transparent:
        return np.array(img.convert("L"), dtype=np.uint8)
    if mode in ("1", "L", "LA", "La"):
        gray = img.convert("LA")
        if keep_alpha:
            return np.array(gray, dtype=np.uint8)[..., [0, 0, 0, 1]]
        return _on_white(gray, "L")
    if mode in ("RGBA", "RGBa", "PA") or transparent:
        color = img.convert("RGBA")
        if keep_alpha:
            return np.array(color, dtype=np.uint8)
        return _on_white(color, "RGB")
    rgb = img if mode == "RGB" else img.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV, ...
    return np.array(rgb, dtype=np.uint8)


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _read(
    path: str | os.PathLike[str], *, max_pixels: int, keep_alpha: bool, max_side: int | None
) -> npt.NDArray[np.uint8]:
    _check_positive("max_pixels", max_pixels)
    if max_side is not None:
        _check_positive("max_side", max_side)
    _require_pillow()
    from PIL import Image

    if Path(path).is_dir():
        raise ImageError(f"{path}: a folder, not a picture")
    with _open(path, max_pixels) as img:
        try:
            pixels = _pixels(img, keep_alpha=keep_alpha, max_side=max_side)
        except _NonFinitePixelsError as exc:
            raise ImageError(f"{path}: {exc}") from None
        except Image.DecompressionBombError as exc:  # a later frame or tile, past the check
            raise _too_large(path, None, max_pixels, str(exc)) from None
        except _DECODE_ERRORS as exc:
            raise ImageError(f"{path}: truncated or corrupt picture: {_reason(exc)}") from exc
    return np.ascontiguousarray(pixels)


def read_picture(
    path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS, max_side: int | None = None
) -> npt.NDArray[np.uint8]:
    """Read a picture file into a ``uint8`` array: RGB ``(H, W, 3)``, or gray ``(H, W)``.

    Any format Pillow reads (PNG, JPEG, GIF, BMP, TIFF, WebP, ...). The picture is
    normalized: the EXIF orientation of a phone photo is applied; transparency (RGBA, gray
    with alpha, a palette's transparent colour) is composited on white; palette, CMYK and
    other colour modes become RGB; black-and-white (1-bit) pictures become gray 0 / 255; an
    animation (GIF, APNG) gives its first frame; 16-bit and 32-bit integer pictures are scaled
    so that 0..65535 maps to 0..255 (ordering kept, nothing clipped; values outside that range
    are stretched from their minimum to their maximum), and float pictures so that 0..1 does
    (NaN and infinite pixels are refused). The picture keeps its full size unless
    ``max_side`` is given.

    Errors found here name the file. Errors found later by whoever uses the array (such as
    :func:`to_mnist` finding no ink) cannot: add the path yourself, or use
    :func:`mnist_from_file`.

    Args:
        path: The picture file.
        max_pixels: Refuse a picture of more pixels than this (width times height), before
            decoding it. Pillow's own limit (``PIL.Image.MAX_IMAGE_PIXELS``, about 89
            megapixels by default) applies too.
        max_side: If given, shrink a picture whose longer side is larger than this to that
            size, keeping its aspect ratio (area averaging); by default the picture keeps its
            full size.

    Returns:
        A new, writable ``uint8`` array: ``(H, W)`` for a gray picture (one channel, with or
        without alpha, 1-bit, 16-bit or float), else ``(H, W, 3)`` RGB.

    Raises:
        ImageError: The file is missing, a folder, not a picture, truncated or corrupt, has
            more than ``max_pixels`` pixels, or is a float picture with NaN or infinite pixels
            (the message starts with the path and, for a picture too large, gives its pixel
            count).
        MissingExtraError: Pillow is not installed (an :class:`ImportError`; the message says
            ``pip install "kerasdigits[images]"``).
        ValueError: ``max_pixels`` or ``max_side`` is not a positive integer.

    Example:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> from kerasdigits.transforms import read_picture
        >>> path = os.path.join(tempfile.mkdtemp(), "seven.png")
        >>> Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(path)  # transparent
        >>> picture = read_picture(path)
        >>> picture.shape, picture.dtype, int(picture.min())  # composited on white
        ((30, 40, 3), dtype('uint8'), 255)
    """
    return _read(path, max_pixels=max_pixels, keep_alpha=False, max_side=max_side)


def mnist_from_file(
    path: str | os.PathLike[str],
    *,
    invert: InvertMode = "auto",
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = MAX_SIDE,
) -> npt.NDArray[np.uint8]:
    """Read a picture of one digit and turn it into a 28x28 MNIST-style image.

    :func:`read_picture` followed by :func:`to_mnist`, except that transparency is left to
    :func:`to_mnist`, which composites it over white, or over black for light ink on a
    transparent background (so that the ink stays visible either way), that a picture whose
    longer side is more than ``max_side`` pixels is first shrunk to that size (so that a big
    photo costs tens of megabytes, not gigabytes), and that every error names the file.

    Args:
        path: The picture file.
        invert: As for :func:`to_mnist`: ``"auto"``, ``True`` (dark ink on light paper) or
            ``False`` (light ink on a dark background).
        max_pixels: As for :func:`read_picture`.
        max_side: Shrink a picture whose longer side is larger than this (in pixels) to that
            size first, keeping its aspect ratio; ``None`` converts it at full size.

    Returns:
        A new ``uint8`` array of shape ``(28, 28)``: bright ink on black.

    Raises:
        ImageError: As :func:`read_picture`, or the picture has no ink (it is blank); the
            message starts with the path.
        MissingExtraError: Pillow is not installed.
        ValueError: ``invert``, ``max_pixels`` or ``max_side`` is invalid (checked before
            reading).
    """
    _check_invert(invert)
    picture = _read(path, max_pixels=max_pixels, keep_alpha=True, max_side=max_side)
    name = str(path)
    try:
        return _mnistify(_as_unit_float(picture, name), invert, name)
    except ValueError as exc:
        raise ImageError(str(exc)) from exc
