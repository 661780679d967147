"""Keras layers used by the model zoo (importing this module imports Keras).

Registered for ``.keras`` serialization under the package name ``kerasdigits``: import this
module before ``keras.models.load_model`` on a saved zoo model that uses them (as with
:mod:`kerasdigits.transforms.layers`).

Example:
    >>> import numpy as np
    >>> from kerasdigits.models.layers import RandomShift
    >>> x = np.ones((1, 28, 28, 1), dtype="float32")
    >>> bool((np.asarray(RandomShift(0.1)(x)) == x).all())  # inference unless training=True
    True
"""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy

keras = _lazy.keras()

__all__ = ["RandomShift"]


@keras.saving.register_keras_serializable(package="kerasdigits")
class RandomShift(keras.layers.RandomTranslation):  # type: ignore[misc,name-defined]
    """Random translations of training images, inactive at inference.

    ``keras.layers.RandomTranslation`` with ``fill_mode="constant"`` (zeros, the MNIST
    background) and one factor for both axes, that defaults to *inference*: Keras's own
    random preprocessing layers default to ``training=True``, so ``model(x)`` without a
    ``training`` argument would shift the images and, worse, switch the batch-normalization
    layers after them to training mode (updating their moving statistics). Here only
    ``fit`` (which passes ``training=True``) shifts. Absent from an exported TFLite model.

    Args:
        factor: Largest shift, as a fraction of the image height and width.
        **kwargs: Passed to ``keras.layers.RandomTranslation`` (``name``, ``seed``...).
    """

    def __init__(self, factor: float = 0.1, **kwargs: Any) -> None:
        kwargs.setdefault("height_factor", factor)
        kwargs.setdefault("width_factor", factor)
        kwargs.setdefault("fill_mode", "constant")
        super().__init__(**kwargs)

    def call(self, data: Any, training: bool = False) -> Any:
        """Shift ``data`` randomly if ``training``, else return it unchanged."""
        return super().call(data, training=training)
