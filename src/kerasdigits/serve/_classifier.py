"""The model behind the page: a ``.tflite`` file run by LiteRT, or a Keras model.

:class:`LiteRTClassifier` is a client of the export path, not a second implementation of it:
it reads the file with kerasdigits's own readers (:func:`~kerasdigits.export.read_metadata`
for the labels and metadata; the export record and ``feeding_for``, which
:func:`~kerasdigits.export.verify_tflite` uses, for the input's dtype, layout, normalization
and inversion) and feeds LiteRT exactly as :func:`~kerasdigits.export.verify_tflite` and an
app do. It imports neither TensorFlow nor Keras. Each worker thread gets its own LiteRT
interpreter (an interpreter must not run in two threads at once).

:class:`KerasClassifier` answers with :func:`kerasdigits.predict` on a loaded ``.keras`` model
(TensorFlow is imported then).
"""

from __future__ import annotations

import abc
import math
import os
import threading
import time
from dataclasses import dataclass
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kerasdigits._errors import KerasDigitsError

__all__ = [
    "IMAGE_SIZE",
    "Classifier",
    "KerasClassifier",
    "LiteRTClassifier",
    "ModelLoadError",
    "Prediction",
    "load_classifier",
]

#: Side of the images the page and the API feed (what :func:`~kerasdigits.transforms.to_mnist`
#: returns).
IMAGE_SIZE = 28


class ModelLoadError(KerasDigitsError, ValueError):
    """The model given to the server cannot be used: missing, not a model, or not 28x28."""


@dataclass(frozen=True)
class Prediction:
    """One answer of a :class:`Classifier`.

    Attributes:
        index: The predicted class (the most probable output).
        label: Its name.
        labels: Every class name, in output order.
        probabilities: ``float32 (num_classes,)`` class probabilities.
        image: The ``uint8 (28, 28)`` image the model was given, in MNIST's format (bright
            ink on black), before the file's own input conversion.
        inference_ms: How long the model call took (setting the input, running it, reading
            the output), in milliseconds.
    """

    index: int
    label: str
    labels: tuple[str, ...]
    probabilities: npt.NDArray[np.float32]
    image: npt.NDArray[np.uint8]
    inference_ms: float

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form the API sends (``image`` as 28 rows of 28 ints)."""
        return {
            "index": self.index,
            "label": self.label,
            "labels": list(self.labels),
            "probabilities": [float(p) for p in self.probabilities],
            "image": self.image.tolist(),
            "inference_ms": self.inference_ms,
        }


def _version(distribution: str) -> str:
    try:
        return _metadata.version(distribution)
    except _metadata.PackageNotFoundError:
        return "unknown"


def _to_probabilities(y: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``y`` itself when it is a probability vector, else its softmax (a logits output)."""
    if np.all(y >= 0) and abs(float(y.sum()) - 1.0) <= 1e-3:
        return y
    z = np.exp(y - y.max())
    return np.asarray(z / z.sum(), dtype=np.float32)


class Classifier(abc.ABC):
    """A model the server answers with: 28x28 MNIST-style images in, class probabilities out.

    Subclasses implement :meth:`probabilities` and :meth:`describe`; :meth:`classify` is what
    the server calls, from several threads at once.

    Attributes:
        name: What the page shows as the model: the file name, or the Keras model's name.
        runtime: ``"LiteRT"`` or ``"Keras"``.
        runtime_version: The version of that runtime's package.
        labels: The class names, in output order.
    """

    name: str
    runtime: str
    runtime_version: str
    labels: tuple[str, ...]

    @abc.abstractmethod
    def probabilities(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Return the class probabilities of one ``uint8 (28, 28)`` image (bright ink on black).

        Args:
            image: The image, in MNIST's format.

        Returns:
            ``float32 (num_classes,)`` probabilities.
        """

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Return what ``GET /api/model`` sends: the model's file, runtime, I/O and labels."""

    def classify(self, image: npt.ArrayLike) -> Prediction:
        """Classify one image and time the model call.

        Args:
            image: ``uint8 (28, 28)`` pixels in MNIST's format (bright ink on black), such as
                :func:`~kerasdigits.transforms.to_mnist` returns.

        Returns:
            The :class:`Prediction`.

        Raises:
            ValueError: ``image`` is not a ``uint8 (28, 28)`` array.
        """
        array = np.asarray(image)
        if array.shape != (IMAGE_SIZE, IMAGE_SIZE) or array.dtype != np.uint8:
            raise ValueError(f"expected a uint8 ({IMAGE_SIZE}, {IMAGE_SIZE}) image, got "
                             f"{array.dtype} {array.shape}")
        start = time.perf_counter()
        probs = self.probabilities(array)
        elapsed = (time.perf_counter() - start) * 1000.0
        index = int(np.argmax(probs))
        return Prediction(
            index=index,
            label=self.labels[index],
            labels=self.labels,
            probabilities=probs,
            image=array,
            inference_ms=elapsed,
        )


def _default_labels(count: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(count))


def _tensor_dict(tensor: Any) -> dict[str, Any]:
    quantization = None
    if tensor.scale is not None:
        quantization = {"scale": tensor.scale, "zero_point": tensor.zero_point}
    return {
        "name": tensor.name,
        "shape": list(tensor.shape),
        "dtype": tensor.dtype,
        "nbytes": int(np.prod(tensor.shape)) * np.dtype(tensor.dtype).itemsize
        if tensor.dtype in ("float32", "uint8", "int8", "float16", "int32") else None,
        "quantization": quantization,
    }


def _image_side(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """The (height, width) of an image input ``[1, H, W, C]``, ``[1, H, W]`` or ``[1, H*W]``."""
    if len(shape) in (3, 4) and shape[0] == 1:
        if len(shape) == 4 and shape[3] not in (1, 3):
            return None
        return int(shape[1]), int(shape[2])
    if len(shape) == 2 and shape[0] == 1:
        side = math.isqrt(int(shape[1]))
        return (side, side) if side * side == shape[1] else None
    return None


class LiteRTClassifier(Classifier):
    """A ``.tflite`` file run by LiteRT (``ai_edge_litert``), fed as its metadata says.

    The input is built exactly as :func:`~kerasdigits.export.verify_tflite` builds it (the
    same code), from what the file says about itself: its input shape (``[1, 28, 28, 3]``
    RGB for ML Kit, ``[1, 28, 28, 1]`` or ``[1, 784]``), dtype (``uint8`` raw pixels, ``int8``
    quantized, or ``float32`` ``(pixel - mean) / std`` with the normalization from the export
    record or the ``NormalizationOptions`` metadata) and inversion (an export made with
    ``invert=True`` inverts in its graph, so it is fed dark ink on light paper). Quantized
    outputs are dequantized. The labels come from the metadata's ``labels.txt``, else the export
    record, else ``0..N-1``.

    Args:
        path: The ``.tflite`` file.

    Raises:
        ModelLoadError: The file is missing, is not a TFLite model, LiteRT cannot load it, or
            it does not take one 28x28 image.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from kerasdigits.export import ExportError, read_metadata
        from kerasdigits.export._pack import METADATA_NAME, summarize_model
        from kerasdigits.export._verify import export_record, feeding_for, make_interpreter

        file = Path(path)
        if not file.is_file():
            raise ModelLoadError(f"{file}: no such file")
        self.path = file
        self.data = file.read_bytes()
        try:
            summary = summarize_model(self.data)
            self.feeding = feeding_for(self.data, summary)
            self.metadata = (read_metadata(file) if METADATA_NAME in summary.entries
                             else None)
            make_interpreter(self.data)  # fails now rather than in the first request
        except ExportError as exc:
            raise ModelLoadError(f"{file}: {exc}") from None
        self._make_interpreter = make_interpreter
        self.summary = summary
        self.record = export_record(self.data)
        side = _image_side(self.feeding.shape)
        if side != (IMAGE_SIZE, IMAGE_SIZE):
            raise ModelLoadError(
                f"{file}: the page feeds {IMAGE_SIZE}x{IMAGE_SIZE} images, but the model's "
                f"input is {self.feeding.dtype} {list(self.feeding.shape)}")
        if len(summary.outputs) != 1:
            raise ModelLoadError(f"{file}: expected one output tensor, found "
                                 f"{len(summary.outputs)}")
        classes = int(np.prod(summary.outputs[0].shape))
        labels: tuple[str, ...] = ()
        if self.metadata is not None and self.metadata.labels:
            labels = tuple(self.metadata.labels)
        elif isinstance(self.record.get("labels"), list):
            labels = tuple(str(x) for x in self.record["labels"])
        self.labels = labels if len(labels) == classes else _default_labels(classes)
        self.name = file.name
        self.runtime = "LiteRT"
        self.runtime_version = _version("ai-edge-litert")
        self._local = threading.local()

    def _interpreter(self) -> tuple[Any, int, int, float, int]:
        """This thread's interpreter, with its input index and output index and quantization."""
        state = getattr(self._local, "state", None)
        if state is None:
            interpreter = self._make_interpreter(self.data, num_threads=1)
            output = interpreter.get_output_details()[0]
            scale, zero_point = output["quantization"]
            state = (interpreter, interpreter.get_input_details()[0]["index"],
                     output["index"], float(scale), int(zero_point))
            self._local.state = state
        return state

    def probabilities(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Run the file on one image: fed as its metadata says, one interpreter per thread.

        Args:
            image: ``uint8 (28, 28)``, bright ink on black.

        Returns:
            ``float32 (num_classes,)`` probabilities (dequantized if the output is quantized).
        """
        interpreter, input_index, output_index, scale, zero_point = self._interpreter()
        interpreter.set_tensor(input_index, self.feeding(image))
        interpreter.invoke()
        y = np.array(interpreter.get_tensor(output_index)).reshape(-1)
        if scale:
            y = (y.astype(np.float32) - zero_point) * np.float32(scale)
        return _to_probabilities(y.astype(np.float32))

    def describe(self) -> dict[str, Any]:
        """Return the file's I/O tensors, feeding, metadata, export record, labels and size."""
        feeding = self.feeding
        layout = ("rgb" if len(feeding.shape) == 4 and feeding.shape[-1] == 3
                  else "flat" if len(feeding.shape) == 2 else "gray")
        meta = None
        if self.metadata is not None:
            m = self.metadata
            meta = {
                "name": m.name,
                "description": m.description,
                "version": m.version,
                "author": m.author,
                "license": m.license,
                "inputs": [_meta_tensor(t) for t in m.inputs],
                "outputs": [_meta_tensor(t) for t in m.outputs],
                "files": sorted(m.files),
            }
        quantization = self.record.get("quantization") if self.record else None
        if not self.record:
            ops = self.summary.ops
            quantization = "unknown (quantized ops)" if any(
                op in ops for op in ("QUANTIZE", "DEQUANTIZE")) else None
        return {
            "file": self.name,
            "format": "tflite",
            "size_bytes": len(self.data),
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "labels": list(self.labels),
            "inputs": [_tensor_dict(t) for t in self.summary.inputs],
            "outputs": [_tensor_dict(t) for t in self.summary.outputs],
            "quantization": quantization,
            "feeding": {
                "layout": layout,
                "dtype": feeding.dtype,
                "mean": feeding.mean if feeding.dtype == "float32" else None,
                "std": feeding.std if feeding.dtype == "float32" else None,
                "invert": feeding.invert,
            },
            "operators": dict(self.summary.ops),
            "metadata": meta,
            "export": self.record or None,
        }


def _meta_tensor(t: Any) -> dict[str, Any]:
    return {
        "name": t.name,
        "description": t.description,
        "content": t.content,
        "color_space": t.color_space,
        "image_size": list(t.image_size) if t.image_size else None,
        "mean": list(t.mean),
        "std": list(t.std),
    }


class KerasClassifier(Classifier):
    """A Keras model, run with :func:`kerasdigits.predict` (its traced, cached function).

    Args:
        model: A Keras model, or the path of a ``.keras`` file (loaded with
            :func:`kerasdigits.load_model`).
        name: What the page shows as the model (default: the file name, or the model's name).

    Raises:
        ModelLoadError: The file is missing or cannot be loaded, or the model does not take
            28x28 images.
    """

    def __init__(self, model: Any, *, name: str | None = None) -> None:
        from kerasdigits.training import get_class_names, load_model, predict
        from kerasdigits.training._feeding import model_input_spec

        self.path: Path | None = None
        if isinstance(model, (str, os.PathLike)):
            file = Path(model)
            if not file.is_file():
                raise ModelLoadError(f"{file}: no such file")
            try:
                model = load_model(file, compile=False)
            except (KerasDigitsError, ValueError, OSError) as exc:
                raise ModelLoadError(f"{file}: cannot load the model: {exc}") from None
            self.path = file
        self.model = model
        self._predict = predict
        try:
            shape, dtype = model_input_spec(model)
        except ValueError as exc:
            raise ModelLoadError(str(exc)) from None
        if int(np.prod(shape)) != IMAGE_SIZE * IMAGE_SIZE:
            raise ModelLoadError(f"model {model.name!r} takes {list(shape)} inputs; the page "
                                 f"feeds {IMAGE_SIZE}x{IMAGE_SIZE} images")
        self.input_shape, self.input_dtype = shape, dtype
        # The first call traces the model: do it now, not in the first request.
        probs = self.probabilities(np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8))
        names = get_class_names(model)
        self.labels = tuple(names) if names and len(names) == len(probs) else _default_labels(
            len(probs))
        self.name = name or (self.path.name if self.path is not None else str(model.name))
        self.runtime = "Keras"
        self.runtime_version = _version("keras")

    def probabilities(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Run :func:`kerasdigits.predict` on one image.

        Args:
            image: ``uint8 (28, 28)``, bright ink on black.

        Returns:
            ``float32 (num_classes,)`` probabilities.
        """
        _, probs = self._predict(self.model, image)
        return _to_probabilities(np.asarray(probs, dtype=np.float32).reshape(-1))

    def describe(self) -> dict[str, Any]:
        """Return the model's name, input and output, parameter count and labels."""
        size = self.path.stat().st_size if self.path is not None else None
        return {
            "file": self.name,
            "format": "keras",
            "size_bytes": size,
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "labels": list(self.labels),
            "inputs": [{"name": "image", "shape": [None, *self.input_shape],
                        "dtype": self.input_dtype, "nbytes": None, "quantization": None}],
            "outputs": [{"name": "probabilities", "shape": [None, len(self.labels)],
                         "dtype": "float32", "nbytes": None, "quantization": None}],
            "quantization": None,
            "feeding": {"layout": "kerasdigits.predict", "dtype": "uint8", "mean": None,
                        "std": None, "invert": False},
            "parameters": int(self.model.count_params()),
            "metadata": None,
            "export": None,
        }


def load_classifier(model: Any) -> Classifier:
    """Return the :class:`Classifier` for a model file or object.

    Args:
        model: A ``.tflite`` file (run by LiteRT, without TensorFlow), a ``.keras`` file, a
            Keras model, an :class:`~kerasdigits.export.ExportResult` (its file), or a
            :class:`Classifier` (returned as it is).

    Returns:
        A :class:`LiteRTClassifier` or a :class:`KerasClassifier`.

    Raises:
        ModelLoadError: The file is missing, not a model, or does not take 28x28 images.
    """
    if isinstance(model, Classifier):
        return model
    path = getattr(model, "path", None)
    if isinstance(path, Path) and hasattr(model, "verification"):  # an ExportResult
        model = path
    if isinstance(model, (str, os.PathLike)):
        file = Path(model)
        if file.suffix.lower() == ".tflite":
            return LiteRTClassifier(file)
        if file.suffix.lower() in (".keras", ".h5"):
            return KerasClassifier(file)
        if file.is_file():
            with file.open("rb") as stream:
                if stream.read(8)[4:8] == b"TFL3":
                    return LiteRTClassifier(file)
        raise ModelLoadError(f"{file}: expected a .tflite or .keras model file")
    if hasattr(model, "inputs") and hasattr(model, "predict"):
        return KerasClassifier(model)
    raise ModelLoadError(f"cannot serve a {type(model).__name__}: pass a .tflite or .keras "
                         "file, or a Keras model")
