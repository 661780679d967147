"""Our convnets: ``fast_*``, ``balanced_*`` and ``accurate_*``, each tagged by its tier.

``fast_convnet``, ``balanced_convnet``, ``accurate_convnet`` and ``accurate_fashion_convnet``
are tagged ``fast``, ``balanced`` and ``accurate`` (both of the last two).

All are plain layer stacks (so they build in both styles), batch-normalized, and export to
TFLite with builtin ops only.

``fast_convnet`` is built for a CPU training budget: one epoch of MNIST in about 4 seconds on
two cores. A convnet's CPU time goes to per-pixel work, and convolutions over one or a few
input channels use the CPU worst, so ``fast_convnet`` never convolves the 28x28 image: a
2x2 space-to-depth turns it into 14x14x4 (every pixel kept), one convolution runs there, and
the only batch-normalized convolution runs at 7x7. Batch normalization (momentum 0.9, as one
epoch is only 469 steps) uses TensorFlow's fused kernel
(:class:`~kerasdigits.models.layers.FastBatchNormalization`); a cosine learning-rate schedule
peaking at 0.01 and ``steps_per_execution=16`` do the rest.

``accurate_convnet`` is a VGG-style network (two 3x3 convolutions per resolution) with
random translations during training, sized so that its 12 epochs take about 8 minutes on
two CPU cores. ``accurate_fashion_convnet`` is the same network for clothes: it also trains on
mirror images, and answers with the mean of its logits over 10 copies of the image: itself,
its four 1-pixel shifts, and the mirror images of those five
(:class:`~kerasdigits.models.layers.TestTimeCopies`), at ten times the cost of a prediction.
"""

from __future__ import annotations

from typing import Any

from kerasdigits import _lazy, _validate
from kerasdigits.models._errors import model_error
from kerasdigits.models._registry import register_model
from kerasdigits.models._spec import CompileSettings, Recipe
from kerasdigits.models.zoo._common import BATCHES_PER_CALL, check_min_size, check_rate

__all__ = ["accurate_convnet", "accurate_fashion_convnet", "balanced_convnet", "fast_convnet"]


def _conv_bn_relu(layers: Any, filters: int, index: int, *, momentum: float = 0.99) -> list[Any]:
    from kerasdigits.models.layers import FastBatchNormalization

    return [
        layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv_{index}"),
        FastBatchNormalization(momentum=momentum, name=f"bn_{index}"),
        layers.ReLU(name=f"relu_{index}"),
    ]


def _check_space_to_depth(name: str, input_shape: tuple[int, ...]) -> None:
    """At least 8x8 (two 2x2 poolings), with an even height and width (a 2x2 space-to-depth)."""
    height, width = check_min_size(name, input_shape, 8, "two 2x2 poolings")
    if height % 2 or width % 2:
        from kerasdigits.models._errors import ModelConfigError

        raise ModelConfigError(
            f"{name} needs an even image height and width (a 2x2 space-to-depth first); "
            f"input_shape {input_shape} is not"
        )


@register_model(
    "fast_convnet",
    params=40_002,
    input_kind="image",
    tags=("convnet", "ours", "fast", "batchnorm"),
    description="ours, for speed: 2x2 space-to-depth, Conv 24, conv-BN 48, Dense 64-BN, softmax",
    compile_settings=CompileSettings(learning_rate=0.003, steps_per_execution=BATCHES_PER_CALL),
    recipe=Recipe(
        epochs=1,
        batch_size=128,
        learning_rate=0.01,
        schedule="cosine",
        warmup_epochs=0.1,
        notes=(
            "One epoch, batch 128, Adam with a cosine schedule peaking at 0.01 after a "
            "0.1-epoch warm-up, steps_per_execution=16, preprocessing='unit'. Measured on 2 "
            "CPU cores (bench_training.py --all --seeds 5, 2026-12-05, case kd-fast_convnet, "
            "seeds 0-4, a host at half its best speed): 99.02% +- 0.07 MNIST test accuracy "
            "(worst 98.94%, best 99.09%), 4.0 s median training time (3.7-4.2 s), 22x faster "
            "than the tutorial convnet in plain Keras in the same run. A second epoch gives "
            "about 99.15% for about 5.4 s (2026-12-04, the host at full speed)."
        ),
    ),
    reference_accuracy={"mnist": 0.9902},
    reference="kerasdigits, measured: the recipe on full MNIST, mean of seeds 0-4",
)
def fast_convnet(
    *, num_classes: int = 10, input_shape: tuple[int, ...] = (28, 28, 1)
) -> list[Any]:
    """A small batch-normalized convnet built for training speed on a CPU. 40,002 parameters.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 8x8, even height and
            width.
    """
    _check_space_to_depth("fast_convnet", input_shape)
    from kerasdigits.models.layers import FastBatchNormalization, SpaceToDepth

    layers = _lazy.keras().layers
    return [
        SpaceToDepth(2, name="space_to_depth"),
        layers.Conv2D(24, 3, padding="same", activation="relu", name="conv_1"),
        layers.MaxPooling2D(2, name="pool_1"),
        *_conv_bn_relu(layers, 48, 2, momentum=0.9),
        layers.MaxPooling2D(2, name="pool_2"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, use_bias=False, name="dense_1"),
        FastBatchNormalization(momentum=0.9, name="bn_3"),
        layers.ReLU(name="relu_3"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ]


@register_model(
    "balanced_convnet",
    params=141_962,
    input_kind="image",
    tags=("convnet", "ours", "balanced", "batchnorm", "augmentation"),
    description="ours, mid-size: space-to-depth, conv-BN 2x32 at 14x14, 2x64 at 7x7, "
                "Dense 128-BN, translations",
    compile_settings=CompileSettings(learning_rate=0.003, steps_per_execution=BATCHES_PER_CALL),
    recipe=Recipe(
        epochs=4,
        batch_size=128,
        learning_rate=0.01,
        schedule="cosine",
        warmup_epochs=0.2,
        notes=(
            "4 epochs, batch 128, Adam with a cosine schedule peaking at 0.01 after a "
            "0.2-epoch warm-up, steps_per_execution=16, preprocessing='unit', random "
            "translations of up to 8%. Measured on 2 CPU cores (bench_training.py --all "
            "--seeds 5, 2026-12-04, case kd-balanced, seeds 0-2): 99.50% +- 0.01 MNIST test "
            "accuracy (99.49 / 99.51 / 99.50%), 37.1 s median training time (36.3-37.3 s), "
            "1.6x faster than the tutorial convnet in plain Keras in the same run."
        ),
    ),
    reference_accuracy={"mnist": 0.9950},
    reference="kerasdigits, measured: the recipe on full MNIST, mean of seeds 0-2",
)
def balanced_convnet(
    *, num_classes: int = 10, input_shape: tuple[int, ...] = (28, 28, 1), augment: float = 0.08
) -> list[Any]:
    """A mid-size batch-normalized convnet: most of ``accurate_convnet``'s accuracy in a minute.

    The 28x28 image becomes 14x14x4 by a 2x2 space-to-depth (as in ``fast_convnet``), so
    that every convolution runs on several channels; two batch-normalized 3x3 convolutions
    per resolution (14x14, then 7x7), random translations during training.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 8x8, even height and
            width.
        augment: Random translations during training, as a fraction of the image size;
            ``0`` leaves the layer out.
    """
    _check_space_to_depth("balanced_convnet", input_shape)
    shift = check_rate("balanced_convnet", "augment", augment)
    from kerasdigits.models.layers import FastBatchNormalization, SpaceToDepth

    layers = _lazy.keras().layers
    stack: list[Any] = []
    if shift:
        from kerasdigits.models.layers import RandomShift

        stack.append(RandomShift(shift, name="augment"))
    return [
        *stack,
        SpaceToDepth(2, name="space_to_depth"),
        *_conv_bn_relu(layers, 32, 1, momentum=0.9),
        *_conv_bn_relu(layers, 32, 2, momentum=0.9),
        layers.MaxPooling2D(2, name="pool_1"),
        *_conv_bn_relu(layers, 64, 3, momentum=0.9),
        *_conv_bn_relu(layers, 64, 4, momentum=0.9),
        layers.MaxPooling2D(2, name="pool_2"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, use_bias=False, name="dense_1"),
        FastBatchNormalization(momentum=0.9, name="bn_5"),
        layers.ReLU(name="relu_5"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ]


#: How both ``accurate_*`` models compile and train (their recipes differ in the epochs).
_ACCURATE_COMPILE = CompileSettings(learning_rate=0.001, steps_per_execution=8)
_ACCURATE_SCHEDULE: dict[str, Any] = {
    "batch_size": 128, "learning_rate": 0.003, "schedule": "cosine", "warmup_epochs": 1,
}


@register_model(
    "accurate_convnet",
    params=289_066,
    input_kind="image",
    tags=("convnet", "ours", "accurate", "batchnorm", "dropout", "augmentation"),
    description="ours, for accuracy: VGG-style conv-BN 2x32, 2x64, 2x128, translations, dropout",
    compile_settings=_ACCURATE_COMPILE,
    recipe=Recipe(
        epochs=12,
        **_ACCURATE_SCHEDULE,
        notes=(
            "12 epochs, batch 128, Adam with a cosine schedule peaking at 0.003 after a "
            "1-epoch warm-up, steps_per_execution=8, preprocessing='unit'; random "
            "translations of up to 8% (about 2 pixels) inside the model during training. "
            "Measured on 2 CPU cores (bench_training.py --case kd-accurate_convnet,"
            "kd-accurate_convnet-fashion --seeds 3, 2026-12-04, seeds 0-2): MNIST 99.69% "
            "+- 0.02 (99.69 / 99.67 / 99.70%), 467 s median training time (444-571 s); "
            "Fashion-MNIST 93.59% +- 0.14 (93.43 / 93.63 / 93.70%), 471 s (425-493 s). "
            "Fresh seeds 3-5 on MNIST (bench_tta.py, 2026-12-05): 99.65% +- 0.04; "
            "test_time_shift=1 99.67%, with test_time_diagonals=True 99.68%."
        ),
    ),
    reference_accuracy={"mnist": 0.9969, "fashion_mnist": 0.9359},
    reference="kerasdigits, measured: the recipe on full MNIST and Fashion-MNIST, mean of "
              "seeds 0-2",
)
def accurate_convnet(
    *,
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (28, 28, 1),
    dropout: float = 0.3,
    augment: float = 0.08,
    mirror: bool = False,
    test_time_shift: int = 0,
    test_time_diagonals: bool = False,
    test_time_mirror: bool = False,
) -> list[Any]:
    """A VGG-style batch-normalized convnet built for accuracy. 289,066 parameters.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 8x8.
        dropout: Dropout rate before the classifier.
        augment: Random translations during training, as a fraction of the image size
            (:class:`~kerasdigits.models.layers.RandomShift`; inactive at inference and
            absent from an exported TFLite model); ``0`` leaves the layer out.
        mirror: Train on left-right mirror images too, half of the time (with the random
            translations, in one :class:`~kerasdigits.models.layers.RandomAffine` warp). For
            pictures whose mirror image shows the same thing, such as clothes; never for
            digits.
        test_time_shift: Answer at inference with the mean of the logits for the image and
            for four copies of it shifted by this many pixels up, down, left and right
            (:class:`~kerasdigits.models.layers.TestTimeCopies`); inference then costs 5
            times as much. ``0``: the image alone.
        test_time_diagonals: With ``test_time_shift``, also average over the four diagonal
            shifts: 9 copies, at 9 times the cost.
        test_time_mirror: Also average over the mirror image (of the image and of each
            shifted copy): twice the copies. Needs ``mirror=True``.
    """
    return _accurate_stack("accurate_convnet", num_classes=num_classes,
                           input_shape=input_shape, dropout=dropout, augment=augment,
                           mirror=mirror, test_time_shift=test_time_shift,
                           test_time_diagonals=test_time_diagonals,
                           test_time_mirror=test_time_mirror)


@register_model(
    "accurate_fashion_convnet",
    params=289_066,
    input_kind="image",
    tags=("convnet", "ours", "accurate", "fashion", "batchnorm", "dropout", "augmentation",
          "mirror"),
    description="ours, for clothes: accurate_convnet trained on mirror images too, answers "
                "averaged over 1-pixel shifts and mirror images",
    compile_settings=_ACCURATE_COMPILE,
    recipe=Recipe(
        epochs=16,
        **_ACCURATE_SCHEDULE,
        notes=(
            "16 epochs, batch 128, Adam with a cosine schedule peaking at 0.003 after a "
            "1-epoch warm-up, steps_per_execution=8, preprocessing='unit'; random "
            "translations of up to 8% and left-right mirror images (half of the time) inside "
            "the model during training; at inference the mean logits over 10 copies: the "
            "image, its four 1-pixel shifts and the mirror images of those five. Measured on "
            "2 CPU cores (bench_tta.py train --seeds 3,4,5, then evaluate, 2026-12-05): "
            "Fashion-MNIST 94.01% +- 0.12 (93.89 / 94.12 / 94.01%); the same weights over 5 "
            "copies (the image and its shifts) 93.98% +- 0.13. Seeds 0-2, which chose the 10 "
            "copies: 94.09% +- 0.04. bench_training.py --case kd-accurate_fashion_convnet "
            "--seeds 3 (2026-12-05, a host at half its best speed): 94.17% +- 0.11 "
            "(94.29 / 94.07 / 94.14%), 896 / 894 / 890 s of training."
        ),
    ),
    reference_accuracy={"fashion_mnist": 0.9401},
    reference="kerasdigits, measured: the recipe on full Fashion-MNIST, mean of seeds 3-5",
)
def accurate_fashion_convnet(
    *,
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (28, 28, 1),
    dropout: float = 0.3,
    augment: float = 0.08,
    test_time_shift: int = 1,
    test_time_diagonals: bool = False,
    test_time_mirror: bool = True,
) -> list[Any]:
    """``accurate_convnet`` for pictures whose mirror image shows the same thing (clothes).

    ``accurate_convnet`` with ``mirror=True``, ``test_time_shift=1`` and
    ``test_time_mirror=True``, and the same weights layout: it trains on left-right mirror
    images as well (half of the time, with the random translations, in one
    :class:`~kerasdigits.models.layers.RandomAffine` warp), and at inference answers with the
    mean of its logits for the image, four copies shifted by one pixel, and the mirror images
    of those five, so a prediction costs 10 times ``accurate_convnet``'s. Never for digits: a
    mirrored 2 is not a 2.

    Args:
        num_classes: Output classes.
        input_shape: Image shape (filled in by ``build``); at least 8x8.
        dropout: Dropout rate before the classifier.
        augment: Random translations during training, as a fraction of the image size;
            ``0``: mirror images only.
        test_time_shift: Pixels the test-time copies are shifted by (see
            ``accurate_convnet``); ``0``: the image alone, at ``accurate_convnet``'s cost.
        test_time_diagonals: Also average over the four diagonal shifts (18 copies with
            the mirror images).
        test_time_mirror: Average over the mirror images too (the default); ``False``:
            the image and its shifts only, half the copies.
    """
    return _accurate_stack("accurate_fashion_convnet", num_classes=num_classes,
                           input_shape=input_shape, dropout=dropout, augment=augment,
                           mirror=True, test_time_shift=test_time_shift,
                           test_time_diagonals=test_time_diagonals,
                           test_time_mirror=test_time_mirror)


def _accurate_stack(
    name: str,
    *,
    num_classes: int,
    input_shape: tuple[int, ...],
    dropout: float,
    augment: float,
    mirror: bool,
    test_time_shift: int,
    test_time_diagonals: bool,
    test_time_mirror: bool,
) -> list[Any]:
    """``accurate_convnet``'s layers, with its training and test-time augmentation options."""
    check_min_size(name, input_shape, 8, "two 2x2 poolings and a 3x3 conv")
    error = model_error(name)
    rate = check_rate(name, "dropout", dropout)
    shift = check_rate(name, "augment", augment)
    mirror = _validate.boolean(mirror, "mirror", error=error)
    pixels = _validate.positive_int(test_time_shift, "test_time_shift", allow_zero=True,
                                    error=error)
    diagonals = _validate.boolean(test_time_diagonals, "test_time_diagonals", error=error)
    if diagonals and not pixels:
        raise error("test_time_diagonals=True needs a test_time_shift")
    mirrored = _validate.boolean(test_time_mirror, "test_time_mirror", error=error)
    if mirrored and not mirror:
        raise error("test_time_mirror=True needs mirror=True (a network that never saw mirror "
                    "images gains nothing from them; for digits they are other shapes)")
    from kerasdigits.models import layers as zoo_layers

    layers = _lazy.keras().layers
    stack: list[Any] = []
    if mirror:
        stack.append(zoo_layers.RandomAffine(shift=shift, flip=True, name="augment"))
    elif shift:
        stack.append(zoo_layers.RandomShift(shift, name="augment"))
    copies = None
    if pixels or mirrored:
        copies = zoo_layers.TestTimeCopies(shift=pixels, mirror=mirrored, diagonals=diagonals,
                                           name="test_time_copies")
        stack.append(copies)
    stack += [
        *_conv_bn_relu(layers, 32, 1),
        *_conv_bn_relu(layers, 32, 2),
        layers.MaxPooling2D(2, name="pool_1"),
        *_conv_bn_relu(layers, 64, 3),
        *_conv_bn_relu(layers, 64, 4),
        layers.MaxPooling2D(2, name="pool_2"),
        *_conv_bn_relu(layers, 128, 5),
        *_conv_bn_relu(layers, 128, 6),
        layers.GlobalAveragePooling2D(name="pool_3"),
    ]
    if rate:
        stack.append(layers.Dropout(rate, name="dropout_1"))
    if copies is None:
        stack.append(layers.Dense(num_classes, activation="softmax", name="output"))
        return stack
    # Average the copies' logits, then softmax: the model still ends in a softmax layer
    # (which a quantized TFLite export computes in float).
    return [
        *stack,
        layers.Dense(num_classes, name="logits"),
        zoo_layers.AverageCopies(copies.copies, name="average_copies"),
        layers.Softmax(name="output"),
    ]
