"""A callable entry point: registers ``kd_tiny_conv`` when called."""

from __future__ import annotations

from typing import Any

from kerasdigits.models import register_model


def register() -> None:
    """Register this module's models."""

    @register_model("kd_tiny_conv", input_kind="image", tags=("plugin", "convnet"))
    def kd_tiny_conv(*, num_classes: int = 10) -> list[Any]:
        """A tiny convnet from a plugin."""
        import keras

        return [
            keras.layers.Conv2D(4, 3, activation="relu", name="conv_1"),
            keras.layers.GlobalAveragePooling2D(name="pool_1"),
            keras.layers.Dense(num_classes, activation="softmax", name="output"),
        ]
