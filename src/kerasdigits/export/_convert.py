"""From a Keras model to TFLite bytes: one fixed-batch graph per target, builtin ops only.

The Keras model is wrapped in a ``tf.function`` whose input signature has batch 1 (so both
``shape`` and ``shape_signature`` of the TFLite input are fixed) and whose body turns what the
app feeds into what the trained network expects: a cast, RGB to grayscale (for ML Kit), the
optional inversion, the scaling to the network's pixel range, and a reshape. The network runs in
inference mode (``training=False``: dropout off, batch normalization with its moving
statistics). :class:`tf.lite.TFLiteConverter` converts the concrete function with
``TFLITE_BUILTINS`` (or ``TFLITE_BUILTINS_INT8``) only, so a model that would need Flex
(Select TF) ops fails here instead of on the phone.

For the ``mlkit`` and ``firebase-legacy`` targets, dense-layer weights are quantized per tensor
(recent converters quantize them per channel, which makes a dynamic-range ``FULLY_CONNECTED``
version 12 that needs TensorFlow Lite 2.17), and every operator version is then checked
against the target's runtime (:mod:`kerasdigits.export._opversions`). A full-integer model's
final softmax is moved to float (:func:`kerasdigits.export._pack.float_softmax`), so its
probabilities sum to 1 like a float model's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from kerasdigits import _lazy
from kerasdigits.export._errors import ExportError
from kerasdigits.export._opversions import TARGET_RUNTIMES, check_runtime
from kerasdigits.export._pack import float_softmax
from kerasdigits.training._feeding import first_layers, input_contract

__all__ = [
    "GRAY_WEIGHTS",
    "INPUT_DTYPES",
    "QUANTIZATIONS",
    "TARGETS",
    "InputPlan",
    "ModelPlan",
    "analyze_model",
    "convert",
    "plan_input",
    "representative_inputs",
    "to_model_input",
]

PixelScale = Literal["unit", "raw"]

#: Export targets: the model's own layout for LiteRT, RGB for ML Kit, flat float for the 2018 API.
TARGETS: tuple[str, ...] = ("litert", "mlkit", "firebase-legacy")
#: Quantization modes (``None`` means float32).
QUANTIZATIONS: tuple[str, ...] = ("dynamic", "float16", "int8")
#: Input dtypes an export can declare.
INPUT_DTYPES: tuple[str, ...] = ("float32", "uint8")
#: ITU-R BT.601 luma weights: ``gray = 0.299 R + 0.587 G + 0.114 B`` (they sum to 1, so a gray
#: pixel fed as R = G = B keeps its value).
GRAY_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


@dataclass(frozen=True, eq=False)
class ModelPlan:
    """What a Keras classifier takes and gives, as far as exporting is concerned.

    Attributes:
        model: The Keras model.
        name: The model's name.
        input_shape: Per-example input shape of the model (without batch).
        input_dtype: ``"uint8"`` or ``"float32"``.
        pixel_scale: What the model's input values are: ``"raw"`` (0..255: it normalizes
            in-model) or ``"unit"`` (pixels already scaled to [0, 1]).
        layout: ``"flat"`` (a vector of ``height * width``) or ``"image"``.
        height: Image height.
        width: Image width.
        num_classes: Size of the output.
        add_softmax: The model outputs logits; the export appends a softmax.
        normalizer: For a ``uint8`` model, its leading in-model ``Normalize`` layer.
        body: For a ``uint8`` model, the model after ``normalizer`` (float input), so the
            export does not round pixels back to ``uint8``.
    """

    model: Any
    name: str
    input_shape: tuple[int, ...]
    input_dtype: str
    pixel_scale: PixelScale
    layout: Literal["flat", "image"]
    height: int
    width: int
    num_classes: int
    add_softmax: bool
    normalizer: Any = None
    body: Any = None


@dataclass(frozen=True)
class InputPlan:
    """The exported model's input: what an app feeds it.

    Attributes:
        target: ``"litert"``, ``"mlkit"`` or ``"firebase-legacy"``.
        dtype: ``"float32"`` or ``"uint8"``.
        shape: The input shape, batch (1) first.
        name: The input tensor's name.
        channels: 3 for RGB input (``mlkit``), else 1.
        layout: ``"flat"`` (``[1, height * width]``) or ``"image"`` (``[1, h, w, c]``).
        scale: For float input: ``"unit"`` (pixels / 255) or ``"raw"`` (0..255); ``uint8``
            input is always raw pixels.
        invert: The graph inverts the pixels (``255 - x``) before the network: the app feeds
            dark ink on light paper.
        mean: Normalization mean: the app feeds ``(pixel - mean) / std``.
        std: Normalization standard deviation.
    """

    target: str
    dtype: str
    shape: tuple[int, ...]
    name: str
    channels: int
    layout: Literal["flat", "image"]
    scale: PixelScale
    invert: bool

    @property
    def mean(self) -> float:
        """The normalization mean (always 0: pixels are only scaled)."""
        return 0.0

    @property
    def std(self) -> float:
        """The normalization std: 255 for ``unit`` float input, 1 otherwise."""
        return 255.0 if self.dtype == "float32" and self.scale == "unit" else 1.0

    @property
    def value_range(self) -> tuple[float, float]:
        """The smallest and largest value of the input tensor."""
        return (0.0, 1.0) if self.dtype == "float32" and self.scale == "unit" else (0.0, 255.0)


def analyze_model(model: Any) -> ModelPlan:
    """Check that ``model`` is a single-input grayscale classifier and describe it.

    Raises:
        ExportError: More than one input or output, an input that is not a grayscale image
            (``(n,)``, ``(h, w)`` or ``(h, w, 1)``), a dynamic input size, or an output that is
            not ``(batch, num_classes)``.
    """
    name = str(getattr(model, "name", "model"))
    inputs = getattr(model, "inputs", None)
    outputs = getattr(model, "outputs", None)
    if not inputs or not outputs:
        raise ExportError(f"model {name!r} has no defined inputs/outputs; build it first")
    if len(inputs) != 1 or len(outputs) != 1:
        raise ExportError(
            f"model {name!r} has {len(inputs)} inputs and {len(outputs)} outputs; an exported "
            "classifier has exactly one input (pixels) and one output (class probabilities)"
        )
    raw_shape = tuple(inputs[0].shape[1:])
    if any(d is None for d in raw_shape):
        raise ExportError(f"model {name!r} has a dynamic input shape {raw_shape}; export needs "
                          "a fixed image size")
    shape = tuple(int(d) for d in raw_shape)
    dtype = inputs[0].dtype if isinstance(inputs[0].dtype, str) else inputs[0].dtype.name
    out_shape = tuple(outputs[0].shape[1:])
    if len(out_shape) != 1 or out_shape[0] is None or int(out_shape[0]) < 2:
        raise ExportError(
            f"model {name!r} outputs shape {out_shape} per image; a classifier outputs "
            "(num_classes,) probabilities"
        )
    if len(shape) == 3 and shape[2] != 1:
        raise ExportError(f"model {name!r} takes {shape[2]}-channel images {shape}; kerasdigits "
                          "exports grayscale classifiers ((h, w), (h, w, 1) or (h*w,) input)")
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            raise ExportError(f"model {name!r} takes vectors of {shape[0]} values, which are not "
                              "square images")
        height = width = side
        layout: Literal["flat", "image"] = "flat"
    elif len(shape) in (2, 3):
        height, width = shape[0], shape[1]
        layout = "image" if len(shape) == 3 or not _flattens_first(model) else "flat"
    else:
        raise ExportError(f"model {name!r} takes input of shape {shape}; expected (h*w,), (h, w) "
                          "or (h, w, 1)")
    if dtype not in ("uint8", "float32"):
        raise ExportError(f"model {name!r} takes {dtype} input; expected uint8 (raw pixels) or "
                          "float32")
    normalizer = body = None
    if dtype == "uint8":
        normalizer, body = _split_normalizer(model)
    # The same decision train and predict follow (kerasdigits.training._feeding).
    scale: PixelScale = input_contract(model).scale
    return ModelPlan(
        model=model,
        name=name,
        input_shape=shape,
        input_dtype=str(dtype),
        pixel_scale=scale,
        layout=layout,
        height=height,
        width=width,
        num_classes=int(out_shape[0]),
        add_softmax=not _ends_in_softmax(model, shape, str(dtype)),
        normalizer=normalizer,
        body=body,
    )


def _flattens_first(model: Any) -> bool:
    keras = _lazy.keras()
    from kerasdigits.transforms.layers import Flatten, Normalize

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in layers:
        if isinstance(layer, Normalize):
            continue
        return isinstance(layer, Flatten | keras.layers.Flatten | keras.layers.Reshape)
    return False


def _split_normalizer(model: Any) -> tuple[Any, Any]:
    """Split a ``uint8`` model into its leading ``Normalize`` layer and the float rest."""
    keras = _lazy.keras()
    from kerasdigits.transforms.layers import Normalize

    for layer in first_layers(model):
        if not isinstance(layer, Normalize):
            continue
        try:
            body = keras.Model(layer.output, model.outputs[0], name=model.name)
        except Exception:  # a topology Keras cannot cut: round to uint8 instead
            return None, None
        probe = np.random.default_rng(0).integers(0, 256, (2, *model.inputs[0].shape[1:]))
        probe = probe.astype(np.uint8)
        expected = np.asarray(model(probe, training=False))
        got = np.asarray(body(layer(probe.astype(np.float32)), training=False))
        if got.shape == expected.shape and np.array_equal(got, expected):
            return layer, body
    return None, None


def _ends_in_softmax(model: Any, shape: tuple[int, ...], dtype: str) -> bool:
    """Whether the model's outputs are probabilities (checked on random pixels)."""
    probe = np.random.default_rng(1).integers(0, 256, (4, *shape))
    x = probe.astype(np.uint8) if dtype == "uint8" else (probe / 255.0).astype(np.float32)
    y = np.asarray(model(x, training=False), dtype=np.float64)
    return bool(np.all(y >= 0) and np.allclose(y.sum(axis=1), 1.0, atol=1e-3))


def plan_input(
    plan: ModelPlan, target: str, input_dtype: str, invert: bool
) -> InputPlan:
    """Decide the exported input for ``target`` (arguments already validated)."""
    h, w = plan.height, plan.width
    if target == "mlkit":
        return InputPlan(target, input_dtype, (1, h, w, 3), "image", 3, "image", "unit", invert)
    if target == "firebase-legacy":
        return InputPlan(target, "float32", (1, h * w), "pixels", 1, "flat", "unit", invert)
    shape = (1, h * w) if plan.layout == "flat" else (1, h, w, 1)
    scale: PixelScale = plan.pixel_scale if input_dtype == "float32" else "raw"
    return InputPlan(target, input_dtype, shape, "pixels", 1, plan.layout, scale, invert)


def to_model_input(tf: Any, x: Any, source: InputPlan, plan: ModelPlan) -> Any:
    """Build the graph from the exported input ``x`` to the class probabilities."""
    x = tf.cast(x, tf.float32)
    scale = source.scale if source.dtype == "float32" else "raw"
    full = 1.0 if scale == "unit" else 255.0
    # Factor taking the input's pixel scale to the network's.
    factor = 1.0 if scale == plan.pixel_scale else (255.0 if scale == "unit" else 1.0 / 255.0)
    target_full = 1.0 if plan.pixel_scale == "unit" else 255.0
    if source.channels == 3:
        # RGB -> gray, inversion and scaling folded into one 1x1 convolution with a bias.
        sign = -1.0 if source.invert else 1.0
        kernel = np.array(GRAY_WEIGHTS, np.float32).reshape(1, 1, 3, 1) * np.float32(
            sign * factor)
        x = tf.nn.conv2d(x, tf.constant(kernel), strides=1, padding="VALID")
        if source.invert:
            x = tf.nn.bias_add(x, tf.constant([target_full], tf.float32))
    else:
        if source.invert:
            x = tf.constant(full, tf.float32) - x
        if factor != 1.0:
            x = x * tf.constant(factor, tf.float32)
    x = tf.reshape(x, (1, *plan.input_shape))
    if plan.input_dtype == "uint8":
        if plan.normalizer is not None:
            y = plan.body(plan.normalizer(x), training=False)
        else:
            x = tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
            y = plan.model(x, training=False)
    else:
        y = plan.model(x, training=False)
    if plan.add_softmax:
        y = tf.nn.softmax(y, axis=-1)
    return y


def representative_inputs(
    images: npt.NDArray[np.uint8], source: InputPlan
) -> npt.NDArray[np.float32]:
    """Turn ``(N, h, w)`` uint8 images into float graph inputs for int8 calibration.

    The int8 graph always has a float input (the converter then makes it ``uint8`` with scale 1
    and zero point 0 for raw pixels, or keeps it ``float32``), so the values are raw pixels for
    ``uint8`` input and the input's own scale for float input. Inversion is applied as the app
    would: it feeds dark-on-light images. For ``uint8`` input the calibrated range must be
    exactly 0..255 (so that the quantization scale is 1): if no image has a 0 or a 255 pixel,
    one pixel of the first image is set to it.
    """
    x = images.astype(np.float32)
    if source.invert:
        x = 255.0 - x
    if source.dtype == "uint8" and len(x):
        if x.min() > 0:
            x[0].flat[0] = 0.0
        if x.max() < 255:
            x[0].flat[-1] = 255.0
    if source.dtype == "float32" and source.scale == "unit":
        x = x / np.float32(255.0)
    if source.channels == 3:
        x = np.repeat(x[..., None], 3, axis=-1)
    return x.reshape((len(images), *source.shape[1:])).astype(np.float32)


def convert(
    plan: ModelPlan,
    source: InputPlan,
    quantization: str | None,
    representative: npt.NDArray[np.uint8] | None = None,
) -> bytes:
    """Convert the wrapped model to TFLite bytes.

    Args:
        plan: The analyzed Keras model.
        source: The exported input.
        quantization: ``None``, ``"dynamic"``, ``"float16"`` or ``"int8"``.
        representative: ``(N, h, w)`` uint8 calibration images (``"int8"`` only).

    Returns:
        The converted FlatBuffer, without metadata.

    Raises:
        ExportError: The converter fails (for example, an op without a TFLite builtin), or
            the model needs a newer TensorFlow Lite runtime than ``source.target`` promises
            (:data:`~kerasdigits.export._opversions.TARGET_RUNTIMES`).
    """
    tf = _lazy.tensorflow()
    int8 = quantization == "int8"
    # For int8 the graph input stays float and the converter makes it uint8 (scale 1 for raw
    # pixels); otherwise a uint8 input is a real uint8 tensor followed by a CAST.
    graph_dtype = tf.float32 if (int8 or source.dtype == "float32") else tf.uint8
    spec = tf.TensorSpec(source.shape, graph_dtype, name=source.name)

    def serve(x: Any) -> Any:
        return to_model_input(tf, x, source, plan)

    traced = tf.function(serve, input_signature=[spec], autograph=False)
    concrete = _freeze(traced.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], plan.model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.experimental_enable_resource_variables = False
    if quantization is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if TARGET_RUNTIMES.get(source.target) is not None:
        # Per-tensor dense weights: dynamic range gives FULLY_CONNECTED v9 (TFLite 2.3) instead
        # of v12 (2.17), and int8 dense kernels of older runtimes read a single scale.
        # Convolutions stay per channel (hybrid CONV_2D v5: TFLite 2.4; int8 v3: 1.14).
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if int8:
        if representative is None or len(representative) == 0:
            raise ExportError("int8 quantization needs representative images")
        data = representative_inputs(representative, source)
        converter.representative_dataset = _generator(data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8 if source.dtype == "uint8" else tf.float32
        converter.inference_output_type = tf.float32
    try:
        converted = bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError
        message = " ".join(str(exc).split())
        raise ExportError(
            f"TFLite conversion of {plan.name!r} failed with builtin ops only"
            f"{' and int8 quantization' if int8 else ''}: {message[:2000]}"
        ) from exc
    if int8:
        converted = float_softmax(converted)
    check_runtime(converted, source.target,
                  f"{plan.name} -> {source.target}, {source.dtype} input, quantization "
                  f"{quantization}")
    return converted


def _freeze(concrete: Any) -> Any:
    """Turn the function's variables into constants (no resource variables in the model)."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    return convert_variables_to_constants_v2(concrete)


def _generator(data: npt.NDArray[np.float32]) -> Callable[[], Iterator[list[Any]]]:
    def generate() -> Iterator[list[Any]]:
        for row in data:
            yield [row[None, ...]]

    return generate
