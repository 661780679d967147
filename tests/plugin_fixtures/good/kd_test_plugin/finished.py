"""A module entry point whose builder returns a finished ``keras.Model`` (like timm's)."""

from __future__ import annotations

from typing import Any

from kerasdigits.models import register_model


@register_model(
    "kd_tiny_model", input_kind="image", styles=("functional",), tags=("plugin", "finished")
)
def kd_tiny_model(*, num_classes: int = 10) -> Any:
    """A tiny functional convnet, returned as a built keras.Model."""
    import keras

    inputs = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_1")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool_1")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="tiny_model")
