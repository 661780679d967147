"""``fast_mlp``: our multilayer perceptron for a CPU training budget of a few seconds.

Most of an MLP's training time on MNIST is its first layer, 784 inputs wide. ``fast_mlp``
averages each 2x2 block of pixels first (a fixed, weightless 2x2 average pooling: 14x14 = 196
inputs, which loses next to nothing on 28x28 digits), then runs two batch-normalized hidden
layers of 256 units. Each example costs about 118,000 multiply-adds, against 669,000 for the
Keras ``mnist_mlp`` example (``mlp2x512``), and batch normalization with a cosine schedule
lets Adam take large steps from the start, so three epochs are enough.
"""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy, _validate
from kerasdigits.models._errors import model_error
from kerasdigits.models._registry import register_model
from kerasdigits.models._spec import CompileSettings, Recipe
from kerasdigits.models.zoo._common import BATCHES_PER_CALL, check_min_size

__all__ = ["fast_mlp"]


@register_model(
    "fast_mlp",
    params=120_330,
    input_kind="image",
    tags=("mlp", "ours", "fast", "batchnorm"),
    description="ours, for speed: 2x2 average pooling, 2 x Dense 256-BN-relu, softmax",
    compile_settings=CompileSettings(learning_rate=0.003, steps_per_execution=BATCHES_PER_CALL),
    recipe=Recipe(
        epochs=3,
        batch_size=256,
        learning_rate=0.003,
        schedule="cosine",
        warmup_epochs=0.2,
        notes=(
            "Three epochs, batch 256, Adam with a cosine schedule peaking at 0.003 after a "
            "0.2-epoch warm-up, steps_per_execution=16, preprocessing='unit'. Measured on 2 "
            "CPU cores (bench_training.py --all --seeds 5, 2026-12-04, case kd-fast_mlp, "
            "seeds 0-4): 98.23% +- 0.04 MNIST test accuracy (worst 98.17%), 2.4 s median "
            "training time (2.2-4.1 s; the first case of the run is the slowest)."
        ),
    ),
    reference_accuracy={"mnist": 0.9823},
    reference="kerasdigits, measured: the recipe on full MNIST, mean of seeds 0-4",
)
def fast_mlp(
    *,
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (28, 28, 1),
    units: int = 256,
) -> list[Any]:
    """A small batch-normalized MLP on 2x2-averaged pixels. 120,330 parameters.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 2x2.
        units: Units of each of the two hidden layers.
    """
    check_min_size("fast_mlp", input_shape, 2, "a 2x2 average pooling")
    units = _validate.positive_int(units, "units", error=model_error("fast_mlp"))
    from kerasdigits.models.layers import FastBatchNormalization

    layers = _lazy.keras().layers
    stack: list[Any] = [
        layers.AveragePooling2D(2, name="pool"),
        layers.Flatten(name="flatten"),
    ]
    for i in (1, 2):
        stack += [
            layers.Dense(units, use_bias=False, name=f"dense_{i}"),
            FastBatchNormalization(momentum=0.9, name=f"bn_{i}"),
            layers.ReLU(name=f"relu_{i}"),
        ]
    stack.append(layers.Dense(num_classes, activation="softmax", name="output"))
    return stack
