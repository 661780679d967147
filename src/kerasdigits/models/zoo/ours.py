"""Our own designs: ``fast_convnet`` (tagged ``fast``), ``accurate_convnet`` (``accurate``).

Both are plain layer stacks (so they build in both styles), batch-normalized, and export to
TFLite with builtin ops only.

``fast_convnet`` is built for a CPU training budget: one epoch of MNIST in well under 20
seconds on two cores. Its cost is mostly per-pixel work at full resolution, so only its
first convolution sees 28x28 (16 filters, a 5x5 kernel for a larger receptive field, no
batch normalization: that layer's normalization and its backward pass at full resolution
cost more than they help in one epoch); the next blocks run at 14x14 and 7x7. Batch
normalization (momentum 0.9, as one epoch is only ~940 steps), a cosine learning-rate
schedule peaking at 0.006 and ``steps_per_execution=16`` (a small model's training time is
otherwise dominated by per-batch overhead) do the rest.

``accurate_convnet`` is a VGG-style network (two 3x3 convolutions per resolution) with
random translations during training, sized so that about a dozen epochs fit in a 15-minute
CPU budget.
"""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy
from kerasdigits.models._registry import register_model
from kerasdigits.models._spec import CompileSettings, Recipe
from kerasdigits.models.zoo._common import check_min_size, check_rate

__all__ = ["accurate_convnet", "fast_convnet"]


def _conv_bn_relu(layers: Any, filters: int, index: int, *, momentum: float = 0.99) -> list[Any]:
    return [
        layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv_{index}"),
        layers.BatchNormalization(momentum=momentum, name=f"bn_{index}"),
        layers.ReLU(name=f"relu_{index}"),
    ]


@register_model(
    "fast_convnet",
    input_kind="image",
    tags=("convnet", "ours", "fast", "batchnorm"),
    description="ours, for speed: Conv 16 5x5, 2 conv-BN blocks (32, 64), Dense 64-BN, softmax",
    compile_settings=CompileSettings(learning_rate=0.003, steps_per_execution=16),
    recipe=Recipe(
        epochs=1,
        batch_size=64,
        learning_rate=0.006,
        schedule="cosine",
        warmup_epochs=0.1,
        notes=(
            "One epoch, batch 64, Adam with a cosine schedule peaking at 0.006 after a "
            "0.1-epoch warm-up, steps_per_execution=16, preprocessing='unit'. Measured on 2 "
            "CPU cores: 99.15-99.29% MNIST test accuracy (seeds 0-2), fit in 17-18 s of CPU "
            "time (both cores together), 19-22 s wall time on a machine shared with other "
            "jobs (about 14 s when it was quieter)."
        ),
    ),
    reference_accuracy={"mnist": 0.992},
    reference="kerasdigits, measured: the recipe on full MNIST, mean of seeds 0-2",
)
def fast_convnet(
    *, num_classes: int = 10, input_shape: tuple[int, ...] = (28, 28, 1)
) -> list[Any]:
    """A small batch-normalized convnet built for training speed on a CPU. 61,610 parameters.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 8x8.
    """
    check_min_size("fast_convnet", input_shape, 8, "three 2x2 poolings")
    layers = _lazy.keras().layers
    return [
        layers.Conv2D(16, 5, padding="same", activation="relu", name="conv_1"),
        layers.MaxPooling2D(2, name="pool_1"),
        *_conv_bn_relu(layers, 32, 2, momentum=0.9),
        layers.MaxPooling2D(2, name="pool_2"),
        *_conv_bn_relu(layers, 64, 3, momentum=0.9),
        layers.MaxPooling2D(2, name="pool_3"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, use_bias=False, name="dense_1"),
        layers.BatchNormalization(momentum=0.9, name="bn_4"),
        layers.ReLU(name="relu_4"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ]


@register_model(
    "accurate_convnet",
    input_kind="image",
    tags=("convnet", "ours", "accurate", "batchnorm", "dropout", "augmentation"),
    description="ours, for accuracy: VGG-style conv-BN 2x32, 2x64, 128, translations, dropout",
    compile_settings=CompileSettings(learning_rate=0.001, steps_per_execution=8),
    recipe=Recipe(
        epochs=12,
        batch_size=128,
        learning_rate=0.003,
        schedule="cosine",
        warmup_epochs=1,
        notes=(
            "12 epochs, batch 128, Adam with a cosine schedule peaking at 0.003 after a "
            "1-epoch warm-up, steps_per_execution=8, preprocessing='unit'; random "
            "translations of up to 8% (about 2 pixels) inside the model during training. "
            "About 55-60 s of CPU time per epoch on each of 2 cores (11-12 minutes for the "
            "recipe; more wall time on a busy machine)."
        ),
    ),
    reference_accuracy={"mnist": 0.9965, "fashion_mnist": 0.9314},
    reference="kerasdigits, measured: the recipe on full MNIST and Fashion-MNIST, seed 0",
)
def accurate_convnet(
    *,
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (28, 28, 1),
    dropout: float = 0.3,
    augment: float = 0.08,
) -> list[Any]:
    """A VGG-style batch-normalized convnet built for accuracy. 141,098 parameters.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 8x8.
        dropout: Dropout rate before the classifier.
        augment: Random translations during training, as a fraction of the image size
            (:class:`~kerasdigits.models.layers.RandomShift`; inactive at inference and
            absent from an exported TFLite model); ``0`` leaves the layer out.
    """
    check_min_size("accurate_convnet", input_shape, 8, "two 2x2 poolings and a 3x3 conv")
    rate = check_rate("accurate_convnet", "dropout", dropout)
    shift = check_rate("accurate_convnet", "augment", augment)
    layers = _lazy.keras().layers
    stack: list[Any] = []
    if shift:
        from kerasdigits.models.layers import RandomShift

        stack.append(RandomShift(shift, name="augment"))
    stack += [
        *_conv_bn_relu(layers, 32, 1),
        *_conv_bn_relu(layers, 32, 2),
        layers.MaxPooling2D(2, name="pool_1"),
        *_conv_bn_relu(layers, 64, 3),
        *_conv_bn_relu(layers, 64, 4),
        layers.MaxPooling2D(2, name="pool_2"),
        *_conv_bn_relu(layers, 128, 5),
        layers.GlobalAveragePooling2D(name="pool_3"),
    ]
    if rate:
        stack.append(layers.Dropout(rate, name="dropout_1"))
    stack.append(layers.Dense(num_classes, activation="softmax", name="output"))
    return stack
