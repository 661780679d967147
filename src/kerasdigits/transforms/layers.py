"""The transforms as Keras layers, so that a model can take raw ``uint8`` pixels.

Importing this module imports Keras. Every layer here is registered for ``.keras``
serialization under the package name ``kerasdigits`` and lowers to TFLite builtin ops only
(``CAST``, ``MUL``, ``ADD``, ``RESHAPE``, ``ONE_HOT``).

Example:
    >>> import numpy as np
    >>> from kerasdigits.transforms.layers import Normalize
    >>> Normalize()(np.array([[0, 255]], dtype=np.uint8)).numpy().tolist()
    [[0.0, 1.0]]
"""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy

# Typed ``Any``: Keras ships no type information, and its classes are used as base classes.
keras: Any = _lazy.keras()
ops = keras.ops

__all__ = ["AddChannel", "Flatten", "Normalize", "OneHot"]

_MODES = ("unit", "standard")


@keras.saving.register_keras_serializable(package="kerasdigits")
class Normalize(keras.layers.Layer):  # type: ignore[misc]
    """Cast pixels to ``float32`` and scale them, inside the model.

    ``mode="unit"`` maps 0..255 to [0, 1]; ``mode="standard"`` computes
    ``(x / 255 - mean) / std`` with ``mean`` and ``std`` given on the unit scale (for MNIST,
    about 0.1307 and 0.3081). The same arithmetic as :func:`kerasdigits.transforms.normalize`.

    Args:
        mode: ``"unit"`` or ``"standard"``.
        mean: Mean on the unit scale (``"standard"`` only; required there).
        std: Standard deviation on the unit scale (``"standard"`` only; required there).
        **kwargs: Passed to :class:`keras.layers.Layer` (``name``, ...).
    """

    def __init__(
        self,
        mode: str = "unit",
        mean: float | None = None,
        std: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ValueError(f"Normalize: mode must be one of {_MODES}, got {mode!r}")
        if mode == "standard":
            if mean is None or std is None:
                raise ValueError("Normalize: mode='standard' needs mean= and std= (unit scale)")
            if not std > 0:
                raise ValueError(f"Normalize: std must be positive, got {std}")
        elif mean is not None or std is not None:
            raise ValueError("Normalize: mean= and std= apply to mode='standard' only")
        self.mode = mode
        self.mean = None if mean is None else float(mean)
        self.std = None if std is None else float(std)

    def call(self, inputs: Any) -> Any:
        """Cast ``inputs`` to ``float32`` and scale them."""
        x = ops.cast(inputs, "float32")
        if self.mode == "unit":
            return x * (1.0 / 255.0)
        assert self.mean is not None
        assert self.std is not None
        # One multiply-add: (x/255 - mean)/std == x * (1/(255 std)) + (-mean/std).
        return x * (1.0 / (255.0 * self.std)) + (-self.mean / self.std)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Return the output shape for ``input_shape``."""
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """Return the layer's configuration, for ``.keras`` serialization."""
        return {**super().get_config(), "mode": self.mode, "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package="kerasdigits")
class Flatten(keras.layers.Layer):  # type: ignore[misc]
    """Flatten ``(batch, H, W)`` or ``(batch, H, W, 1)`` images to ``(batch, H * W)``.

    Unlike :class:`keras.layers.Flatten`, the output size is static, so an exported TFLite
    model has a fixed ``[1, 784]`` shape.
    """

    def call(self, inputs: Any) -> Any:
        """Reshape ``inputs`` to ``(batch, H * W)``."""
        size = 1
        for dim in inputs.shape[1:]:
            size *= int(dim)
        return ops.reshape(inputs, (-1, size))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Return the output shape for ``input_shape``."""
        size = 1
        for dim in input_shape[1:]:
            size *= int(dim or 0)
        return (input_shape[0], size)


@keras.saving.register_keras_serializable(package="kerasdigits")
class AddChannel(keras.layers.Layer):  # type: ignore[misc]
    """Give ``(batch, H, W)`` images a channel axis: ``(batch, H, W, 1)``; 4-D input passes."""

    def call(self, inputs: Any) -> Any:
        """Append a channel axis to 3-D ``inputs``."""
        if len(inputs.shape) == 4:
            return inputs
        return ops.expand_dims(inputs, -1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Return the output shape for ``input_shape``."""
        return input_shape if len(input_shape) == 4 else (*input_shape, 1)


@keras.saving.register_keras_serializable(package="kerasdigits")
class OneHot(keras.layers.Layer):  # type: ignore[misc]
    """One-hot encode integer labels to ``float32`` vectors of length ``num_classes``.

    Args:
        num_classes: Number of classes.
        **kwargs: Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, num_classes: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"OneHot: num_classes must be a positive int, got {num_classes!r}")
        self.num_classes = num_classes

    def call(self, inputs: Any) -> Any:
        """One-hot encode ``inputs``."""
        labels = ops.cast(inputs, "int32")
        if len(labels.shape) == 2 and labels.shape[-1] == 1:
            labels = ops.squeeze(labels, -1)
        return ops.one_hot(labels, self.num_classes, dtype="float32")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Return the output shape for ``input_shape``."""
        if len(input_shape) == 2 and input_shape[-1] == 1:
            input_shape = input_shape[:-1]
        return (*input_shape, self.num_classes)

    def get_config(self) -> dict[str, Any]:
        """Return the layer's configuration, for ``.keras`` serialization."""
        return {**super().get_config(), "num_classes": self.num_classes}
