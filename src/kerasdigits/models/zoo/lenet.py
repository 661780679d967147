"""LeCun et al.'s LeNet-5 (1998), adapted to 28x28 MNIST images."""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy, _validate
from kerasdigits.models._errors import model_error
from kerasdigits.models._registry import register_model
from kerasdigits.models._spec import CompileSettings, Recipe
from kerasdigits.models.zoo._common import BATCHES_PER_CALL, check_min_size

__all__ = ["lenet5"]


@register_model(
    "lenet5",
    params=61_706,
    compile_settings=CompileSettings(steps_per_execution=BATCHES_PER_CALL),
    input_kind="image",
    tags=("convnet", "classic"),
    description="LeNet-5 for 28x28: C1 6@5x5 same, S2, C3 16@5x5, S4, 120, 84, softmax; Adam",
    recipe=Recipe(epochs=10, batch_size=128, notes="kerasdigits default for the convnets."),
)
def lenet5(
    *,
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (28, 28, 1),
    activation: str = "tanh",
    pooling: str = "average",
) -> list[Any]:
    """LeNet-5 adapted to 28x28 images. 61,706 parameters.

    The original takes 32x32 images; here C1 pads its input ("same"), which keeps the
    original feature-map sizes (28x28, 14x14, 10x10, 5x5). Subsampling is average pooling
    and the squashing function ``tanh``; C5, a 5x5 convolution over a 5x5 map in the
    original, is the equivalent ``Dense(120)`` after flattening; the RBF output layer is a
    softmax.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 12x12.
        activation: Activation of the hidden layers (``"tanh"``, ``"relu"``, ...).
        pooling: ``"average"`` (as in the paper) or ``"max"``.
    """
    check_min_size("lenet5", input_shape, 12, "two 2x2 subsamplings around a 5x5 convolution")
    pool_kind = _validate.choice(pooling, "pooling", ("average", "max"),
                                 error=model_error("lenet5"))
    layers = _lazy.keras().layers
    pool = layers.AveragePooling2D if pool_kind == "average" else layers.MaxPooling2D
    return [
        layers.Conv2D(6, 5, padding="same", activation=activation, name="conv_1"),
        pool(2, name="pool_1"),
        layers.Conv2D(16, 5, activation=activation, name="conv_2"),
        pool(2, name="pool_2"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation=activation, name="dense_1"),
        layers.Dense(84, activation=activation, name="dense_2"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ]
