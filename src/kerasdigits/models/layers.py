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

from typing import Any

from kerasdigits import _lazy, _validate

keras = _lazy.keras()

__all__ = ["FastBatchNormalization", "RandomShift", "SpaceToDepth"]


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
