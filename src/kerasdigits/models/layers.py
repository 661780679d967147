"""Keras layers used by the model zoo (importing this module imports Keras).

Registered for ``.keras`` serialization under the package name ``kerasdigits``: import this
module before ``keras.models.load_model`` on a saved zoo model that uses them (as with
:mod:`kerasdigits.transforms.layers`).

Example:
    >>> import numpy as np
    >>> from kerasdigits.models.layers import RandomShift, SpaceToDepth
    >>> x = np.ones((1, 28, 28, 1), dtype="float32")
    >>> bool((np.asarray(RandomShift(0.1)(x)) == x).all())  # inference unless training=True
    True
    >>> tuple(SpaceToDepth(2)(x).shape)
    (1, 14, 14, 4)
"""

from __future__ import annotations

import math
from typing import Any

from kerasdigits import _lazy, _validate

keras = _lazy.keras()

__all__ = [
    "AverageCopies",
    "FastBatchNormalization",
    "RandomAffine",
    "RandomShift",
    "SpaceToDepth",
    "TestTimeCopies",
]


@keras.saving.register_keras_serializable(package="kerasdigits")
class RandomShift(keras.layers.RandomTranslation):  # type: ignore[misc,name-defined]
    """Random translations of training images, inactive at inference.

    ``keras.layers.RandomTranslation`` with ``fill_mode="constant"`` (zeros, the MNIST
    background) and one factor for both axes, that defaults to *inference*: Keras's own
    random preprocessing layers default to ``training=True``, so ``model(x)`` without a
    ``training`` argument would shift the images and, worse, switch the batch-normalization
    layers after them to training mode (updating their moving statistics). Here only
    ``fit`` (which passes ``training=True``) shifts. Absent from an exported TFLite model.

    Args:
        factor: Largest shift, as a fraction of the image height and width.
        **kwargs: Passed to ``keras.layers.RandomTranslation`` (``name``, ``seed``...).
    """

    def __init__(self, factor: float = 0.1, **kwargs: Any) -> None:
        kwargs.setdefault("height_factor", factor)
        kwargs.setdefault("width_factor", factor)
        kwargs.setdefault("fill_mode", "constant")
        super().__init__(**kwargs)

    def call(self, data: Any, training: bool = False) -> Any:
        """Shift ``data`` randomly if ``training``, else return it unchanged."""
        return super().call(data, training=training)


@keras.saving.register_keras_serializable(package="kerasdigits")
class RandomAffine(keras.layers.Layer):  # type: ignore[misc,name-defined]
    """Random rotations, zooms, shifts and mirror images of training images, in one warp.

    Each image of a training batch gets its own affine transform, drawn uniformly: a
    rotation of up to ``rotation`` degrees either way, a zoom by a factor in
    ``[1 - zoom, 1 + zoom]``, a shift of up to ``shift`` of the image size along each axis
    and, with ``flip``, a left-right mirror image half of the time. All of it is one
    bilinear resampling per image (``keras.ops.image.affine_transform``); pixels from outside
    the image are zeros, the MNIST background. Like :class:`RandomShift`, it is inactive
    unless ``training=True`` is passed (only ``fit`` passes it), and it is absent from an
    exported TFLite model.

    Args:
        shift: Largest shift, as a fraction of the image height and width, in ``[0, 1)``.
        rotation: Largest rotation in degrees, in ``[0, 180]``.
        zoom: Largest zoom in or out, as a fraction, in ``[0, 1)``.
        flip: Mirror half of the images left to right (for pictures where that changes
            nothing, such as Fashion-MNIST's clothes; never for digits).
        seed: Seed of the layer's random numbers; ``None`` draws one from Keras's global
            seed (:func:`keras.utils.set_random_seed`).
        **kwargs: Passed to ``keras.layers.Layer`` (``name``...).

    Example:
        >>> import numpy as np
        >>> from kerasdigits.models.layers import RandomAffine
        >>> layer = RandomAffine(shift=0.1, rotation=10, zoom=0.1, seed=0)
        >>> x = np.zeros((2, 28, 28, 1), dtype="float32")
        >>> x[:, 10:18, 12:16] = 1.0
        >>> bool((np.asarray(layer(x)) == x).all())  # inference: unchanged
        True
        >>> warped = np.asarray(layer(x, training=True))
        >>> warped.shape, bool((warped == x).all())
        ((2, 28, 28, 1), False)
    """

    def __init__(
        self,
        shift: float = 0.0,
        rotation: float = 0.0,
        zoom: float = 0.0,
        flip: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shift = _validate.fraction(shift, "RandomAffine: shift", low_open=False)
        self.rotation = _validate.number(rotation, "RandomAffine: rotation")
        if not 0 <= self.rotation <= 180:
            raise ValueError(
                f"RandomAffine: rotation must be a number of degrees in [0, 180], got {rotation!r}"
            )
        self.zoom = _validate.fraction(zoom, "RandomAffine: zoom", low_open=False)
        self.flip = _validate.boolean(flip, "RandomAffine: flip")
        self.seed = None if seed is None else _validate.integer(seed, "RandomAffine: seed")
        if self.seed is not None and not -(2**63) <= self.seed < 2**63:
            raise ValueError(f"RandomAffine: seed must fit in 64 bits, got {seed!r}")
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        """The input's shape."""
        return tuple(input_shape)

    def build(self, input_shape: tuple[Any, ...]) -> None:
        """Check that the input is a batch of images: ``(batch, height, width, channels)``."""
        if len(input_shape) != 4:
            raise ValueError(
                "RandomAffine expects (batch, height, width, channels) input, got shape "
                f"{tuple(input_shape)}"
            )
        super().build(input_shape)

    def _transforms(self, batch: Any, height: Any, width: Any) -> Any:
        """One ``[a0, a1, a2, b0, b1, b2, 0, 0]`` row per image: output pixel to input pixel."""
        ops = keras.ops
        u = keras.random.uniform((batch, 5), -1.0, 1.0, seed=self.seed_generator)
        angle = u[:, 0] * (self.rotation * math.pi / 180.0)
        scale = 1.0 + u[:, 1] * self.zoom  # > 1 zooms in: the input is sampled more finely
        mirror = ops.where(u[:, 4] < 0, -1.0, 1.0) if self.flip else ops.ones_like(angle)
        cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
        a0, a1, b0, b1 = cos * mirror, -sin, sin * mirror, cos
        h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
        cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
        a2 = cx - a0 * cx - a1 * cy + u[:, 2] * self.shift * w
        b2 = cy - b0 * cx - b1 * cy + u[:, 3] * self.shift * h
        zero = ops.zeros_like(a0)
        return ops.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Warp ``inputs`` randomly if ``training``, else return them unchanged."""
        if not training:
            return inputs
        ops = keras.ops
        shape = ops.shape(inputs)
        images = ops.cast(inputs, "float32")
        warped = ops.image.affine_transform(
            images,
            self._transforms(shape[0], shape[1], shape[2]),
            interpolation="bilinear",
            fill_mode="constant",
            fill_value=0,
            data_format="channels_last",
        )
        return ops.cast(warped, inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        """The layer's config."""
        return {
            **super().get_config(),
            "shift": self.shift,
            "rotation": self.rotation,
            "zoom": self.zoom,
            "flip": self.flip,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="kerasdigits")
class FastBatchNormalization(keras.layers.BatchNormalization):  # type: ignore[misc,name-defined]
    """``keras.layers.BatchNormalization`` that trains with TensorFlow's fused kernel.

    Keras 3 computes a training batch's statistics with separate mean, variance and
    normalization ops; TensorFlow's ``FusedBatchNormV3`` does the forward pass (and its
    gradient the backward pass) in one oneDNN kernel, which makes a training step of a small
    batch-normalized convnet about 15% faster on a CPU. The results are the same as
    ``BatchNormalization`` up to float rounding: the same weights (``gamma``, ``beta``,
    ``moving_mean``, ``moving_variance``), the same moving-average update, the same config.
    Inference (and so a TFLite export) runs ``BatchNormalization``'s own code.

    The fused path is taken when training on the TensorFlow backend with ``float32`` inputs
    of rank 2 or 4, normalized over the last axis, without a mask or renormalization; anything
    else falls back to ``BatchNormalization``.

    Args:
        **kwargs: Passed to ``keras.layers.BatchNormalization`` (``momentum``, ``epsilon``,
            ``name``...).
    """

    def _fusable(self, inputs: Any, mask: Any) -> bool:
        rank = len(inputs.shape)
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not getattr(self, "synchronized", False)
            and rank in (2, 4)
            and self.axis in (-1, rank - 1)
            and keras.backend.standardize_dtype(inputs.dtype) == "float32"
            and self.compute_dtype == "float32"
        )

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        """Normalize ``inputs``; with ``training``, by the batch's statistics (fused)."""
        if not (training and self.trainable) or not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        tf = _lazy.tensorflow()
        channels = inputs.shape[-1]
        x = inputs if len(inputs.shape) == 4 else tf.reshape(inputs, (-1, 1, 1, channels))
        scale = self.gamma if self.scale else tf.ones((channels,), "float32")
        offset = self.beta if self.center else tf.zeros((channels,), "float32")
        empty = tf.constant([], "float32")
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=scale, offset=offset, mean=empty, variance=empty,
            epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
            is_training=True,
        )
        # The kernel returns the unbiased (n - 1) variance; Keras keeps the biased one.
        count = tf.cast(tf.size(x) // channels, "float32")
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
        )
        return y if len(inputs.shape) == 4 else tf.reshape(y, tf.shape(inputs))


@keras.saving.register_keras_serializable(package="kerasdigits")
class SpaceToDepth(keras.layers.Layer):  # type: ignore[misc,name-defined]
    """Move each ``block x block`` patch of pixels into the channels.

    ``(h, w, c)`` becomes ``(h / block, w / block, block * block * c)``: a 28x28x1 digit
    becomes 14x14x4 with ``block=2``, so the convolutions after it run at a quarter of the
    pixels, losing no information. Channels are ordered as ``tf.nn.space_to_depth`` orders
    them (row in the patch, column in the patch, input channel); exports to TFLite as the
    builtin ``SPACE_TO_DEPTH`` op.

    Args:
        block: Patch size; the image height and width must be multiples of it.
        **kwargs: Passed to ``keras.layers.Layer`` (``name``...).
    """

    def __init__(self, block: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = _validate.integer(block, "SpaceToDepth: block", minimum=2)

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        """``(batch, h, w, c)`` to ``(batch, h / block, w / block, block * block * c)``."""
        if len(input_shape) != 4:
            raise ValueError(
                f"SpaceToDepth expects (batch, height, width, channels) input, got shape "
                f"{tuple(input_shape)}"
            )
        batch, height, width, channels = input_shape
        for axis, size in (("height", height), ("width", width)):
            if size is not None and size % self.block:
                raise ValueError(
                    f"SpaceToDepth: image {axis} {size} is not a multiple of block {self.block}"
                )

        def div(v: int | None) -> int | None:
            return None if v is None else v // self.block

        depth = None if channels is None else channels * self.block * self.block
        return (batch, div(height), div(width), depth)

    def build(self, input_shape: tuple[Any, ...]) -> None:
        """Check the input shape."""
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        """Rearrange ``inputs``."""
        if keras.backend.backend() == "tensorflow":
            return _lazy.tensorflow().nn.space_to_depth(inputs, self.block)
        ops = keras.ops
        _, height, width, channels = inputs.shape
        b = self.block
        x = ops.reshape(inputs, (-1, height // b, b, width // b, b, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height // b, width // b, b * b * channels))

    def get_config(self) -> dict[str, Any]:
        """The layer's config (``block`` and the base layer's)."""
        return {**super().get_config(), "block": self.block}


@keras.saving.register_keras_serializable(package="kerasdigits")
class TestTimeCopies(keras.layers.Layer):  # type: ignore[misc,name-defined]
    """At inference, add shifted and mirrored copies of every image to the batch.

    The first of a pair of layers that averages a model's answer over a few copies of each
    image (test-time augmentation); :class:`AverageCopies` is the other. This one goes
    before the network and appends, for a batch of ``n`` images, ``n`` copies per variant:
    the images shifted by ``shift`` pixels up, down, left and right (zeros fill in), with
    ``diagonals`` also along the four diagonals (the 3x3 neighbourhood), and with ``mirror``
    their left-right mirror images (and those shifted too). :class:`AverageCopies`
    goes after the network's last ``Dense`` layer and averages each image's
    :attr:`copies` answers back into one. Inference costs :attr:`copies` times as much;
    in training (``training=True``, as ``fit`` passes) both layers pass the batch through.
    Both export to TFLite as builtin ops that TensorFlow Lite 2.4 runs, quantized or not
    (``PAD``, ``STRIDED_SLICE``, also for the mirror images, ``CONCATENATION``, ``RESHAPE``,
    ``MEAN``): the exported model still takes one image and answers for it.

    Args:
        shift: Pixels to shift the copies by; ``0`` adds no shifted copies.
        diagonals: Also shift diagonally (``shift`` pixels along both axes): 8 shifted copies
            instead of 4. Needs a ``shift``.
        mirror: Add left-right mirror images (for pictures where a mirror image shows the
            same thing, such as Fashion-MNIST's clothes; never for digits).
        **kwargs: Passed to ``keras.layers.Layer`` (``name``...).

    Attributes:
        copies: How many versions of each image the network sees: ``1 + 4`` with a shift
            (``1 + 8`` with ``diagonals``), times 2 with ``mirror``.

    Example:
        >>> import numpy as np
        >>> from kerasdigits.models.layers import AverageCopies, TestTimeCopies
        >>> x = np.arange(6, dtype="float32").reshape(1, 1, 3, 2)
        >>> copies = TestTimeCopies(mirror=True)
        >>> out = np.asarray(copies(x))
        >>> copies.copies, out.shape, out[1, 0, :, 0].tolist()
        (2, (2, 1, 3, 2), [4.0, 2.0, 0.0])
        >>> np.asarray(AverageCopies(2)(np.array([[1.0, 0.0], [0.0, 1.0]]))).tolist()
        [[0.5, 0.5]]
    """

    __test__ = False  # a layer, not a pytest test class, whatever its name says

    def __init__(self, shift: int = 0, mirror: bool = False, diagonals: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shift = _validate.positive_int(shift, "TestTimeCopies: shift", allow_zero=True)
        self.mirror = _validate.boolean(mirror, "TestTimeCopies: mirror")
        self.diagonals = _validate.boolean(diagonals, "TestTimeCopies: diagonals")
        if not self.shift and not self.mirror:
            raise ValueError("TestTimeCopies needs a shift or mirror=True: it would add no copy")
        if self.diagonals and not self.shift:
            raise ValueError("TestTimeCopies: diagonals=True needs a shift")
        shifted = 9 if self.diagonals else 5 if self.shift else 1
        self.copies = shifted * (2 if self.mirror else 1)

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        """The input's shape with :attr:`copies` times the batch (when it is known)."""
        batch, *rest = input_shape
        return (None if batch is None else self.copies * batch, *rest)

    def build(self, input_shape: tuple[Any, ...]) -> None:
        """Check that the input is a batch of images of a known size, larger than the shift."""
        if len(input_shape) != 4 or None in tuple(input_shape)[1:3]:
            raise ValueError(
                "TestTimeCopies expects (batch, height, width, channels) input with a known "
                f"height and width, got shape {tuple(input_shape)}"
            )
        if self.shift >= min(input_shape[1], input_shape[2]):
            raise ValueError(
                f"TestTimeCopies: shift {self.shift} would move a {input_shape[1]}x"
                f"{input_shape[2]} image out of sight; it must be smaller than the image"
            )
        super().build(input_shape)

    def _shifted(self, images: Any) -> list[Any]:
        """``images`` and, with a shift, the four (or eight) shifted copies."""
        if not self.shift:
            return [images]
        ops, s = keras.ops, self.shift
        height, width = images.shape[1], images.shape[2]
        padded = ops.pad(images, [[0, 0], [s, s], [s, s], [0, 0]])
        # Windows into the padded images: the image itself, then up/down/left/right shifts.
        offsets = [(s, s), (0, s), (2 * s, s), (s, 0), (s, 2 * s)]
        if self.diagonals:
            offsets += [(0, 0), (0, 2 * s), (2 * s, 0), (2 * s, 2 * s)]
        return [padded[:, y:y + height, x:x + width, :] for y, x in offsets]

    def call(self, inputs: Any, training: bool = False) -> Any:
        """``inputs`` followed by their copies, unless ``training``."""
        if training:
            return inputs
        ops = keras.ops
        versions = self._shifted(inputs)
        if self.mirror:
            # A slice with step -1, not ops.flip: TFLite runs it as STRIDED_SLICE, which int8
            # models get in TensorFlow Lite 2.4 (REVERSE_V2's int8 kernel came in 2.5).
            versions += self._shifted(inputs[:, :, ::-1, :])
        return ops.concatenate(versions, axis=0)

    def get_config(self) -> dict[str, Any]:
        """The layer's config."""
        return {**super().get_config(), "shift": self.shift, "mirror": self.mirror,
                "diagonals": self.diagonals}


@keras.saving.register_keras_serializable(package="kerasdigits")
class AverageCopies(keras.layers.Layer):  # type: ignore[misc,name-defined]
    """At inference, average the answers for the copies :class:`TestTimeCopies` made.

    Takes a batch of ``copies * n`` rows (``n`` images, then each variant's ``n`` copies in
    turn) and returns ``n``, each the mean of an image's rows. In training it passes the
    batch through.

    Args:
        copies: :attr:`TestTimeCopies.copies` of the layer that made the copies.
        **kwargs: Passed to ``keras.layers.Layer`` (``name``...).
    """

    def __init__(self, copies: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.copies = _validate.positive_int(copies, "AverageCopies: copies")

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        """The input's shape with a :attr:`copies`-th of the batch (when it is known)."""
        batch, *rest = input_shape
        return (None if batch is None else batch // self.copies, *rest)

    def call(self, inputs: Any, training: bool = False) -> Any:
        """The mean over the copies of each row of ``inputs``, unless ``training``."""
        if training or self.copies == 1:
            return inputs
        ops = keras.ops
        grouped = ops.reshape(inputs, (self.copies, -1, *inputs.shape[1:]))
        return ops.mean(grouped, axis=0)

    def get_config(self) -> dict[str, Any]:
        """The layer's config."""
        return {**super().get_config(), "copies": self.copies}
