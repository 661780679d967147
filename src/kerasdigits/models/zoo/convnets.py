"""The convolutional networks of the MNIST and Fashion-MNIST tutorials (``(28, 28, 1)`` input)."""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy
from kerasdigits.models._registry import register_model
from kerasdigits.models._spec import CompileSettings, Recipe
from kerasdigits.models.zoo._common import BATCHES_PER_CALL, check_min_size

__all__ = ["convnet", "fashion_convnet"]


@register_model(
    "convnet",
    params=600_810,
    compile_settings=CompileSettings(steps_per_execution=BATCHES_PER_CALL),
    input_kind="image",
    tags=("convnet", "tutorial"),
    description="2 x Conv 32 3x3 relu, MaxPool 2, Dense 128 relu, softmax; Adam",
    recipe=Recipe(epochs=10, batch_size=128, notes="kerasdigits default for the convnets."),
    reference_accuracy={"mnist": 0.9887},
    reference="tutorial figure",
)
def convnet(*, num_classes: int = 10, input_shape: tuple[int, ...] = (28, 28, 1)) -> list[Any]:
    """The classic small convnet. 600,810 parameters.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 6x6.
    """
    check_min_size("convnet", input_shape, 6, "two 3x3 convolutions and a 2x2 pooling")
    layers = _lazy.keras().layers
    return [
        layers.Conv2D(32, 3, activation="relu", name="conv_1"),
        layers.Conv2D(32, 3, activation="relu", name="conv_2"),
        layers.MaxPooling2D(2, name="pool_1"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense_1"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ]


@register_model(
    "fashion_convnet",
    params=412_778,
    compile_settings=CompileSettings(steps_per_execution=BATCHES_PER_CALL),
    input_kind="image",
    tags=("convnet", "tutorial", "fashion", "dropout"),
    description="Conv 64 2x2 / Conv 32 2x2 with pooling and dropout, Dense 256; Adam",
    recipe=Recipe(
        epochs=10,
        batch_size=64,
        validation_size=1 / 12,
        notes="As in the tutorial: 55,000 training and 5,000 validation images, 10 epochs.",
    ),
    reference_accuracy={"fashion_mnist": 0.9069},
    reference="TensorFlow blog, 'Fashion-MNIST with tf.Keras' (2018): 0.9069 on Fashion-MNIST",
)
def fashion_convnet(
    *, num_classes: int = 10, input_shape: tuple[int, ...] = (28, 28, 1)
) -> list[Any]:
    """The Fashion-MNIST tutorial convnet. 412,778 parameters.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 4x4.
    """
    check_min_size("fashion_convnet", input_shape, 4, "two 2x2 poolings")
    layers = _lazy.keras().layers
    return [
        layers.Conv2D(64, 2, padding="same", activation="relu", name="conv_1"),
        layers.MaxPooling2D(2, name="pool_1"),
        layers.Dropout(0.3, name="dropout_1"),
        layers.Conv2D(32, 2, padding="same", activation="relu", name="conv_2"),
        layers.MaxPooling2D(2, name="pool_2"),
        layers.Dropout(0.3, name="dropout_2"),
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation="relu", name="dense_1"),
        layers.Dropout(0.5, name="dropout_3"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ]
