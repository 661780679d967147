"""A model plugin: registers ``kd_tiny`` when imported (through its entry point)."""

from __future__ import annotations

from typing import Any

from kerasdigits.models import register_model


@register_model("kd_tiny", input_kind="flat", tags=("plugin", "mlp"))
def kd_tiny(*, num_classes: int = 10, hidden: int = 8) -> list[Any]:
    """A tiny MLP from a plugin."""
    import keras

    return [
        keras.layers.Dense(hidden, activation="relu", name="dense_1"),
        keras.layers.Dense(num_classes, activation="softmax", name="output"),
    ]
