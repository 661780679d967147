"""Feeding images to a Keras model in the form it expects.

A kerasdigits model either takes raw ``uint8`` pixels (it was built with in-model
preprocessing) or, like the tutorials' models, ``float32`` pixels in [0, 1] shaped ``(784,)`` or
``(28, 28, 1)``. :func:`prepare_images` converts MNIST-style images (``uint8`` 0..255, or float
already in [0, 1]) to whichever the model declares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["model_input_spec", "prepare_images"]


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


def prepare_images(model: Any, images: npt.ArrayLike) -> tuple[np.ndarray, bool]:
    """Convert ``images`` to the model's input shape and dtype.

    Args:
        model: A Keras model with one image input.
        images: One image ``(H, W)`` / ``(H, W, 1)`` / ``(H*W,)`` or a batch of them; ``uint8``
            (0..255) or float (already scaled to [0, 1]).

    Returns:
        The batch to feed and whether the input was a single image.

    Raises:
        ValueError: The images cannot be reshaped to the model's input.
    """
    arr = np.asarray(images)
    shape, dtype = model_input_spec(model)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"images must be uint8 or float pixels, got dtype {arr.dtype}")
    size = int(np.prod(shape))
    if len(shape) >= 2:
        height, width = shape[0], shape[1]
    else:
        side = round(size**0.5)
        height, width = (side, side) if side * side == size else (1, size)
    single = arr.shape in {(size,), (height, width), (height, width, 1)}
    if single:
        arr = arr.reshape((1, *shape))
    elif arr.ndim >= 2 and int(np.prod(arr.shape[1:])) == size:
        arr = arr.reshape((arr.shape[0], *shape))
    else:
        raise ValueError(
            f"images of shape {arr.shape} do not fit the model's input {shape}: pass one image "
            f"({height}, {width}) or a batch (N, {height}, {width})"
        )
    raw = np.issubdtype(arr.dtype, np.integer)
    if dtype == "uint8":
        if not raw:
            arr = np.clip(np.rint(arr * 255.0), 0, 255)
        return arr.astype(np.uint8, copy=False), single
    if raw:
        return (arr.astype(np.float32) * np.float32(1.0 / 255.0)), single
    return arr.astype(np.float32, copy=False), single
