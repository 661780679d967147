"""Keras losses used by the model zoo (importing this module imports Keras).

Registered for ``.keras`` serialization under the package name ``kerasdigits``, as the zoo's
layers are: :func:`kerasdigits.load_model` imports this module before it loads a file.

Example:
    >>> import numpy as np
    >>> from kerasdigits.models.losses import SmoothedSparseCategoricalCrossentropy
    >>> loss = SmoothedSparseCategoricalCrossentropy(label_smoothing=0.1)
    >>> probs = np.array([[0.9, 0.05, 0.05]], dtype="float32")
    >>> round(float(loss(np.array([0]), probs)), 4)  # against [0.9333, 0.0333, 0.0333]
    0.2981
"""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy, _validate

keras = _lazy.keras()

__all__ = ["SmoothedSparseCategoricalCrossentropy"]


@keras.saving.register_keras_serializable(package="kerasdigits")
class SmoothedSparseCategoricalCrossentropy(keras.losses.Loss):  # type: ignore[misc,name-defined]
    """Cross-entropy against integer labels with label smoothing.

    Keras's ``SparseCategoricalCrossentropy`` has no ``label_smoothing``; this is
    ``keras.losses.CategoricalCrossentropy(label_smoothing=...)`` on the one-hot labels, so
    the kerasdigits pipeline keeps feeding integer labels. The target of class ``k`` of ``n``
    becomes ``1 - label_smoothing + label_smoothing / n`` and every other class
    ``label_smoothing / n``: the model is taught not to be certain, which regularizes it. No
    zoo model uses it by default (for ``accurate_convnet`` on MNIST, 0.1 did not pay on fresh
    seeds: ``bench/README.md``, issue 17 round 5).

    Args:
        label_smoothing: How much of the target is spread evenly over the classes; in
            ``[0, 1)``. ``0`` is plain sparse categorical cross-entropy.
        from_logits: ``y_pred`` holds logits rather than probabilities.
        **kwargs: Passed to ``keras.losses.Loss`` (``reduction``, ``name``, ``dtype``).

    Raises:
        ValueError: ``label_smoothing`` is not a number in ``[0, 1)``.
    """

    def __init__(self, label_smoothing: float = 0.1, from_logits: bool = False,
                 **kwargs: Any) -> None:
        kwargs.setdefault("name", "smoothed_sparse_categorical_crossentropy")
        super().__init__(**kwargs)
        self.label_smoothing = _validate.fraction(label_smoothing, "label_smoothing",
                                                  low_open=False)
        self.from_logits = bool(from_logits)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Return the loss of each example: ``y_true`` integer labels, ``y_pred`` scores."""
        ops = keras.ops
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        target = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            target, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        """Return the config Keras saves in a ``.keras`` file."""
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "from_logits": self.from_logits}

