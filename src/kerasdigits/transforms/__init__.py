"""Preprocessing transforms: scale pixels, flatten images, one-hot encode labels.

:func:`to_mnist` (and :func:`to_mnist_batch`) turns a picture of one digit taken anywhere (any
size, RGB/RGBA or grey, dark ink on light paper or the reverse) into a 28x28 ``uint8`` image in
MNIST's own format: bright ink on black, scaled to fit 20x20 and centered by center of mass.
:func:`read_picture` reads a picture file (PNG, JPEG, GIF, ...; needs Pillow, the ``images``
extra) into such an array, and :func:`mnist_from_file` does both, naming the file in its
errors (:class:`ImageError`).

The functions here use NumPy only (and Pillow, imported on first use, to read files);
importing this module does not import TensorFlow, Keras or Pillow. The same transforms as
Keras layers, for putting the preprocessing inside a model so that it takes raw ``uint8``
pixels, live in :mod:`kerasdigits.transforms.layers` (import it explicitly, or use
``kerasdigits.transforms.layers``, which imports Keras on first access).
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
    >>> from kerasdigits.transforms import to_mnist
    >>> photo = np.full((120, 80, 3), 240, dtype=np.uint8)  # white paper, RGB
    >>> photo[20:100, 30:45] = (10, 10, 60)  # a dark blue "1"
    >>> to_mnist(photo).shape
    (28, 28)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kerasdigits.transforms._mnistify import to_mnist, to_mnist_batch
from kerasdigits.transforms._numpy import (
    Compose,
    flatten,
    normalize,
    one_hot,
    pipeline,
    pixel_stats,
)
from kerasdigits.transforms._pictures import ImageError, mnist_from_file, read_picture

if TYPE_CHECKING:
    from kerasdigits.transforms import layers as layers

__all__ = [
    "Compose",
    "ImageError",
    "flatten",
    "mnist_from_file",
    "normalize",
    "one_hot",
    "pipeline",
    "pixel_stats",
    "read_picture",
    "to_mnist",
    "to_mnist_batch",
]


def __getattr__(name: str) -> Any:
    # ``kerasdigits.transforms.layers`` imports Keras, so it is only loaded on first access.
    if name == "layers":
        return importlib.import_module("kerasdigits.transforms.layers")
    raise AttributeError(f"module 'kerasdigits.transforms' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "layers"})
