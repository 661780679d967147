"""The classic multilayer perceptrons of the MNIST tutorials (flat ``(784,)`` input)."""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy
from kerasdigits.models._registry import register_model
from kerasdigits.models._spec import CompileSettings, Recipe
from kerasdigits.models.zoo._common import BATCHES_PER_CALL, check_rate

__all__ = ["mlp2x512", "mlp256", "mlp512", "sigmoid4x256"]


@register_model(
    "mlp2x512",
    params=669_706,
    input_kind="flat",
    tags=("mlp", "tutorial", "dropout"),
    description="Keras mnist_mlp example: 2 x Dense 512 relu (dropout 0.2), softmax; RMSprop",
    compile_settings=CompileSettings(optimizer="rmsprop", steps_per_execution=BATCHES_PER_CALL),
    recipe=Recipe(epochs=20, batch_size=128, notes="As in the Keras mnist_mlp.py example."),
    reference_accuracy={"mnist": 0.984},
    reference="Keras examples, mnist_mlp.py: 98.40% test accuracy after 20 epochs",
)
def mlp2x512(*, num_classes: int = 10, dropout: float = 0.2) -> list[Any]:
    """The Keras ``mnist_mlp`` example: 784 -> 512 relu -> 512 relu -> softmax.

    669,706 parameters.

    Args:
        num_classes: Output classes.
        dropout: Dropout rate after each hidden layer, as in the example; ``0`` leaves the
            ``Dropout`` layers out (same weights either way).
    """
    rate = check_rate("mlp2x512", "dropout", dropout)
    layers = _lazy.keras().layers
    stack: list[Any] = []
    for i in (1, 2):
        stack.append(layers.Dense(512, activation="relu", name=f"dense_{i}"))
        if rate:
            stack.append(layers.Dropout(rate, name=f"dropout_{i}"))
    stack.append(layers.Dense(num_classes, activation="softmax", name="output"))
    return stack


@register_model(
    "mlp256",
    params=203_530,
    compile_settings=CompileSettings(steps_per_execution=BATCHES_PER_CALL),
    input_kind="flat",
    tags=("mlp", "tutorial"),
    description="784 -> Dense 256 -> relu -> Dense 10 -> softmax; Adam",
    recipe=Recipe(epochs=10, batch_size=128, notes="kerasdigits default for the MLPs."),
    reference_accuracy={"mnist": 0.977},
    reference="tutorial figure",
)
def mlp256(*, num_classes: int = 10) -> list[Any]:
    """One hidden layer of 256, with the activations as separate layers. 203,530 parameters.

    Args:
        num_classes: Output classes.
    """
    layers = _lazy.keras().layers
    return [
        layers.Dense(256, name="dense_1"),
        layers.Activation("relu", name="relu_1"),
        layers.Dense(num_classes, name="logits"),
        layers.Activation("softmax", name="output"),
    ]


@register_model(
    "mlp512",
    params=407_050,
    compile_settings=CompileSettings(steps_per_execution=BATCHES_PER_CALL),
    input_kind="flat",
    tags=("mlp", "tutorial"),
    description="784 -> Dense 512 relu -> Dense 10 softmax; Adam, early stopping",
    recipe=Recipe(
        epochs=50,
        batch_size=128,
        early_stopping_patience=3,
        validation_size=0.1,
        notes="Early stopping on the validation loss, restoring the best weights.",
    ),
    reference_accuracy={"mnist": 0.9828},
    reference="tutorial figure, with early stopping",
)
def mlp512(*, num_classes: int = 10) -> list[Any]:
    """One hidden layer of 512 relu units. 407,050 parameters.

    Args:
        num_classes: Output classes.
    """
    layers = _lazy.keras().layers
    return [
        layers.Dense(512, activation="relu", name="dense_1"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ]


@register_model(
    "sigmoid4x256",
    params=400_906,
    compile_settings=CompileSettings(steps_per_execution=BATCHES_PER_CALL),
    input_kind="flat",
    tags=("mlp", "tutorial", "sigmoid"),
    description="784 -> 4 x Dense 256 sigmoid -> Dense 10 softmax; Adam",
    recipe=Recipe(epochs=10, batch_size=128, notes="kerasdigits default for the MLPs."),
)
def sigmoid4x256(*, num_classes: int = 10) -> list[Any]:
    """Four hidden layers of 256 sigmoid units. 400,906 parameters.

    Args:
        num_classes: Output classes.
    """
    layers = _lazy.keras().layers
    stack: list[Any] = [
        layers.Dense(256, activation="sigmoid", name=f"dense_{i}") for i in range(1, 5)
    ]
    stack.append(layers.Dense(num_classes, activation="softmax", name="output"))
    return stack
