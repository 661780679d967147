"""Checking an exported ``.tflite`` file against its Keras model, with the LiteRT interpreter.

Every test image goes through the file one at a time (batch 1), fed the way an app feeds it: as
an RGB image (R = G = B) for an ``mlkit`` export, flattened for a ``[1, 784]`` input, inverted
when the export expects dark ink on light paper, and normalized with the file's own
``NormalizationOptions`` (``(pixel - mean) / std``) for float input. The probabilities are
compared with the Keras model's on the same images.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kerasdigits.export._errors import ExportError
from kerasdigits.export._metadata import decode_metadata
from kerasdigits.export._pack import (
    EXPORT_INFO_NAME,
    METADATA_NAME,
    ModelSummary,
    model_entries,
    read_tflite,
    reading,
    summarize_model,
)

__all__ = [
    "FLOAT_TOLERANCE",
    "Feeding",
    "VerifyReport",
    "export_record",
    "feeding_for",
    "make_interpreter",
    "run_tflite",
    "verify_bytes",
    "verify_tflite",
]

#: Largest absolute difference of probabilities allowed between a float export and Keras.
FLOAT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Feeding:
    """How an app turns a grayscale ``uint8`` image into the exported model's input.

    Attributes:
        shape: The input shape (batch 1 first).
        dtype: The input dtype name (``"float32"``, ``"uint8"`` or ``"int8"``).
        mean: For float input: subtracted from each 0..255 pixel.
        std: For float input: the pixel minus ``mean`` is divided by it.
        invert: Feed ``255 - pixel`` (the export expects dark ink on light paper).
        scale: Quantization scale of an ``int8`` input.
        zero_point: Quantization zero point of an ``int8`` input.
    """

    shape: tuple[int, ...]
    dtype: str
    mean: float = 0.0
    std: float = 255.0
    invert: bool = False
    scale: float | None = None
    zero_point: int | None = None

    @property
    def nbytes(self) -> int:
        """The size in bytes of the input buffer an app allocates."""
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    def __call__(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        """Return the input tensor for one ``(h, w)`` uint8 image."""
        pixels = 255 - image.astype(np.int16) if self.invert else image.astype(np.int16)
        if self.shape[-1] == 3 and len(self.shape) == 4:
            pixels = np.repeat(pixels[..., None], 3, axis=-1)
        pixels = pixels.reshape(self.shape)
        if self.dtype == "uint8":
            return pixels.astype(np.uint8)
        if self.dtype == "float32":
            scaled = (pixels.astype(np.float32) - np.float32(self.mean)) / np.float32(self.std)
            return np.asarray(scaled, dtype=np.float32)
        if self.dtype == "int8" and self.scale:
            q = np.round(pixels / self.scale) + (self.zero_point or 0)
            return np.clip(q, -128, 127).astype(np.int8)
        raise ExportError(f"cannot feed images to a {self.dtype} input")


# kerasdigits's export record is a few hundred bytes of JSON; a bigger one is not ours.
_MAX_RECORD_BYTES = 64 * 2**10


def export_record(model: bytes) -> dict[str, Any]:
    """Return kerasdigits's export record stored in a ``.tflite`` file (``{}`` if none).

    A record that is not a JSON object of at most 64 KiB counts as none.

    Raises:
        ExportError: ``model`` is not a TFLite FlatBuffer, or is corrupt.
    """
    raw = model_entries(model).get(EXPORT_INFO_NAME)
    if not raw or len(raw) > _MAX_RECORD_BYTES:
        return {}
    try:
        record = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, too deep, too long a number
        return {}
    return record if isinstance(record, dict) else {}


def _number(record: dict[str, Any], key: str, default: float) -> float:
    value = record.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExportError(f"the export record's {key} is not a number: {value!r:.40}")
    return float(value)


def feeding_for(
    model: bytes,
    summary: ModelSummary | None = None,
    *,
    invert: bool | None = None,
    normalization: tuple[float, float] | None = None,
) -> Feeding:
    """Work out how to feed a ``.tflite`` file from what it says about itself.

    Float inputs use, in order: ``normalization``, the file's kerasdigits export record, its
    metadata's ``NormalizationOptions``, else pixels / 255. Inversion: ``invert``, else the
    export record, else none.

    Raises:
        ExportError: The model does not have exactly one input, is corrupt, or its export
            record holds a normalization that is not a number.
    """
    summary = summary or summarize_model(model)
    if len(summary.inputs) != 1:
        raise ExportError(f"expected one input tensor, found {len(summary.inputs)}")
    tensor = summary.inputs[0]
    record = export_record(model)
    mean, std = 0.0, 255.0
    if normalization is not None:
        mean, std = float(normalization[0]), float(normalization[1])
    elif record.get("input_std") is not None:
        mean, std = _number(record, "input_mean", 0.0), _number(record, "input_std", 255.0)
    else:
        raw = model_entries(model).get(METADATA_NAME)
        if raw:
            meta = decode_metadata(raw)
            if meta.inputs and meta.inputs[0].mean:
                mean, std = meta.inputs[0].mean[0], meta.inputs[0].std[0]
    if invert is None:
        invert = bool(record.get("invert", False))
    return Feeding(
        shape=tensor.shape,
        dtype=tensor.dtype,
        mean=mean,
        std=std,
        invert=invert,
        scale=tensor.scale,
        zero_point=tensor.zero_point,
    )


def make_interpreter(model: bytes, *, num_threads: int | None = 1) -> Any:
    """Create and allocate an ``ai_edge_litert`` interpreter for ``model``.

    Raises:
        ExportError: ai-edge-litert is not installed, or LiteRT cannot load the model.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ExportError(
            "verifying a .tflite file needs ai-edge-litert: pip install ai-edge-litert "
            "(or export with verify=False)"
        ) from exc
    try:
        interpreter = Interpreter(model_content=model, num_threads=num_threads)
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise ExportError(f"LiteRT cannot load the model: {reason}") from exc
    return interpreter


def run_tflite(
    model: bytes, images: npt.NDArray[np.uint8], feeding: Feeding | None = None
) -> npt.NDArray[np.float32]:
    """Run ``model`` on each ``(h, w)`` uint8 image, one at a time; return the outputs.

    Quantized outputs are dequantized. The result has shape ``(N, num_classes)``.
    """
    feeding = feeding or feeding_for(model)
    interpreter = make_interpreter(model)
    input_index = interpreter.get_input_details()[0]["index"]
    output = interpreter.get_output_details()[0]
    scale, zero_point = output["quantization"]
    rows = []
    for image in images:
        interpreter.set_tensor(input_index, feeding(image))
        interpreter.invoke()
        y = interpreter.get_tensor(output["index"]).reshape(-1)
        if scale:
            y = (y.astype(np.float32) - zero_point) * np.float32(scale)
        rows.append(y.astype(np.float32))
    if not rows:
        return np.zeros((0, 0), np.float32)
    return np.stack(rows)


@dataclass(frozen=True)
class VerifyReport:
    """How an exported file compares with its Keras model on real test images.

    Attributes:
        images: Number of test images run.
        quantized: The export is quantized (``"dynamic"``, ``"float16"`` or ``"int8"``); the
            float parity criterion applies to unquantized exports only.
        max_abs_diff: Largest absolute difference of any class probability.
        mean_abs_diff: Mean absolute difference of the probabilities.
        argmax_mismatches: Images whose predicted class differs from Keras's.
        keras_accuracy: Keras model accuracy on the images (``None`` without labels).
        tflite_accuracy: The exported file's accuracy on the images.
        tolerance: The float parity tolerance on ``max_abs_diff``.
    """

    images: int
    quantized: bool
    max_abs_diff: float
    mean_abs_diff: float
    argmax_mismatches: int
    keras_accuracy: float | None
    tflite_accuracy: float | None
    tolerance: float = FLOAT_TOLERANCE

    @property
    def argmax_agreement(self) -> float:
        """Fraction of images where the file and Keras predict the same class."""
        return 1.0 - self.argmax_mismatches / self.images if self.images else 1.0

    @property
    def accuracy_drop(self) -> float | None:
        """Keras accuracy minus the file's accuracy (a fraction; x 100 for points)."""
        if self.keras_accuracy is None or self.tflite_accuracy is None:
            return None
        return self.keras_accuracy - self.tflite_accuracy

    @property
    def parity(self) -> bool:
        """Probabilities within ``tolerance`` and the same predicted class on every image."""
        return self.max_abs_diff <= self.tolerance and self.argmax_mismatches == 0

    @property
    def passed(self) -> bool:
        """For a float export, :attr:`parity`; a quantized export is reported, not judged."""
        return self.parity if not self.quantized else True

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as a JSON-ready dict."""
        return {
            "images": self.images,
            "quantized": self.quantized,
            "max_abs_diff": self.max_abs_diff,
            "mean_abs_diff": self.mean_abs_diff,
            "argmax_mismatches": self.argmax_mismatches,
            "argmax_agreement": self.argmax_agreement,
            "keras_accuracy": self.keras_accuracy,
            "tflite_accuracy": self.tflite_accuracy,
            "accuracy_drop": self.accuracy_drop,
            "tolerance": self.tolerance,
            "parity": self.parity,
            "passed": self.passed,
        }

    def __str__(self) -> str:
        text = (f"{self.images} images: max |dp| {self.max_abs_diff:.2e}, argmax agreement "
                f"{self.argmax_agreement:.2%} ({self.argmax_mismatches} differ)")
        if self.keras_accuracy is not None and self.tflite_accuracy is not None:
            text += (f"; accuracy keras {self.keras_accuracy:.2%}, tflite "
                     f"{self.tflite_accuracy:.2%} (drop {100 * (self.accuracy_drop or 0):+.2f} "
                     "points)")
        verdict = "parity OK" if self.parity else (
            "quantized" if self.quantized else f"PARITY FAILED (tolerance {self.tolerance:g})")
        return f"{text}; {verdict}"


def _softmax_if_logits(y: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    if np.all(y >= 0) and np.allclose(y.sum(axis=1), 1.0, atol=1e-3):
        return y
    z = np.exp(y - y.max(axis=1, keepdims=True))
    return np.asarray(z / z.sum(axis=1, keepdims=True), dtype=np.float32)


def verify_bytes(
    model: bytes,
    keras_model: Any,
    images: npt.NDArray[np.uint8],
    labels: npt.ArrayLike | None = None,
    *,
    feeding: Feeding | None = None,
    quantized: bool | None = None,
    tolerance: float = FLOAT_TOLERANCE,
) -> VerifyReport:
    """:func:`verify_tflite` on in-memory ``.tflite`` bytes."""
    from kerasdigits.training._feeding import prepare_images
    from kerasdigits.training._predict import predict_proba

    images = _as_images(images)
    summary = summarize_model(model)
    feeding = feeding or feeding_for(model, summary)
    if quantized is None:
        record = export_record(model)
        quantized = (bool(record.get("quantization")) if "quantization" in record
                     else any(op in summary.ops for op in ("DEQUANTIZE", "QUANTIZE")))
    got = run_tflite(model, images, feeding)
    batch, _ = prepare_images(keras_model, images)
    expected = _softmax_if_logits(predict_proba(keras_model, batch))
    if got.shape != expected.shape:
        raise ExportError(f"the file outputs {got.shape[1:]} per image but the Keras model "
                          f"{expected.shape[1:]}")
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    keras_pred, tflite_pred = expected.argmax(axis=1), got.argmax(axis=1)
    keras_acc = tflite_acc = None
    if labels is not None:
        truth = np.asarray(labels).reshape(-1)
        if len(truth) != len(images):
            raise ExportError(f"{len(images)} images but {len(truth)} labels")
        keras_acc = float(np.mean(keras_pred == truth))
        tflite_acc = float(np.mean(tflite_pred == truth))
    return VerifyReport(
        images=len(images),
        quantized=bool(quantized),
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
        argmax_mismatches=int(np.sum(keras_pred != tflite_pred)),
        keras_accuracy=keras_acc,
        tflite_accuracy=tflite_acc,
        tolerance=tolerance,
    )


def _as_images(images: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    arr = np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise ExportError(f"test images must be uint8 (N, h, w), got {arr.dtype} {arr.shape}")
    return arr


def verify_tflite(
    path: str | os.PathLike[str],
    model: Any,
    images: npt.ArrayLike | None = None,
    labels: npt.ArrayLike | None = None,
    *,
    dataset: Any = None,
    limit: int | None = None,
    invert: bool | None = None,
    normalization: tuple[float, float] | None = None,
    tolerance: float = FLOAT_TOLERANCE,
) -> VerifyReport:
    """Run a ``.tflite`` file with LiteRT on real test images and compare it with Keras.

    Each image is fed alone (batch 1) the way an app feeds it (see :class:`Feeding`): RGB with
    R = G = B for a 3-channel input, flattened for a flat one, inverted when the export says so,
    and ``(pixel - mean) / std`` with the file's normalization for float input.

    Args:
        path: The ``.tflite`` file.
        model: The Keras model it was exported from (or the path of its ``.keras`` file).
        images: ``uint8`` test images ``(N, h, w)`` as in the dataset (light ink on dark);
            default: the test split of ``dataset``.
        labels: Their class indices, for accuracies (default: the dataset's).
        dataset: A dataset name or :class:`~kerasdigits.datasets.Dataset` whose test split to
            use when ``images`` is not given (default ``"mnist_sample"``: 1,000 images).
        limit: Use only the first ``limit`` images.
        invert: Override the file's export record: feed inverted images.
        normalization: Override the ``(mean, std)`` of a float input.
        tolerance: Float parity tolerance on the largest probability difference.

    The file is read with the limits of :func:`~kerasdigits.export.read_metadata` (at most
    512 MiB) and its FlatBuffer is checked structurally (every offset, vector, string and
    index between tables) before the bytes are handed to LiteRT, whose native code is not
    meant for hostile input.

    Returns:
        A :class:`VerifyReport`; for an unquantized export ``report.passed`` means parity (every
        probability within ``tolerance`` and the same predicted class); quantized exports report
        their accuracy and its drop.

    Raises:
        ExportError: The file cannot be read or run, is truncated or corrupt (a one-line
            message that starts with the path), or the images do not fit it.
    """
    data = read_tflite(path)
    with reading(path):
        summary = summarize_model(data)  # the structural check, before LiteRT sees the bytes
    if not hasattr(model, "inputs"):
        from kerasdigits.training import load_model

        model = load_model(model, compile=False)
    if images is None:
        from kerasdigits.datasets import Dataset, load_dataset

        ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset or "mnist_sample")
        images = ds.test.images
        if labels is None:
            labels = ds.test.labels
    arr = _as_images(images)
    truth = None if labels is None else np.asarray(labels)
    if limit is not None:
        arr = arr[:limit]
        truth = None if truth is None else truth[:limit]
    with reading(path):
        feeding = feeding_for(data, summary, invert=invert, normalization=normalization)
    return verify_bytes(data, model, arr, truth, feeding=feeding, tolerance=tolerance)
