"""What a model takes and how to feed it: the one place that decides.

A kerasdigits model either takes raw ``uint8`` pixels (it was built with in-model
preprocessing) or, like the tutorials' models, ``float32`` pixels in [0, 1] shaped ``(784,)`` or
``(28, 28, 1)``; a ``float32`` model whose first layer normalizes (a ``Normalize`` or
``Rescaling`` layer) takes ``float32`` pixels 0..255. :func:`input_contract` says which, as an
:class:`InputContract`; ``train``'s pipeline, ``predict``, ``evaluate`` and ``export_tflite``
all follow it. :func:`prepare_images` checks MNIST-style images against the pixel contract
(:func:`check_pixels`) and converts them to what the model declares.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from kerasdigits._errors import KerasDigitsError

__all__ = [
    "InputContract",
    "PixelError",
    "check_pixels",
    "input_contract",
    "model_input_spec",
    "prepare_images",
    "to_uint8",
]


@dataclass(frozen=True)
class InputContract:
    """What a model's input takes.

    Attributes:
        shape: The per-example input shape (``(784,)``, ``(28, 28)`` or ``(28, 28, 1)``).
        dtype: ``"uint8"`` or ``"float32"``.
        scale: ``"raw"`` (pixel values 0..255: a ``uint8`` model, or a float model whose first
            layer normalizes) or ``"unit"`` (pixel / 255, in [0, 1]).
        height: Image height.
        width: Image width.
        channels: Channels per pixel.
    """

    shape: tuple[int, ...]
    dtype: str
    scale: Literal["raw", "unit"]
    height: int
    width: int
    channels: int

    @property
    def size(self) -> int:
        """Values per example."""
        return self.height * self.width * self.channels

    @property
    def pixel_factor(self) -> float:
        """What a raw pixel (0..255) is multiplied by before it is fed: 1 or 1/255."""
        return 1.0 if self.scale == "raw" else 1.0 / 255.0


_CONTRACTS: weakref.WeakKeyDictionary[Any, InputContract] = weakref.WeakKeyDictionary()


def input_contract(model: Any) -> InputContract:
    """Return what ``model`` takes (cached per model).

    Raises:
        ValueError: The model does not have exactly one defined input.
    """
    try:
        cached = _CONTRACTS.get(model)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    shape, dtype = model_input_spec(model)
    size = math.prod(shape)
    if len(shape) >= 2:
        height, width = shape[0], shape[1]
    else:
        side = math.isqrt(max(size, 0))
        height, width = (side, side) if side * side == size else (1, size)
    channels = size // (height * width) if height * width else 1
    raw = dtype == "uint8" or normalizes_first(model)
    contract = InputContract(tuple(shape), dtype, "raw" if raw else "unit", height, width,
                             channels)
    with contextlib.suppress(TypeError):  # not weak-referenceable: not cached
        _CONTRACTS[model] = contract
    return contract


def first_layers(model: Any) -> list[Any]:
    """The layers that consume the model's input directly."""
    from kerasdigits import _lazy

    keras = _lazy.keras()
    source = model.inputs[0]
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            if layer.input is source:
                found.append(layer)
        except (AttributeError, ValueError):  # a layer used several times has no single input
            continue
    if not found and type(model).__name__ == "Sequential":
        found = [layer for layer in model.layers[:1]
                 if not isinstance(layer, keras.layers.InputLayer)]
    return found


def normalizes_first(model: Any) -> bool:
    """Whether the model's first layer scales the pixels itself (so it takes 0..255)."""
    from kerasdigits import _lazy
    from kerasdigits.transforms.layers import Normalize

    keras = _lazy.keras()
    return any(isinstance(layer, Normalize | keras.layers.Rescaling)
               for layer in first_layers(model))


class PixelError(KerasDigitsError, ValueError):
    """Images given to a model have the wrong dtype, shape or pixel values.

    The message starts with the argument's name and says what is wrong: a dtype that is not
    pixels (``bool``, strings, complex numbers), integer pixels outside 0..255, float pixels
    that are not finite or outside [0, 1], or a shape that is neither one image nor a batch.
    """


def check_pixels(images: np.ndarray, name: str = "images") -> None:
    """Check that ``images`` hold valid pixel values for their dtype.

    The contract: ``uint8`` pixels are 0..255 (always valid); integer arrays of other dtypes
    are accepted if every value is in 0..255; float pixels must be finite and in [0, 1].
    Anything else (``bool``, strings, complex numbers, objects) is not pixels. One min/max
    pass over the array; a ``uint8`` array is not scanned at all.

    Args:
        images: The array to check, any shape (an empty array passes).
        name: The argument's name, used to start the error message.

    Raises:
        PixelError: The dtype is not pixels or a value is outside the dtype's range.
    """
    dtype = images.dtype
    kind = dtype.kind
    if kind == "u" and dtype.itemsize == 1:
        return
    if kind not in "uif":
        raise PixelError(f"{name}: must be uint8 or float pixels, got dtype {dtype}")
    if images.size == 0:
        return
    low, high = images.min(), images.max()
    if kind == "f":
        if low >= 0 and high <= 1:
            return
        if np.isnan(low) or np.isnan(high):
            raise PixelError(f"{name}: float pixels must be finite, got NaN")
        if np.isinf(high) or np.isinf(low):
            raise PixelError(
                f"{name}: float pixels must be finite, got {'inf' if np.isinf(high) else '-inf'}"
            )
        if high > 1:
            raise PixelError(
                f"{name}: float pixels must be in [0, 1]; divide by 255 or pass uint8 "
                f"(got values up to {float(high):g})"
            )
        raise PixelError(
            f"{name}: float pixels must be in [0, 1], got values down to {float(low):g}"
        )
    if low < 0 or high > 255:
        raise PixelError(
            f"{name}: integer pixels must be in 0..255, got values from {int(low)} to "
            f"{int(high)} ({dtype})"
        )


def to_uint8(images: np.ndarray) -> npt.NDArray[np.uint8]:
    """Return pixels that passed :func:`check_pixels` as ``uint8`` 0..255.

    Integers are cast as they are; floats in [0, 1] are scaled by 255 and rounded.
    """
    if images.dtype.kind == "f":
        images = np.rint(images * 255.0)
    return images.astype(np.uint8, copy=False)


def model_input_spec(model: Any) -> tuple[tuple[int, ...], str]:
    """Return the per-example input shape (without batch) and dtype name of ``model``."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no defined input; "
                         "build it first (kerasdigits.build does)")
    if len(inputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(inputs)} inputs; expected one image input")
    tensor = inputs[0]
    shape = tuple(int(d) if d is not None else -1 for d in tensor.shape[1:])
    dtype = tensor.dtype if isinstance(tensor.dtype, str) else tensor.dtype.name
    return shape, str(dtype)


def prepare_images(
    model: Any, images: npt.ArrayLike, name: str = "images"
) -> tuple[np.ndarray, bool]:
    """Check ``images`` and convert them to the model's input shape and dtype.

    Whatever the model's own input layout (``(H*W,)``, ``(H, W)`` or ``(H, W, 1)``), one image
    is accepted as ``(H, W)``, ``(H, W, 1)`` or ``(H*W,)`` and a batch as ``(N, H, W)``,
    ``(N, H, W, 1)`` or ``(N, H*W)``; ``N`` may be 0. Other shapes with the same number of
    pixels (``(2, 14, 56)``) are errors, not reshaped. Pixel values follow
    :func:`check_pixels`.

    Args:
        model: A Keras model with one image input.
        images: One image or a batch of them: ``uint8`` (0..255), another integer dtype with
            values in 0..255, or float already scaled to [0, 1].
        name: The argument's name, used in error messages.

    Returns:
        The batch to feed and whether the input was a single image.

    Raises:
        PixelError: The images are not pixels (:func:`check_pixels`) or their shape is not one
            image or a batch of them.
        ValueError: The model does not have exactly one defined input.
    """
    arr = np.asarray(images)
    contract = input_contract(model)
    shape, dtype = contract.shape, contract.dtype
    size, height, width, channels = (contract.size, contract.height, contract.width,
                                     contract.channels)

    def fits(example: tuple[int, ...]) -> bool:
        return example == (size,) or example == (height, width, channels) or (
            channels == 1 and example == (height, width))

    single = fits(arr.shape)
    if single:
        arr = arr.reshape((1, *shape))
    elif arr.ndim >= 2 and fits(arr.shape[1:]):
        arr = arr.reshape((arr.shape[0], *shape))
    else:
        one = [f"({height}, {width})", f"({height}, {width}, {channels})", f"({size},)"]
        if channels != 1:
            one = one[1:]
        raise PixelError(
            f"{name} of shape {arr.shape} do not fit the model's input: pass one image "
            f"{', '.join(one[:-1])} or {one[-1]}, or a batch of them such as "
            f"(N, {one[0][1:]}"
        )
    check_pixels(arr, name)
    if dtype == "uint8":
        return to_uint8(arr), single
    if arr.dtype.kind != "f":  # raw pixels 0..255
        return arr.astype(np.float32) * np.float32(contract.pixel_factor), single
    if contract.scale == "raw":  # pixels given in [0, 1], the model takes 0..255
        return arr.astype(np.float32) * np.float32(255.0), single
    return arr.astype(np.float32, copy=False), single
