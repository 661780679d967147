"""Preprocessing transforms: scale pixels, flatten images, one-hot encode labels.

The functions here use NumPy only; importing this module does not import TensorFlow or
Keras. The same transforms as Keras layers, for putting the preprocessing inside a model so
that it takes raw ``uint8`` pixels, live in :mod:`kerasdigits.transforms.layers` (import it
explicitly, or use ``kerasdigits.transforms.layers``, which imports Keras on first access).
The NumPy functions and the layers use the same ``float32`` arithmetic.

Example:
    >>> import numpy as np
    >>> from kerasdigits.transforms import flatten, normalize, one_hot, pipeline, pixel_stats
    >>> images = np.array([[[0, 255], [255, 0]]], dtype=np.uint8)  # a batch of one 2x2 image
    >>> flatten(normalize(images)).tolist()
    [[0.0, 1.0, 1.0, 0.0]]
    >>> mean, std = pixel_stats(images)  # from the training split
    >>> mean, std
    (0.5, 0.5)
    >>> prep = pipeline(lambda x: normalize(x, "standard", mean=mean, std=std), flatten)
    >>> prep(images).tolist()
    [[-1.0, 1.0, 1.0, -1.0]]
    >>> one_hot(np.array([3, 0]), num_classes=4).tolist()
    [[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kerasdigits.transforms._numpy import (
    Compose,
    flatten,
    normalize,
    one_hot,
    pipeline,
    pixel_stats,
)

if TYPE_CHECKING:
    from kerasdigits.transforms import layers as layers

__all__ = ["Compose", "flatten", "normalize", "one_hot", "pipeline", "pixel_stats"]


def __getattr__(name: str) -> Any:
    # ``kerasdigits.transforms.layers`` imports Keras, so it is only loaded on first access.
    if name == "layers":
        return importlib.import_module("kerasdigits.transforms.layers")
    raise AttributeError(f"module 'kerasdigits.transforms' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "layers"})
